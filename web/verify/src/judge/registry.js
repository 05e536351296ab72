// The signer registry: a port of evledger_verify/registry.py (read its docstring). A
// projection of the signed ``signer`` records (grant or revoke); authority is judged as the
// registry stood at the signing time and at the acceptance. Replay re-judges a log record by
// record, withdrawing a signer record the service would have refused.
//
// Times are Unix seconds as BigInt (an entry's signed_at as strictjson reads it).

import { contains, eq, get, item, iter, lower, pyStr } from "./py.js";

const big = (t) => (typeof t === "bigint" ? t : BigInt(t));

export class SignerState {
  constructor(address, name, roles, personId = null) {
    this.address = address;
    this.name = name;
    this.roles = roles;
    /** [valid_from, valid_until or null, roles], Unix seconds of the records' signing times. */
    this.intervals = [];
    /** [granted at, printed name]. */
    this.names = [];
    /** Set by a revoke with "compromised": true. */
    this.compromised_by = null;
    /** The person the key belongs to, as its first grant named it (null: the key is). */
    this.person_id = personId;
  }

  /** Who signs with this key, as the segregation of duties compares signers. */
  get person() {
    return this.person_id || `key:${lower(this.address)}`;
  }

  /** The printed name as registered at time ``t`` (21 CFR 11.50). */
  nameAt(t) {
    t = big(t);
    let current = this.names.length ? this.names[0][1] : this.name;
    for (const [start, name] of this.names.slice(1)) {
      if (start < t) current = name; // a rename applies from the second after it was signed
    }
    return current;
  }

  /** The roles held at time ``t``, or null when not an active signer then. */
  rolesAt(t) {
    t = big(t);
    for (const [start, end, roles] of this.intervals) {
      if (start <= t && (end === null || t < end)) return roles;
    }
    return null;
  }

  /** The roles a signature carries: held at the signing time and still at its acceptance
   * (a device's keep their capture time). */
  rolesJudged(signedAt, acceptedAt) {
    signedAt = big(signedAt);
    acceptedAt = big(acceptedAt);
    const atSigning = this.rolesAt(signedAt);
    if (atSigning === null || contains(atSigning, "device")) return atSigning;
    const now = this.rolesAt(signedAt > acceptedAt ? signedAt : acceptedAt);
    if (now === null) return null;
    const kept = atSigning.filter((r) => contains(now, r));
    return kept.length ? kept : null;
  }

  get revoked() {
    return !this.intervals.length || this.intervals[this.intervals.length - 1][1] !== null;
  }

  toJson() {
    return {
      address: this.address,
      name: this.name,
      roles: [...this.roles],
      active: !this.revoked,
      compromised: this.compromised_by !== null,
      person: this.person,
      intervals: this.intervals.map(([s, e, r]) => ({ from: s, until: e, roles: [...r] })),
    };
  }
}

export class Registry {
  constructor() {
    /** lowercased address -> SignerState, in the order first granted. */
    this.signers = new Map();
    this._applied = new Map();
    this._keyOf = new Map();
    /** The ids of the signer records withdrawn, in the order withdrawn. */
    this.withdrawn = [];
    this.nameOf = this.nameOf.bind(this);
    this.personOf = this.personOf.bind(this);
  }

  apply(record, signedAt) {
    signedAt = big(signedAt);
    const key = lower(pyStr(item(record, "address")));
    if (!this._applied.has(key)) this._applied.set(key, []);
    this._applied.get(key).push([record, signedAt]);
    this._keyOf.set(pyStr(get(record, "record_id")), key);
    this._apply(key, record, signedAt);
  }

  /** Undo the signer record ``recordId``: the key it names stands as if it had never been
   * applied. */
  withdraw(recordId) {
    const key = this._keyOf.get(recordId);
    if (key === undefined) return;
    this._keyOf.delete(recordId);
    const kept = this._applied.get(key).filter(([r]) => pyStr(get(r, "record_id")) !== recordId);
    this._applied.set(key, kept);
    this.signers.delete(key);
    for (const [record, signedAt] of kept) this._apply(key, record, signedAt);
    this.withdrawn.push(recordId);
  }

  _apply(key, record, signedAt) {
    let state = this.signers.get(key) ?? null;
    if (eq(item(record, "action"), "grant")) {
      if (state === null) {
        const person = get(record, "person");
        state = new SignerState(
          pyStr(item(record, "address")),
          "",
          [],
          typeof person === "string" ? person : null,
        );
        this.signers.set(key, state);
      }
      Registry._close(state, signedAt);
      state.name = pyStr(item(record, "name"));
      state.names.push([signedAt, state.name]);
      state.roles = [...iter(item(record, "roles"))];
      state.intervals.push([signedAt, null, state.roles]);
    } else if (state !== null) {
      Registry._close(state, signedAt);
      if (get(record, "compromised") === true) {
        state.compromised_by = pyStr(get(record, "record_id"));
      }
    }
  }

  static _close(state, at) {
    const last = state.intervals[state.intervals.length - 1];
    if (last && last[1] === null) {
      state.intervals[state.intervals.length - 1] = [last[0], at, last[2]];
    }
  }

  get(address) {
    return this.signers.get(lower(address)) ?? null;
  }

  /** The person a key belongs to; null for a key never granted. */
  personOf(address) {
    const state = this.get(address);
    return state ? state.person : null;
  }

  /** The signer's current printed name ("unregistered" if unknown). */
  nameOf(address) {
    const state = this.get(address);
    return state ? state.name : "unregistered";
  }

  get size() {
    return this.signers.size;
  }

  all() {
    return [...this.signers.values()];
  }
}

/** A log re-judged record by record in log order (see registry.py). ``positions``: each
 * signer record's position in the log (a Map or an object: record id -> number). */
export class Replay {
  constructor(registry, judge, positions) {
    this.registry = registry;
    this.judge = judge;
    this.positions = positions;
  }

  _position(recordId, dflt) {
    const p = this.positions instanceof Map
      ? this.positions.get(recordId)
      : Object.hasOwn(this.positions, recordId) ? this.positions[recordId] : undefined;
    return p === undefined ? dflt : big(p);
  }

  /** Why the signer had no authority for the record at ``position``, or null when it had. */
  authority(recordId, recordType, signer, signedAt, acceptedAt, position) {
    signedAt = big(signedAt);
    acceptedAt = big(acceptedAt);
    position = big(position);
    const state = this.registry.get(signer);
    let problem = null;
    if (state === null || state.rolesAt(signedAt) === null) {
      problem = `${signer} was not an active signer at ${signedAt}`;
    } else if (state.rolesJudged(signedAt, acceptedAt) === null) {
      problem =
        `${signer} was revoked after signing at ${signedAt} and before the record was ` +
        `accepted at ${acceptedAt}`;
    } else if (
      state.compromised_by !== null &&
      position > this._position(state.compromised_by, position)
    ) {
      problem = `accepted after ${signer}'s key was reported compromised (${state.compromised_by})`;
    }
    if (problem !== null && recordType === "signer") this.registry.withdraw(recordId);
    return problem;
  }

  /** The rule ``record`` breaks, judged with the roles its signer held at the signing time
   * and still at the acceptance (null: none, or the signer held no roles). */
  rules(record, signedAt, acceptedAt) {
    const state = this.registry.get(record.signer);
    const roles = state !== null ? state.rolesJudged(signedAt, acceptedAt) : null;
    if (roles === null) return null;
    const refused = this.judge.judge(record, roles);
    if (refused !== null && record.type === "signer") this.registry.withdraw(record.record_id);
    return refused;
  }
}
