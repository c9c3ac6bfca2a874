#!/usr/bin/env node
// Compile cocred's contracts with the pinned solcjs into their committed artefacts
// (abi, bytecode, deployedBytecode, compiler version, the exact settings used).
//
//   node contracts/compile.js                 write every committed artefact
//                                             (Anchor.json, Distributor.json, TestToken.json)
//   node contracts/compile.js --check         recompile; exit 1 unless each is byte-identical
//                                             to the committed file
//   node contracts/compile.js --contract NAME only that contract (one of TARGETS below)
//   node contracts/compile.js --contract NAME --out F   write it to F instead
//
// The settings pin everything that changes the bytes (EVM version, optimizer, no
// metadata hash), so every compile on every machine gives the same artefact.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const PINNED_SOLC = "0.8.37";
// Where the deployed code holds immutables (filled in at deployment), so an adapter can
// compare the code at an address with the artefact everywhere else.
const IMMUTABLES = "evm.deployedBytecode.immutableReferences";
const HERE = __dirname;

// name -> where its source is, how hard to optimise, and whether its artefact is committed.
// Distributor: 5,000 runs, because a claim runs once per member and deployment once.
// The vendored Uniswap distributor is compiled only by bench/claims.py, as upstream does
// (5,000 runs); its OpenZeppelin imports resolve from node_modules, and its warnings are
// not ours to fix.
const TARGETS = {
  Anchor: { source: "Anchor.sol", runs: 200, committed: true },
  Distributor: { source: "Distributor.sol", runs: 5000, committed: true },
  TestToken: { source: "TestToken.sol", runs: 200, committed: true },
  UniswapMerkleDistributor: {
    source: "vendor/uniswap-merkle-distributor/MerkleDistributor.sol",
    contract: "MerkleDistributor",
    runs: 5000,
    committed: false,
    warningsAllowed: true,
  },
};

function fail(message) {
  process.stderr.write(`compile.js: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = { check: false, contract: null, out: null };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--check") args.check = true;
    else if (argv[i] === "--out" && i + 1 < argv.length) args.out = path.resolve(argv[(i += 1)]);
    else if (argv[i] === "--contract" && i + 1 < argv.length) args.contract = argv[(i += 1)];
    else fail(`unknown argument ${JSON.stringify(argv[i])}; use --check, --contract NAME, --out FILE`);
  }
  if (args.contract !== null && !(args.contract in TARGETS)) {
    fail(`unknown contract ${JSON.stringify(args.contract)}; one of ${Object.keys(TARGETS).join(", ")}`);
  }
  if (args.out !== null && args.contract === null) fail("--out needs --contract NAME");
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

// Imports: paths under contracts/ first, then packages in contracts/node_modules.
function findImport(name) {
  for (const base of [HERE, path.join(HERE, "node_modules")]) {
    const file = path.join(base, name);
    if (file.startsWith(base + path.sep) && fs.existsSync(file)) {
      return { contents: fs.readFileSync(file, "utf8") };
    }
  }
  return { error: `not found: ${name}` };
}

function compile(solc, name) {
  const target = TARGETS[name];
  const contractName = target.contract || name;
  const settings = {
    evmVersion: "shanghai",
    optimizer: { enabled: true, runs: target.runs },
    metadata: { bytecodeHash: "none" },
  };
  const source = fs.readFileSync(path.join(HERE, target.source), "utf8");
  const input = {
    language: "Solidity",
    sources: { [target.source]: { content: source } },
    settings: {
      ...settings,
      outputSelection: {
        [target.source]: { [contractName]: ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", IMMUTABLES] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const problems = (output.errors || []).filter((e) => e.severity === "error" || !target.warningsAllowed);
  if (problems.length > 0) {
    // Warnings count too: cocred's own contracts are small enough to keep spotless.
    fail(`solc reported on ${target.source}:\n${problems.map((e) => e.formattedMessage).join("\n")}`);
  }
  const contract = output.contracts[target.source][contractName];
  const artefact = {
    contractName,
    sourceName: target.source,
    sourceSha256: crypto.createHash("sha256").update(source, "utf8").digest("hex"),
    compiler: { name: "solc", version: solc.version() },
    settings,
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
  };
  const immutables = Object.values(contract.evm.deployedBytecode.immutableReferences || {}).flat();
  if (immutables.length > 0) {
    artefact.immutableRanges = immutables.map(({ start, length }) => [start, length]).sort((a, b) => a[0] - b[0]);
  }
  return `${JSON.stringify(artefact, null, 2)}\n`;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const solc = loadSolc();
  const names = args.contract ? [args.contract] : Object.keys(TARGETS).filter((n) => TARGETS[n].committed);
  for (const name of names) {
    const out = args.out || path.join(HERE, `${name}.json`);
    const text = compile(solc, name);
    if (args.check) {
      let committed;
      try {
        committed = fs.readFileSync(out, "utf8");
      } catch (err) {
        fail(`cannot read ${out} (${err.code}); run: node contracts/compile.js`);
      }
      if (committed !== text) {
        fail(`${out} differs from a fresh compile of ${TARGETS[name].source}; run: node contracts/compile.js`);
      }
      process.stdout.write(`${path.basename(out)} matches a fresh compile\n`);
    } else {
      fs.writeFileSync(out, text);
      process.stdout.write(`wrote ${out}\n`);
    }
  }
}

main();
