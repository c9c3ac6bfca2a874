#!/usr/bin/env node
// Compile Anchor.sol with the pinned solcjs into Anchor.json (abi, bytecode,
// deployedBytecode, compiler version, the exact settings used).
//
//   node contracts/compile.js            write contracts/Anchor.json
//   node contracts/compile.js --check    recompile; exit 1 unless byte-identical
//                                        to the committed contracts/Anchor.json
//   node contracts/compile.js --out F    write to F instead
//
// The settings pin everything that changes the bytes (EVM version, optimizer,
// no metadata hash), so every compile on every machine gives the same artefact.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const PINNED_SOLC = "0.8.37";
const SOURCE_NAME = "Anchor.sol";
const CONTRACT_NAME = "Anchor";
const HERE = __dirname;
const DEFAULT_OUT = path.join(HERE, "Anchor.json");

const SETTINGS = {
  evmVersion: "shanghai",
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: "none" },
  outputSelection: {
    [SOURCE_NAME]: { [CONTRACT_NAME]: ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
  },
};

function fail(message) {
  process.stderr.write(`compile.js: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = { check: false, out: DEFAULT_OUT };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--check") args.check = true;
    else if (argv[i] === "--out" && i + 1 < argv.length) args.out = path.resolve(argv[(i += 1)]);
    else fail(`unknown argument ${JSON.stringify(argv[i])}; use --check or --out FILE`);
  }
  return args;
}

function loadSolc() {
  let solc;
  try {
    solc = require("solc");
  } catch (err) {
    fail(`solc is not installed (${err.code}); run: npm ci --prefix contracts`);
  }
  const version = solc.version();
  if (!version.startsWith(`${PINNED_SOLC}+`)) {
    fail(`solc ${version} found, ${PINNED_SOLC} pinned; run: npm ci --prefix contracts`);
  }
  return solc;
}

function compile() {
  const solc = loadSolc();
  const source = fs.readFileSync(path.join(HERE, SOURCE_NAME), "utf8");
  const input = { language: "Solidity", sources: { [SOURCE_NAME]: { content: source } }, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = output.errors || [];
  if (problems.length > 0) {
    // Warnings count too: the contract is small enough to keep spotless.
    fail(`solc reported:\n${problems.map((e) => e.formattedMessage).join("\n")}`);
  }
  const contract = output.contracts[SOURCE_NAME][CONTRACT_NAME];
  const artefact = {
    contractName: CONTRACT_NAME,
    sourceName: SOURCE_NAME,
    sourceSha256: crypto.createHash("sha256").update(source, "utf8").digest("hex"),
    compiler: { name: "solc", version: solc.version() },
    settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer, metadata: SETTINGS.metadata },
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
  };
  return `${JSON.stringify(artefact, null, 2)}\n`;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const text = compile();
  if (args.check) {
    let committed;
    try {
      committed = fs.readFileSync(args.out, "utf8");
    } catch (err) {
      fail(`cannot read ${args.out} (${err.code}); run: node contracts/compile.js`);
    }
    if (committed !== text) {
      fail(`${args.out} differs from a fresh compile of ${SOURCE_NAME}; run: node contracts/compile.js`);
    }
    process.stdout.write(`${path.basename(args.out)} matches a fresh compile\n`);
    return;
  }
  fs.writeFileSync(args.out, text);
  process.stdout.write(`wrote ${args.out}\n`);
}

main();
