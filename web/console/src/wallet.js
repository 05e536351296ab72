// A browser wallet (EIP-1193 `window.ethereum`: MetaMask, or a hardware wallet through it).
// Records are signed with eth_signTypedData_v4 (the wallet shows the record id, type, hash,
// meaning and time); read tokens with personal_sign. The wallet holds the key.

import { toHex, utf8 } from "../../verify/src/bytes.js";
import { checksumAddress } from "../../verify/src/records.js";

export class WalletError extends Error {}

export function walletAvailable() {
  return typeof window !== "undefined" && !!window.ethereum && typeof window.ethereum.request === "function";
}

function reason(err) {
  if (err && err.code === 4001) return "you declined the request in the wallet";
  return (err && err.message) || String(err);
}

/** A signer backed by the wallet's first account. */
export async function connectWallet(provider = window.ethereum) {
  if (!provider || typeof provider.request !== "function") {
    throw new WalletError("no browser wallet found (EIP-1193 window.ethereum)");
  }
  let accounts;
  try {
    accounts = await provider.request({ method: "eth_requestAccounts" });
  } catch (err) {
    throw new WalletError(`the wallet did not connect: ${reason(err)}`);
  }
  if (!Array.isArray(accounts) || !accounts.length) throw new WalletError("the wallet gave no account");
  const account = String(accounts[0]);
  const address = checksumAddress(account);
  return {
    kind: "wallet",
    address,
    async personalSign(message) {
      const hex = "0x" + toHex(utf8(message));
      try {
        return await provider.request({ method: "personal_sign", params: [hex, account] });
      } catch (err) {
        throw new WalletError(`the wallet did not sign: ${reason(err)}`);
      }
    },
    async signTypedData(data) {
      try {
        return await provider.request({
          method: "eth_signTypedData_v4",
          params: [account, JSON.stringify(data)],
        });
      } catch (err) {
        throw new WalletError(`the wallet did not sign: ${reason(err)}`);
      }
    },
    forget() {},
  };
}
