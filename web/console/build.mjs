// Build the QA console into ONE self-contained file, reproducibly, as the verification page
// (web/page.mjs does both):
//
//   node web/console/build.mjs            # writes web/dist/console.html and console.html.sha256
//   node web/console/build.mjs --check    # exit 1 unless a fresh build equals the file on disk
//
// Its libraries: @noble/hashes, @noble/curves, @noble/ciphers, canonicalize. It connects to the
// serving origin only.

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { buildPage } from "../page.mjs";

await buildPage(dirname(fileURLToPath(import.meta.url)), "console.html", [
  "img-src 'self' data: blob:",
  "connect-src 'self'",
]);
