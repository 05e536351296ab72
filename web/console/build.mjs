// Build the QA console into ONE self-contained file, reproducibly, as the verification page:
//
//   node web/console/build.mjs            # writes web/dist/console.html and console.html.sha256
//   node web/console/build.mjs --check    # exit 1 unless a fresh build equals the file on disk
//
// esbuild (pinned in package-lock.json) bundles src/ui.js with the audited libraries
// (@noble/hashes, @noble/curves, canonicalize) into one script; the script and style.css are
// inlined into index.html with a Content-Security-Policy that allows exactly those two inline
// elements (by SHA-256), connects to the serving origin only and loads nothing from anywhere.
// No timestamps, no absolute paths: two builds are byte-identical.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const OUT_DIR = join(ROOT, "web", "dist");
const OUT = join(OUT_DIR, "console.html");

const sha256 = (data) => createHash("sha256").update(data).digest();
const cspHash = (text) => `'sha256-${sha256(Buffer.from(text, "utf8")).toString("base64")}'`;

async function build() {
  const started = performance.now();
  const result = await esbuild.build({
    entryPoints: [join(HERE, "src", "ui.js")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: ["chrome111", "firefox113", "safari16.4"],
    minify: true,
    legalComments: "eof",
    charset: "utf8",
    sourcemap: false,
    absWorkingDir: ROOT,
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
  });
  const script = result.outputFiles[0].text.replace(/<\/(script)/gi, "<\\/$1").trimEnd();
  const style = readFileSync(join(HERE, "style.css"), "utf8").replace(/<\/(style)/gi, "<\\/$1").trimEnd();
  const csp = [
    "default-src 'none'",
    `script-src ${cspHash(script)}`,
    `style-src ${cspHash(style)}`,
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  let html = readFileSync(join(HERE, "index.html"), "utf8");
  const replace = (from, to) => {
    if (!html.includes(from)) throw new Error(`index.html: expected ${from}`);
    html = html.replace(from, () => to);
  };
  replace("<!--CSP-->", `<meta http-equiv="Content-Security-Policy" content="${csp}">`);
  replace('<link rel="stylesheet" href="style.css">', `<style>${style}</style>`);
  replace('<script type="module" src="src/ui.js"></script>', `<script>${script}</script>`);
  return { html: Buffer.from(html, "utf8"), ms: performance.now() - started };
}

const { html, ms } = await build();
const digest = sha256(html).toString("hex");
if (process.argv.includes("--check")) {
  let onDisk = null;
  try {
    onDisk = readFileSync(OUT);
  } catch {
    // missing
  }
  if (onDisk === null || !onDisk.equals(html)) {
    console.error(`${relative(ROOT, OUT)} is stale or missing: run node web/console/build.mjs`);
    process.exit(1);
  }
  console.log(`${relative(ROOT, OUT)} is up to date: sha256 ${digest}`);
} else {
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(OUT, html);
  writeFileSync(`${OUT}.sha256`, `${digest}  console.html\n`);
  console.log(
    `${relative(ROOT, OUT)}: ${html.length.toLocaleString("en")} bytes, sha256 ${digest} ` +
      `(built in ${Math.round(ms)} ms)`,
  );
}
