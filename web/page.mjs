// One self-contained HTML page, built reproducibly: what web/verify/build.mjs and
// web/console/build.mjs share.
//
// esbuild (pinned in package-lock.json) bundles the page's src/ui.js with its libraries into one
// script; the script and style.css are inlined into index.html with a Content-Security-Policy
// that allows exactly those two inline elements (by their SHA-256) and whatever else the page
// names (``csp``), and loads nothing from anywhere. No timestamps, no absolute paths, no
// randomness: two builds are byte-identical, so the SHA-256 printed (and written beside the
// page as NAME.sha256) is the page's integrity hash.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

export const ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..");
const OUT_DIR = join(ROOT, "web", "dist");

const sha256 = (data) => createHash("sha256").update(data).digest();
const cspHash = (text) => `'sha256-${sha256(Buffer.from(text, "utf8")).toString("base64")}'`;

/** The page in ``dir`` (index.html, style.css, src/ui.js) as bytes; ``csp``: the policy's
 * directives beyond default-src, script-src, style-src, base-uri and form-action. */
async function build(dir, csp) {
  const started = performance.now();
  const result = await esbuild.build({
    entryPoints: [join(dir, "src", "ui.js")],
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
  const style = readFileSync(join(dir, "style.css"), "utf8").replace(/<\/(style)/gi, "<\\/$1").trimEnd();
  const policy = [
    "default-src 'none'",
    `script-src ${cspHash(script)}`,
    `style-src ${cspHash(style)}`,
    ...csp,
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  let html = readFileSync(join(dir, "index.html"), "utf8");
  const replace = (from, to) => {
    if (!html.includes(from)) throw new Error(`index.html: expected ${from}`);
    html = html.replace(from, () => to);
  };
  replace("<!--CSP-->", `<meta http-equiv="Content-Security-Policy" content="${policy}">`);
  replace('<link rel="stylesheet" href="style.css">', `<style>${style}</style>`);
  replace('<script type="module" src="src/ui.js"></script>', `<script>${script}</script>`);
  return { html: Buffer.from(html, "utf8"), ms: performance.now() - started };
}

/**
 * Build the page in ``dir`` into web/dist/``name`` and its SHA-256 beside it, or with
 * ``--check`` among the process arguments exit 1 unless a fresh build equals the file on disk.
 */
export async function buildPage(dir, name, csp) {
  const out = join(OUT_DIR, name);
  const how = `node ${relative(ROOT, join(dir, "build.mjs"))}`;
  const { html, ms } = await build(dir, csp);
  const digest = sha256(html).toString("hex");
  if (process.argv.includes("--check")) {
    let onDisk = null;
    try {
      onDisk = readFileSync(out);
    } catch {
      // missing
    }
    if (onDisk === null || !onDisk.equals(html)) {
      console.error(`${relative(ROOT, out)} is stale or missing: run ${how}`);
      process.exit(1);
    }
    console.log(`${relative(ROOT, out)} is up to date: sha256 ${digest}`);
    return;
  }
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(out, html);
  writeFileSync(`${out}.sha256`, `${digest}  ${name}\n`);
  console.log(
    `${relative(ROOT, out)}: ${html.length.toLocaleString("en")} bytes, sha256 ${digest} ` +
      `(built in ${Math.round(ms)} ms)`,
  );
}
