// Build the verification page into ONE self-contained file, reproducibly:
//
//   node web/verify/build.mjs            # writes web/dist/verify.html and verify.html.sha256
//   node web/verify/build.mjs --check    # exit 1 unless a fresh build equals the files on disk
//   node web/verify/build.mjs --library OUT.js   # src/verify.js alone as a script defining
//                                                # the global EvVerify (for tests in a browser)
//
// esbuild (pinned in package-lock.json) bundles src/ui.js with the audited libraries into one
// script; the script and style.css are inlined into index.html, with a Content-Security-Policy
// that allows exactly those two inline elements (by their SHA-256) and loads nothing from
// anywhere. No timestamps, no absolute paths, no randomness: two builds are byte-identical, so
// the SHA-256 printed (and written to verify.html.sha256) is the page's integrity hash.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const OUT_DIR = join(ROOT, "web", "dist");
const OUT = join(OUT_DIR, "verify.html");

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
  // esbuild escapes "</script" in strings; make sure nothing in the script or the style can
  // close its element early.
  const script = result.outputFiles[0].text.replace(/<\/(script)/gi, "<\\/$1").trimEnd();
  const style = readFileSync(join(HERE, "style.css"), "utf8").replace(/<\/(style)/gi, "<\\/$1").trimEnd();
  const csp = [
    "default-src 'none'",
    `script-src ${cspHash(script)}`,
    `style-src ${cspHash(style)}`,
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "connect-src 'self' https: http:",
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

const library = process.argv.indexOf("--library");
if (library >= 0) {
  await esbuild.build({
    entryPoints: [join(HERE, "src", "verify.js")],
    bundle: true,
    format: "iife",
    globalName: "EvVerify",
    platform: "browser",
    outfile: process.argv[library + 1],
    absWorkingDir: ROOT,
    logLevel: "warning",
  });
  process.exit(0);
}

const { html, ms } = await build();
const digest = sha256(html).toString("hex");
const line = `${digest}  verify.html\n`;
if (process.argv.includes("--check")) {
  let onDisk = null;
  try {
    onDisk = readFileSync(OUT);
  } catch {
    // missing
  }
  if (onDisk === null || !onDisk.equals(html)) {
    console.error(`${relative(ROOT, OUT)} is stale or missing: run node web/verify/build.mjs`);
    process.exit(1);
  }
  console.log(`${relative(ROOT, OUT)} is up to date: sha256 ${digest}`);
} else {
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(OUT, html);
  writeFileSync(`${OUT}.sha256`, line);
  console.log(
    `${relative(ROOT, OUT)}: ${html.length.toLocaleString("en")} bytes, sha256 ${digest} ` +
      `(built in ${Math.round(ms)} ms)`,
  );
}
