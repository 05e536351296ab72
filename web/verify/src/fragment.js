// The URL fragment that carries a receipt (and optionally its record) to the page, so a link
// or a QR code verifies without any server: browsers never send the fragment anywhere.
//
//   #r=<base64url of the receipt JSON>            plain (RFC 4648 section 5, no padding)
//   #rz=<base64url of deflate-raw(receipt JSON)>  compressed (RFC 1951), for QR codes
//   &d=<...> / &dz=<...>                          the record, the same two ways
//
// Parameters are separated by "&"; unknown ones are ignored; each of r/rz and d/dz at most
// once. Inflated data is capped (MAX_FRAGMENT_BYTES) so a small fragment cannot expand into
// gigabytes. A trust file never comes from a fragment: whoever made the link chose it.

import { b64urlDecode, b64urlEncode } from "./bytes.js";
import { CannotCheckError } from "./errors.js";

export const MAX_FRAGMENT_BYTES = 256 * 1024;

/** {receipt: Uint8Array|null, record: Uint8Array|null} from a location.hash ("#r=..."). */
export async function parseFragment(hash) {
  const text = hash.startsWith("#") ? hash.slice(1) : hash;
  const params = new Map();
  for (const part of text.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!["r", "rz", "d", "dz"].includes(key)) continue;
    if (params.has(key)) throw new CannotCheckError(`link: parameter ${key} given twice`);
    params.set(key, eq < 0 ? "" : part.slice(eq + 1));
  }
  const one = async (plain, packed, what) => {
    if (params.has(plain) && params.has(packed)) {
      throw new CannotCheckError(`link: ${what} given twice (${plain} and ${packed})`);
    }
    const key = params.has(plain) ? plain : params.has(packed) ? packed : null;
    if (key === null) return null;
    const bytes = b64urlDecode(params.get(key));
    if (bytes === null) throw new CannotCheckError(`link: ${what} (${key}) is not base64url`);
    if (key === plain) {
      if (bytes.length > MAX_FRAGMENT_BYTES) {
        throw new CannotCheckError(`link: ${what} larger than ${MAX_FRAGMENT_BYTES} bytes`);
      }
      return bytes;
    }
    return inflateRaw(bytes, what);
  };
  return { receipt: await one("r", "rz", "receipt"), record: await one("d", "dz", "record") };
}

/** deflate-raw decompression through the platform's DecompressionStream, capped. */
export async function inflateRaw(bytes, what = "data") {
  if (typeof DecompressionStream === "undefined") {
    throw new CannotCheckError(`link: this browser cannot decompress the ${what} (no DecompressionStream)`);
  }
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  const reader = stream.getReader();
  const chunks = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > MAX_FRAGMENT_BYTES) {
        await reader.cancel();
        throw new CannotCheckError(`link: ${what} inflates to more than ${MAX_FRAGMENT_BYTES} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof CannotCheckError) throw err;
    throw new CannotCheckError(`link: ${what} is not deflate-raw data: ${err.message}`);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function deflateRaw(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The fragment for a receipt (and record), compressed when that is shorter. */
export async function makeFragment(receiptBytes, recordBytes = null) {
  const part = async (bytes, plain, packed) => {
    const a = b64urlEncode(bytes);
    if (typeof CompressionStream === "undefined") return `${plain}=${a}`;
    const b = b64urlEncode(await deflateRaw(bytes));
    return b.length < a.length ? `${packed}=${b}` : `${plain}=${a}`;
  };
  let out = "#" + (await part(receiptBytes, "r", "rz"));
  if (recordBytes !== null) out += "&" + (await part(recordBytes, "d", "dz"));
  return out;
}
