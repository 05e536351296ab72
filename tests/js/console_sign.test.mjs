// The QA console signs exactly as the CLI (web/console/src/keys.js, tokens.js): the read token
// and the record submissions it makes for fixed inputs equal the Python client's
// (tests/vectors/console/generate.py writes them), and keystore v3 files written by eth-account
// (scrypt and PBKDF2) open to the same key; a wrong password or a damaged file is refused.
//
//   node --test tests/js/console_sign.test.mjs

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fromHex, toHex } from "../../web/verify/src/bytes.js";
import { eip712Digest, recordHash, recoverSigner } from "../../web/verify/src/records.js";
import { KeyError, decryptKeystore, keySigner, openKeyFile } from "../../web/console/src/keys.js";
import { makeReadToken, normalizeSignature, signRecord, typedData } from "../../web/console/src/tokens.js";

const V = JSON.parse(readFileSync(new URL("../vectors/console/console.json", import.meta.url), "utf8"));
const DOMAIN = { chainId: V.domain.chain_id, contract: V.domain.contract };

test("the key's address is the client's", () => {
  assert.equal(keySigner(fromHex(V.secret), "keystore").address, V.address);
});

test("the read token equals the client's (EIP-191 over the same message)", async () => {
  const signer = keySigner(fromHex(V.secret), "keystore");
  const { token } = await makeReadToken(signer, V.origin, V.ttl, V.now);
  assert.equal(token, V.read_token);
});

for (const [i, r] of V.records.entries()) {
  test(`record ${i} (${r.record.record_id}): hash, digest and submission equal the client's`, async () => {
    assert.equal(toHex(recordHash(r.record)), r.record_hash);
    const digest = eip712Digest(DOMAIN, r.record.record_id, r.record.type, fromHex(r.record_hash), r.meaning, r.signed_at);
    assert.equal(toHex(digest), r.digest);
    const signer = keySigner(fromHex(V.secret), "keystore");
    const body = await signRecord(signer, r.record, r.meaning, DOMAIN, r.signed_at);
    assert.deepEqual(body, r.submission);
    assert.equal(recoverSigner(digest, body.signature), V.address);
  });
}

test("a wallet's signature over the typed data is taken as the CLI's (v 0/1 normalised)", async () => {
  const r = V.records[0];
  const inner = keySigner(fromHex(V.secret), "keystore");
  const seen = [];
  const wallet = {
    kind: "wallet",
    address: V.address,
    async signTypedData(data) {
      seen.push(data);
      const d = data.message;
      const digest = eip712Digest({ chainId: data.domain.chainId, contract: data.domain.verifyingContract },
        d.recordId, d.recordType, fromHex(d.recordHash.slice(2)), d.meaning, d.signedAt);
      const sig = await inner.signDigest(digest);
      return sig.slice(0, -2) + (parseInt(sig.slice(-2), 16) - 27).toString(16).padStart(2, "0");
    },
  };
  const body = await signRecord(wallet, r.record, r.meaning, DOMAIN, r.signed_at);
  assert.deepEqual(body, r.submission);
  assert.deepEqual(seen[0], typedData(DOMAIN, r.record.record_id, r.record.type, fromHex(r.record_hash), r.meaning, r.signed_at));
  assert.equal(normalizeSignature("0x" + "AB".repeat(64) + "01"), "0x" + "ab".repeat(64) + "1c");
});

for (const ks of V.keystores) {
  const password = ks.password ?? V.password;
  const label = `${ks.kdf}${ks.password ? ", a password not in NFKC form" : ""}`;
  test(`keystore v3 (${label}) opens with its password to the client's key`, async () => {
    const signer = await openKeyFile(JSON.stringify(ks.file), password);
    assert.equal(signer.address, V.address);
    assert.equal(signer.kind, "keystore");
    const { token } = await makeReadToken(signer, V.origin, V.ttl, V.now);
    assert.equal(token, V.read_token);
  });

  test(`keystore v3 (${label}): a wrong password is refused, naming it`, async () => {
    await assert.rejects(decryptKeystore(ks.file, password + "!"), (err) =>
      err instanceof KeyError && /wrong password/.test(err.message));
  });
}

test("damaged or foreign key files are refused with a reason, never a key", async () => {
  const ks = structuredClone(V.keystores[0].file);
  ks.crypto.ciphertext = "00" + ks.crypto.ciphertext.slice(2);
  await assert.rejects(decryptKeystore(ks, V.password), /wrong password|MAC/);
  const other = structuredClone(V.keystores[0].file);
  other.crypto.kdf = "argon2";
  await assert.rejects(decryptKeystore(other, V.password), /not supported/);
  await assert.rejects(openKeyFile("hello", ""), /not a key file/);
  await assert.rejects(openKeyFile(JSON.stringify(V.keystores[0].file), ""), /needs its password/);
  await assert.rejects(openKeyFile("0x" + "00".repeat(32), ""), /not a valid secp256k1/);
});

test("a plain hex key file is a device key", async () => {
  const signer = await openKeyFile("0x" + V.secret + "\n", "");
  assert.equal(signer.kind, "device");
  assert.equal(signer.address, V.address);
});

test("a keystore opens where the page has no WebCrypto (plain http on a LAN address)", async () => {
  // Outside a secure context browsers keep crypto.getRandomValues but give no crypto.subtle;
  // AES-CTR is @noble/ciphers'.
  const saved = Object.getOwnPropertyDescriptor(globalThis, "crypto");
  const real = globalThis.crypto;
  const insecure = { getRandomValues: (a) => real.getRandomValues(a) };
  Object.defineProperty(globalThis, "crypto", { value: insecure, configurable: true, writable: true });
  try {
    assert.equal(globalThis.crypto.subtle, undefined);
    const ks = V.keystores.find((k) => k.kdf === "pbkdf2") ?? V.keystores[0];
    const signer = await openKeyFile(JSON.stringify(ks.file), ks.password ?? V.password);
    assert.equal(signer.address, V.address);
  } finally {
    Object.defineProperty(globalThis, "crypto", saved);
  }
});
