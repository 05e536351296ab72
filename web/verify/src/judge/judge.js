// Re-judging a whole log: a port of evledger_verify/judge.py (read its docstring). Every
// record, in log order, through the rules (rules.js) against what came before it; a refused
// record does not become history. The Judge is the rules' History too.

import { Tracker } from "./genealogy.js";
import { DEFAULT_POLICY } from "./policy.js";
import { PyDict, PySet, get, isPyError, item, pyStr, sortBy } from "./py.js";
import { Refused, applyCorrections, judge, subjectOf, unixSeconds } from "./rules.js";

/** The exceptions judge.py turns into a "schema" refusal (bodies not of their schema's shape);
 * a JavaScript TypeError (a property of null or undefined read) counts as Python's TypeError
 * or AttributeError would. */
const SHAPE_ERRORS = ["KeyError", "TypeError", "ValueError", "AttributeError", "IndexError", "OverflowError"];
const LINK_ERRORS = ["KeyError", "TypeError", "ValueError", "AttributeError"];

export class Judge {
  /** ``options``: validate, names (signer -> printed name), persons (signer -> person or
   * null), linker (record body -> its genealogy links). */
  constructor(policy = DEFAULT_POLICY, { validate = null, names = null, persons = null, linker = null } = {}) {
    this.policy = policy;
    this.validate = validate;
    this._names = names ?? (() => "unregistered");
    this._persons = persons ?? (() => null);
    this._byId = new Map();
    this._position = new Map();
    this._subjects = new Map();
    /** Per lot, in log order; a record some correction changed is a corrected copy. */
    this._lots = new Map();
    if (linker === null) {
      const tracker = new Tracker();
      linker = (body) => tracker.add(body);
    }
    this._linker = linker;
    /** lot -> the lots that went into it; lot -> how it was received; lot -> floor links. */
    this._inputs = new PyDict();
    this._received = new PyDict();
    this._floor = new PyDict();
    this._specifications = false;
    this._signers = false;
    this.judged = 0;
  }

  /** The rule ``record`` (a Stored) breaks given the records accepted before it (null: none);
   * from now on it is history when it broke none. */
  judge(record, roles) {
    this.judged += 1;
    try {
      judge(
        record.body,
        record.meaning,
        record.signer,
        roles,
        this,
        this.policy,
        this.validate,
        !this._specifications,
        record.type === "signer" && !this._signers,
        {
          signedAt: unixSeconds(record.signed_at),
          acceptedAt: unixSeconds(record.accepted_at),
        },
      );
    } catch (exc) {
      if (exc instanceof Refused) return exc;
      if (isPyError(exc, SHAPE_ERRORS)) {
        // Bodies are schema-checked before the rules; one that is not is refused too.
        return new Refused(
          "schema",
          "invalid",
          `${record.type}: not the shape its schema requires (${exc.name}: ${exc.message})`,
        );
      }
      throw exc;
    }
    this.add(record);
    return null;
  }

  /** Take ``record`` as history without judging it. */
  add(record) {
    this._position.set(record.record_id, this._position.size);
    this._byId.set(record.record_id, record);
    if (record.type === "specification") this._specifications = true;
    if (record.type === "signer") this._signers = true;
    let links;
    try {
      links = [...this._linker(record.body)];
    } catch (exc) {
      if (!isPyError(exc, LINK_ERRORS)) throw exc;
      links = []; // a body the genealogy cannot read proves no link
    }
    for (const link of links) {
      if (link.kind === "input" && link.other !== null) {
        this._inputs.setdefault(link.lot, () => new PySet()).add(link.other);
      } else if (link.kind === "receive") {
        this._received
          .setdefault(link.lot, () => [])
          .push([link.record_id, link.lot, link.other, link.at]);
      }
      if (link.kind === "ship" || link.kind === "input") {
        this._floor
          .setdefault(link.lot, () => [])
          .push([link.record_id, link.kind, link.other, link.at]);
      }
    }
    const subject = subjectOf(record.body);
    if (subject !== null) {
      if (!this._subjects.has(subject)) this._subjects.set(subject, []);
      this._subjects.get(subject).push(record);
    }
    const lot = get(record.body, "lot");
    if (typeof lot !== "string") return;
    if (!this._lots.has(lot)) this._lots.set(lot, []);
    const records = this._lots.get(lot);
    records.push(record);
    if (record.type === "correction") {
      const target = pyStr(item(record.body, "corrects"));
      for (let i = 0; i < records.length; i++) {
        let r = records[i];
        if (r.record_id === target) {
          if (r === this._byId.get(target)) {
            // first correction: copy, keep as signed
            r = r.clone();
            records[i] = r;
          }
          applyCorrections([r, record]);
          break;
        }
      }
    }
  }

  // -- History --------------------------------------------------------------------------------

  subject(subject) {
    return [...(this._subjects.get(subject) ?? [])];
  }

  lot(lot) {
    return [...(this._lots.get(lot) ?? [])];
  }

  records(recordIds) {
    const found = [...new Set(recordIds)].filter((i) => this._byId.has(i)).map((i) => this._byId.get(i));
    return found.sort((a, b) => this._position.get(a.record_id) - this._position.get(b.record_id));
  }

  name(signer) {
    return this._names(signer);
  }

  person(signer) {
    return this._persons(signer) ?? null;
  }

  floor(lot) {
    return [...this._floor.get(lot, [])];
  }

  receipts(lot) {
    const seen = new PySet([lot]);
    let frontier = [lot];
    while (frontier.length) {
      const next = new PySet();
      for (const f of frontier) for (const m of this._inputs.get(f, new PySet())) next.add(m);
      frontier = sortBy(next.minus(seen).values(), (x) => x);
      for (const m of frontier) seen.add(m);
    }
    const out = [];
    for (const m of sortBy(seen.values(), (x) => x)) out.push(...this._received.get(m, []));
    return out;
  }
}
