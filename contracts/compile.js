#!/usr/bin/env node
// Compile the Tilework contracts with solc-js (standard JSON) and write one ABI+bytecode JSON per
// contract. Usage: node compile.js [outDir]   (default: ../marketplace/contracts_build)
//
// The output is committed so the Python package needs no Node. It is deterministic: the same
// sources, solc and OpenZeppelin versions give byte-identical files (tests/escrow checks this).
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const HERE = __dirname;
const OUT_DIR = path.resolve(process.argv[2] || path.join(HERE, "..", "marketplace", "contracts_build"));
const EVM_VERSION = "prague"; // py-evm (the embedded chain) stops at Prague
const OPTIMIZER_RUNS = 200;

// Source unit name -> contract names to export.
const TARGETS = {
  "src/TileworkEscrow.sol": ["TileworkEscrow"],
  "src/TestToken.sol": ["TestToken"],
  "src/test/FeeToken.sol": ["FeeToken"],
  "src/test/QuirkyToken.sol": ["QuirkyToken"],
};

function findImport(importPath) {
  const candidates = [path.join(HERE, importPath), path.join(HERE, "node_modules", importPath)];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `File not found: ${importPath}` };
}

function main() {
  const sources = {};
  for (const unit of Object.keys(TARGETS)) {
    sources[unit] = { content: fs.readFileSync(path.join(HERE, unit), "utf8") };
  }
  const input = {
    language: "Solidity",
    sources,
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const diag of output.errors || []) {
    // Warnings raised inside OpenZeppelin (e.g. the transient-storage notice) are not ours to fix.
    const file = (diag.sourceLocation && diag.sourceLocation.file) || "";
    if (diag.severity !== "error" && file.startsWith("@openzeppelin/")) continue;
    process.stderr.write(diag.formattedMessage + "\n");
  }
  if (errors.length) {
    process.exit(1);
  }

  fs.mkdirSync(OUT_DIR, { recursive: true });
  const ozVersion = require("@openzeppelin/contracts/package.json").version;
  for (const [unit, names] of Object.entries(TARGETS)) {
    for (const name of names) {
      const contract = output.contracts[unit][name];
      const artifact = {
        contractName: name,
        sourceName: unit,
        compiler: {
          solc: solc.version(),
          openzeppelin: ozVersion,
          evmVersion: EVM_VERSION,
          optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
        },
        abi: contract.abi,
        bytecode: "0x" + contract.evm.bytecode.object,
        deployedBytecode: "0x" + contract.evm.deployedBytecode.object,
      };
      const file = path.join(OUT_DIR, `${name}.json`);
      fs.writeFileSync(file, JSON.stringify(artifact, null, 2) + "\n");
      const size = contract.evm.deployedBytecode.object.length / 2;
      process.stdout.write(`${path.relative(process.cwd(), file)}  (${size} bytes runtime)\n`);
    }
  }
}

main();
