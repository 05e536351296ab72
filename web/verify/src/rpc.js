// Confirm an anchor against an Ethereum JSON-RPC node the visitor chooses, as
// evledger_verify/rpc.py. The node is trusted for nothing it cannot be checked on: it is asked
// its chain id, the root the contract holds at a tree size, and the transaction receipt the
// anchor names, and each answer is compared with what is expected. An unreachable node is a
// CannotCheckError ("could not check"), never a pass.

import { utf8 } from "./bytes.js";
import { toHex } from "./bytes.js";
import { CannotCheckError, VerificationError } from "./errors.js";
import { ANCHORED_TOPIC } from "./evm.js";
import { keccak256 } from "./records.js";
import { loads } from "./strictjson.js";

const ROOT_AT = toHex(keccak256(utf8("rootAt(uint64)")).subarray(0, 4));
const MAX_RESPONSE = 4 * 1024 * 1024;
const TOPIC = "0x" + toHex(ANCHORED_TOPIC);

export class NodeUnreachableError extends CannotCheckError {}

const u256 = (n) => BigInt(n).toString(16).padStart(64, "0");

export class RpcClient {
  constructor(url, { fetch = globalThis.fetch, timeoutMs = 10000 } = {}) {
    if (!/^https?:\/\//.test(url)) {
      throw new CannotCheckError(`rpc: expected an http(s) URL, got '${url}'`);
    }
    this.url = url;
    this.fetch = (...args) => fetch(...args); // unbound: window.fetch needs its own `this`
    this.timeoutMs = timeoutMs;
    this.id = 0;
  }

  async call(method, params) {
    this.id += 1;
    const body = JSON.stringify({ jsonrpc: "2.0", id: this.id, method, params });
    let raw;
    try {
      const resp = await this.fetch(this.url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      raw = new Uint8Array(await resp.arrayBuffer());
    } catch (err) {
      throw new NodeUnreachableError(`rpc: node ${this.url} unreachable: ${err.message || err}`);
    }
    if (raw.length > MAX_RESPONSE) {
      throw new CannotCheckError(`rpc: ${method} answer larger than ${MAX_RESPONSE} bytes`);
    }
    let answer;
    try {
      answer = loads(raw);
    } catch (err) {
      throw new CannotCheckError(`rpc: ${method} answer is not JSON: ${err.message}`);
    }
    if (answer === null || typeof answer !== "object" || Array.isArray(answer)) {
      throw new CannotCheckError(`rpc: ${method} answer is not a JSON-RPC object`);
    }
    if (answer.error) throw new CannotCheckError(`rpc: ${method} failed: ${JSON.stringify(answer.error, (k, v) => (typeof v === "bigint" ? Number(v) : v))}`);
    return answer.result ?? null;
  }

  async chainId() {
    return quantity(await this.call("eth_chainId", []), "eth_chainId");
  }

  async rootAt(contract, treeSize) {
    const data = "0x" + ROOT_AT + u256(treeSize);
    const result = await this.call("eth_call", [{ to: contract, data }, "latest"]);
    if (result === "0x") {
      throw new VerificationError(
        `chain root: contract ${contract} gave no root (is it an EvidenceAnchor?)`,
      );
    }
    if (typeof result !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(result)) {
      throw new CannotCheckError(`rpc: rootAt answer is not a 32-byte hex value: ${result}`);
    }
    return result.slice(2).toLowerCase();
  }
}

function quantity(value, what) {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]+$/.test(value)) {
    throw new CannotCheckError(`rpc: ${what}: expected a 0x hex quantity, got ${value}`);
  }
  return BigInt(value);
}

/** The named checks that confirm, on the node of ``chain``: ``contract`` holds ``root`` at
 * ``treeSize``, and the anchor's transaction, block and log are canonical and say so. */
export function anchorChecks(client, chain, contract, anchor, treeSize, root) {
  const rootHex = toHex(root);
  const chainRoot = async () => {
    const held = await client.rootAt(contract, treeSize);
    if (held === "0".repeat(64)) {
      throw new VerificationError(
        `chain root: contract ${contract} holds no root for tree size ${treeSize}`,
      );
    }
    if (held !== rootHex) {
      throw new VerificationError(
        `chain root: expected ${rootHex} at tree size ${treeSize}, contract holds ${held}`,
      );
    }
    return `contract ${contract} holds the root at tree size ${treeSize}`;
  };
  const anchorTx = async () => {
    if (anchor === null) throw new VerificationError("anchor transaction: missing from the receipt");
    const rcpt = await client.call("eth_getTransactionReceipt", [anchor.txHash]);
    if (rcpt === null || typeof rcpt !== "object" || Array.isArray(rcpt)) {
      throw new VerificationError(`anchor transaction: ${anchor.txHash} not found on chain`);
    }
    if (rcpt.status !== "0x1") throw new VerificationError(`anchor transaction: ${anchor.txHash} reverted`);
    const blockNumber = quantity(rcpt.blockNumber, "receipt blockNumber");
    if (String(rcpt.blockHash ?? "").toLowerCase() !== anchor.blockHash || blockNumber !== anchor.blockNumber) {
      throw new VerificationError(
        `anchor block: expected block ${anchor.blockNumber} ${anchor.blockHash}, ` +
          `transaction is in ${blockNumber} ${rcpt.blockHash}`,
      );
    }
    const block = await client.call("eth_getBlockByNumber", ["0x" + anchor.blockNumber.toString(16), false]);
    if (block === null || typeof block !== "object" || String(block.hash ?? "").toLowerCase() !== anchor.blockHash) {
      throw new VerificationError(
        `anchor block: block ${anchor.blockNumber} ${anchor.blockHash} is not canonical`,
      );
    }
    const logs = (Array.isArray(rcpt.logs) ? rcpt.logs : []).filter((l) => l && typeof l === "object");
    const match = logs.filter((l) => quantity(l.logIndex, "log logIndex") === anchor.logIndex);
    if (!match.length) {
      throw new VerificationError(`anchor log: no log ${anchor.logIndex} in ${anchor.txHash}`);
    }
    const log = match[0];
    const topics = (Array.isArray(log.topics) ? log.topics : []).map((t) => String(t).toLowerCase());
    const data = String(log.data ?? "");
    if (
      String(log.address ?? "").toLowerCase() !== contract.toLowerCase() ||
      topics.length !== 2 || topics[0] !== TOPIC || topics[1] !== "0x" + u256(treeSize) ||
      data.slice(0, 66).toLowerCase() !== "0x" + rootHex
    ) {
      throw new VerificationError(
        `anchor log: log ${anchor.logIndex} is not Anchored(${treeSize}, ${rootHex}) from ${contract}`,
      );
    }
    return `Anchored in tx ${anchor.txHash}, block ${anchor.blockNumber}`;
  };
  return [
    [`chain root (chain ${chain})`, chainRoot],
    [`anchor transaction (chain ${chain})`, anchorTx],
  ];
}

function untrusted(chain, trust) {
  const named = [...trust.contracts.keys()].join(", ");
  return `chain id: expected a chain the trust file names (${named}), node is on ${chain}`;
}

/** The ``onChain`` step of verifyReceipt for nodes: each is asked its chain id, and the
 * receipt's anchor for that chain is confirmed against that chain's trusted contract. A node
 * that cannot check is left to the tally, which decides whether it was needed. */
export function onChainChecks(clients) {
  return async (receipt, tally, report) => {
    const trust = tally.trust;
    for (const client of clients) {
      let chain;
      try {
        chain = String(await client.chainId());
      } catch (err) {
        if (!(err instanceof CannotCheckError)) throw err;
        tally.unsettled.push(unsettled(`chain id (${client.url})`, null, err));
        continue;
      }
      const contract = trust.contracts.get(chain);
      if (contract === undefined) {
        report.fail(`chain id (chain ${chain})`, `${untrusted(chain, trust)} (${client.url})`);
        continue;
      }
      report.checks.push({ name: `chain id (chain ${chain})`, ok: true, detail: `node ${client.url} is on chain ${chain}` });
      const ca = receipt.anchors.find((a) => String(a.chainId) === chain);
      if (ca === undefined) {
        const name = `anchor transaction (chain ${chain})`;
        const required = trust.required;
        if (required !== null && required.includes(chain)) {
          report.fail(
            name,
            `anchor transaction: missing from the receipt: chain ${chain} is required ` +
              `(require: ${trust.requireText})`,
          );
        } else {
          report.checks.push({ name, ok: true, detail: `no anchor on chain ${chain} in this receipt` });
        }
        continue;
      }
      let all = true;
      for (const [name, check] of anchorChecks(client, chain, contract, ca.anchor, ca.treeSize, ca.rootHash)) {
        let ok;
        try {
          ok = await report.run(name, check);
        } catch (err) {
          if (!(err instanceof CannotCheckError)) throw err;
          tally.unsettled.push(unsettled(name, chain, err));
          all = false;
          break;
        }
        if (!ok) {
          tally.refuted.add(chain);
          all = false;
          break;
        }
      }
      if (all) tally.confirmed.add(chain);
    }
  };
}

function unsettled(name, chainId, err) {
  const kind = err instanceof NodeUnreachableError ? "node unreachable" : "node answer unusable";
  return { name, chainId, kind, error: err.message };
}
