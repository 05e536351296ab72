// Compiles contracts/EvidenceAnchor.sol with the pinned npm solc (solcjs, no download) and writes
// contracts/EvidenceAnchor.json. Settings are fixed and the metadata hash is left out, so the
// artifact is byte-for-byte reproducible from the source.
//
//   node contracts/build.mjs           write the artifact
//   node contracts/build.mjs --check   exit 1 if the committed artifact differs from a fresh build

import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const CONTRACT = "EvidenceAnchor";
const here = dirname(fileURLToPath(import.meta.url));
const sourcePath = join(here, `${CONTRACT}.sol`);
const artifactPath = join(here, `${CONTRACT}.json`);
const sourceUnit = `contracts/${CONTRACT}.sol`;

const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  metadata: { bytecodeHash: "none", appendCBOR: false },
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
  },
};

function fail(message) {
  process.stderr.write(`build.mjs: ${message}\n`);
  process.exit(1);
}

function build() {
  const source = readFileSync(sourcePath);
  const input = {
    language: "Solidity",
    sources: { [sourceUnit]: { content: source.toString("utf8") } },
    settings,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const diagnostics = output.errors ?? [];
  const errors = diagnostics.filter((d) => d.severity === "error");
  for (const d of diagnostics.filter((d) => d.severity !== "error")) {
    process.stderr.write(d.formattedMessage ?? `${d.severity}: ${d.message}\n`);
  }
  if (errors.length > 0) {
    for (const e of errors) process.stderr.write(e.formattedMessage ?? `error: ${e.message}\n`);
    fail(`compilation of ${sourceUnit} failed with ${errors.length} error(s)`);
  }
  const compiled = output.contracts?.[sourceUnit]?.[CONTRACT];
  if (!compiled) fail(`no contract ${CONTRACT} in the compiler output`);
  const artifact = {
    contractName: CONTRACT,
    compiler: solc.version(),
    settings,
    sourceSha256: createHash("sha256").update(source).digest("hex"),
    abi: compiled.abi,
    bytecode: `0x${compiled.evm.bytecode.object}`,
    deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
  };
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--check");
if (unknown.length > 0) fail(`unknown argument(s): ${unknown.join(" ")} (usage: build.mjs [--check])`);

const fresh = build();
if (args.includes("--check")) {
  if (!existsSync(artifactPath)) fail(`${artifactPath} is missing; run: node contracts/build.mjs`);
  const committed = readFileSync(artifactPath, "utf8");
  if (committed !== fresh) {
    let detail = "";
    try {
      const a = JSON.parse(committed);
      const b = JSON.parse(fresh);
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
        (k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]),
      );
      detail = keys.length > 0 ? ` (differs in: ${keys.join(", ")})` : " (formatting differs)";
    } catch {
      detail = " (committed file is not valid JSON)";
    }
    fail(`${artifactPath} is out of date with ${sourceUnit}${detail}; run: node contracts/build.mjs`);
  }
  process.stdout.write(`${artifactPath} is up to date (${solc.version()})\n`);
} else {
  writeFileSync(artifactPath, fresh);
  process.stdout.write(`wrote ${artifactPath} (${solc.version()})\n`);
}
