#!/usr/bin/env node
// The independent side of the claim-tree cross-check: OpenZeppelin's own merkle-tree
// package (npm @openzeppelin/merkle-tree, pinned in contracts/package.json) builds each
// tree it reads on stdin and loads each tree cocred dumped, and prints what it finds.
//
//   stdin:  [{"entries": [[index, address, amount], ...], "dump": <ClaimTree.dump()>}, ...]
//           (index and amount as decimal strings)
//   stdout: [{"root": "0x…", "proofs": {"<index>": ["0x…", …]}, "loadedRoot": "0x…",
//             "verified": true}, ...]
"use strict";

const path = require("path");
const { StandardMerkleTree } = require(
  path.join(__dirname, "..", "..", "contracts", "node_modules", "@openzeppelin", "merkle-tree"),
);

const ENCODING = ["uint256", "address", "uint256"];
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const results = cases.map(({ entries, dump }) => {
  const tree = StandardMerkleTree.of(entries, ENCODING);
  const proofs = {};
  let verified = true;
  for (const [i, value] of tree.entries()) {
    const proof = tree.getProof(i);
    proofs[value[0]] = proof;
    verified = verified && StandardMerkleTree.verify(tree.root, ENCODING, value, proof);
  }
  const loaded = StandardMerkleTree.load(dump); // load() validates every node of the dump
  return { root: tree.root, proofs, loadedRoot: loaded.root, verified };
});
process.stdout.write(JSON.stringify(results));
