// Build the verification page into ONE self-contained file, reproducibly (web/page.mjs):
//
//   node web/verify/build.mjs            # writes web/dist/verify.html and verify.html.sha256
//   node web/verify/build.mjs --check    # exit 1 unless a fresh build equals the files on disk
//   node web/verify/build.mjs --library OUT.js   # src/verify.js alone as a script defining
//                                                # the global EvVerify (for tests in a browser)
//
// It may read a camera (the QR code) and ask the Ethereum node the visitor names (any URL).

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { ROOT, buildPage } from "../page.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));

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
} else {
  await buildPage(HERE, "verify.html", [
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "connect-src 'self' https: http:",
  ]);
}
