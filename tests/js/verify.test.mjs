// The page's verifier beyond the shared vectors: the strict JSON reader, RLP refusals (as
// tests/unit/test_evm.py), the page's own modes (no trust file, the URL fragment) and the
// on-chain step against a scripted node (as tests/unit/test_multichain_receipt.py does).
//
//   node --test tests/js/

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { b64urlEncode, fromHex, toHex, utf8 } from "../../web/verify/src/bytes.js";
import { rlpDecode } from "../../web/verify/src/evm.js";
import { ANCHORED_TOPIC } from "../../web/verify/src/evm.js";
import { FormatError } from "../../web/verify/src/errors.js";
import { loads } from "../../web/verify/src/strictjson.js";
import {
  MAX_FRAGMENT_BYTES,
  makeFragment,
  parseFragment,
  verifyReceiptInput,
} from "../../web/verify/src/verify.js";

const DATA = JSON.parse(readFileSync(new URL("../vectors/receipts/receipts.json", import.meta.url), "utf8"));
const vector = (name) => DATA.vectors.find((v) => v.name === name);
const GOOD = vector("valid/signer-grant-proven");

// -- strict JSON ---------------------------------------------------------------------------

test("strict JSON keeps integers exact and apart from floats", () => {
  const v = loads('{"a": 5, "b": 5.0, "c": 123456789012345678901234567890, "d": -0}');
  assert.equal(v.a, 5n);
  assert.equal(v.b, 5);
  assert.equal(v.c, 123456789012345678901234567890n);
  assert.equal(v.d, 0n);
});

test("strict JSON: __proto__ is an ordinary key", () => {
  const v = loads('{"__proto__": {"polluted": true}}');
  assert.equal(Object.getPrototypeOf(v), null);
  assert.equal(v.__proto__.polluted, true);
  assert.equal({}.polluted, undefined);
});

for (const [name, input, message] of [
  ["duplicate key", '{"a": 1, "a": 1}', /duplicate key 'a'/],
  ["NaN", "[NaN]", /expected a finite number, got NaN/],
  ["-Infinity", "[-Infinity]", /got -Infinity/],
  ["too deep", "[".repeat(33) + "]".repeat(33), /nested at most 32 levels/],
  ["not too deep", "[".repeat(32) + "]".repeat(32), null],
  ["leading zero", "[01]", /not valid JSON/],
  ["control character", '["a\u0001"]', /Invalid control character/],
  ["bad escape", '["\\x41"]', /Invalid \\escape/],
  ["trailing comma", "[1,]", /not valid JSON/],
  ["trailing data", "{} {}", /Extra data/],
  ["single quotes", "{'a': 1}", /Expecting property name/],
  ["empty", "", /got nothing/],
  ["NUL", "[1]\u0000", /NUL/],
]) {
  test(`strict JSON: ${name}`, () => {
    if (message === null) loads(input);
    else assert.throws(() => loads(input), (e) => e instanceof FormatError && message.test(e.message));
  });
}

test("strict JSON: bytes that are not UTF-8 name their offset; a BOM is dropped", () => {
  assert.throws(() => loads(Uint8Array.of(0x5b, 0x22, 0xc3, 0x28, 0x22, 0x5d)), /got byte 0xc3 at offset 2/);
  assert.deepEqual(loads(Uint8Array.of(0xef, 0xbb, 0xbf, 0x5b, 0x5d)), []);
});

// -- RLP, as tests/unit/test_evm.py refuses it ---------------------------------------------------

/** A well-formed RLP list nested ``depth`` deep (short lists: 0xc0 + length). */
function deepList(depth) {
  let item = "c0";
  for (let i = 0; i < depth; i++) item = (0xc0 + item.length / 2).toString(16) + item;
  return item;
}

for (const [hex, message] of [
  ["", /truncated/],
  ["8105", /./], // a single byte below 0x80 not encoded as itself
  ["b80568656c6c6f", /./], // long form for a short string
  ["b90040" + "78".repeat(64), /./], // length with a leading zero
  ["85616263", /./], // runs past the end
  ["c30102", /./],
  ["0102", /./], // trailing bytes
  ["c1".repeat(40) + "c0", /./], // malformed and deep
  [deepList(20), /nested too deep/],
  ["f805" + "01".repeat(5), /./], // long form for a short list
]) {
  test(`rlp refuses ${hex.slice(0, 16) || "nothing"}`, () => {
    assert.throws(() => rlpDecode(fromHex(hex)), message);
  });
}

// -- the page's modes ----------------------------------------------------------------------------

const bytes = (file) => utf8(file.text);

test("without a trust file: the key-free checks run, the rest could not be checked", async () => {
  const out = await verifyReceiptInput({ receipt: bytes(GOOD.receipt), record: bytes(GOOD.record) });
  assert.equal(out.exit, 2);
  const by = Object.fromEntries(out.report.checks.map((c) => [c.name, c]));
  for (const name of ["format", "record", "leaf", "inclusion"]) assert.ok(by[name].ok, name);
  for (const name of ["signature", "signer", "checkpoint", "anchors required"]) {
    assert.ok(!by[name].ok && by[name].unchecked, name);
  }
  assert.match(out.error, /no trust file/);
});

test("without a trust file, a changed record still fails (exit 1)", async () => {
  const record = GOOD.record.text.replace("3.01", "3.02");
  const out = await verifyReceiptInput({ receipt: bytes(GOOD.receipt), record: utf8(record) });
  assert.equal(out.exit, 1);
});

test("the signer check gives the page the proven name, roles, meaning and time", async () => {
  const out = await verifyReceiptInput({
    receipt: bytes(GOOD.receipt), trust: bytes(GOOD.trust), record: bytes(GOOD.record),
  });
  assert.equal(out.exit, 0);
  assert.deepEqual(
    { ...out.report.signer, signedAt: String(out.report.signer.signedAt) },
    {
      name: "Ivy Inspector",
      roles: ["qa_inspector"],
      address: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
      meaning: "authored",
      signedAt: "1700000000",
      time: "2023-11-14T22:13:20Z",
      grantRecordId: "signer-0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc",
      grantLeafIndex: 2n,
      grantedBy: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    },
  );
});

test("a fragment round-trips, compressed when shorter, and is much shorter than plain", async () => {
  const receipt = bytes(GOOD.receipt);
  const record = bytes(GOOD.record);
  const fragment = await makeFragment(receipt, record);
  assert.match(fragment, /^#rz=[A-Za-z0-9_-]+&dz?=[A-Za-z0-9_-]+$/);
  const back = await parseFragment(fragment);
  assert.deepEqual(back.receipt, receipt);
  assert.deepEqual(back.record, record);
  assert.ok(fragment.length < b64urlEncode(receipt).length * 0.8, `${fragment.length}`);
});

test("a fragment that inflates beyond the cap is refused, not inflated", async () => {
  const zeros = new Uint8Array(MAX_FRAGMENT_BYTES + 1);
  const packed = new Uint8Array(
    await new Response(new Blob([zeros]).stream().pipeThrough(new CompressionStream("deflate-raw"))).arrayBuffer(),
  );
  await assert.rejects(parseFragment(`#rz=${b64urlEncode(packed)}`), /inflates to more than/);
});

for (const [fragment, message] of [
  ["#r=***", /not base64url/],
  ["#rz=AAAA", /not deflate-raw/],
  ["#r=e30&r=e30", /given twice/],
  ["#r=e30&rz=e30", /given twice/],
]) {
  test(`a bad fragment is refused: ${fragment}`, async () => {
    await assert.rejects(parseFragment(fragment), message);
  });
}

test("a fragment without a receipt gives nothing; unknown parameters are ignored", async () => {
  assert.deepEqual(await parseFragment("#x=1&t=2"), { receipt: null, record: null });
});

// -- on chain, against a scripted node --------------------------------------------------------

function scriptedNode(receiptJson, { chainId = 31337, root = null, status = "0x1", down = false } = {}) {
  const a = receiptJson.anchors[0];
  const calls = [];
  const fetch = async (url, init) => {
    if (down) throw new TypeError("fetch failed");
    const { id, method, params } = JSON.parse(init.body);
    calls.push(method);
    let result;
    if (method === "eth_chainId") result = "0x" + chainId.toString(16);
    else if (method === "eth_call") result = "0x" + (root ?? a.root_hash);
    else if (method === "eth_getTransactionReceipt") {
      result = {
        status, blockNumber: "0x" + a.block_number.toString(16), blockHash: a.block_hash,
        logs: [{
          logIndex: "0x" + a.log_index.toString(16), address: a.contract,
          topics: ["0x" + toHex(ANCHORED_TOPIC), "0x" + a.tree_size.toString(16).padStart(64, "0")],
          data: "0x" + a.root_hash + "00".repeat(64),
        }],
      };
    } else if (method === "eth_getBlockByNumber") result = { hash: a.block_hash };
    return new Response(JSON.stringify({ jsonrpc: "2.0", id, result }));
  };
  return { fetch, calls };
}

async function onChain(options) {
  const receiptJson = JSON.parse(GOOD.receipt.text);
  const node = scriptedNode(receiptJson, options);
  const out = await verifyReceiptInput({
    receipt: bytes(GOOD.receipt), trust: bytes(GOOD.trust), rpc: ["http://node.test"], fetch: node.fetch,
  });
  return { out, calls: node.calls, by: Object.fromEntries(out.report?.checks.map((c) => [c.name, c]) ?? []) };
}

test("a node that holds the root and the anchor confirms it", async () => {
  const { out, calls, by } = await onChain({});
  assert.equal(out.exit, 0, JSON.stringify(out.report.toJson()));
  assert.deepEqual(calls, ["eth_chainId", "eth_call", "eth_getTransactionReceipt", "eth_getBlockByNumber"]);
  assert.ok(by["chain root (chain 31337)"].ok && by["anchor transaction (chain 31337)"].ok);
  assert.match(by["anchors required"].detail, /confirmed on chain/);
});

test("a node whose contract holds another root refutes the anchor", async () => {
  const { out, by } = await onChain({ root: "ab".repeat(32) });
  assert.equal(out.exit, 1);
  assert.match(by["chain root (chain 31337)"].detail, /^chain root: expected [0-9a-f]{64} at tree size 8, contract holds abab/);
  assert.ok(!by["anchors required"].ok);
});

test("a node on another chain fails the chain id check", async () => {
  const { out, by } = await onChain({ chainId: 1 });
  assert.equal(out.exit, 1);
  assert.match(by["chain id (chain 1)"].detail, /expected a chain the trust file names \(31337\), node is on 1/);
});

test("a reverted anchor transaction fails", async () => {
  const { out, by } = await onChain({ status: "0x0" });
  assert.equal(out.exit, 1);
  assert.match(by["anchor transaction (chain 31337)"].detail, /reverted/);
});

test("an unreachable node that is needed makes the receipt 'could not check'", async () => {
  const { out } = await onChain({ down: true });
  assert.equal(out.exit, 2);
  assert.match(out.error, /rpc: node http:\/\/node.test unreachable/);
});

test("an RPC URL that is not http(s) could not be checked", async () => {
  const out = await verifyReceiptInput({
    receipt: bytes(GOOD.receipt), trust: bytes(GOOD.trust), rpc: ["ftp://x"],
  });
  assert.equal(out.exit, 2);
  assert.match(out.error, /expected an http\(s\) URL/);
});
