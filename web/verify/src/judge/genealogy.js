// Lot genealogy from evidence: a port of evledger_verify/genealogy.py (read its docstring for
// the link kinds and their sources). links(record, context) turns one record, read in log
// order, into the links it proves; Tracker keeps the context links establish; Genealogy keeps
// the links too.

import { PyDict, eq, get, isNumber, item, pyStr, toFloat, truthy, tuple } from "./py.js";

export const KINDS = Object.freeze(["receive", "input", "produce", "pack", "ship"]);

/** One edge of the lot graph and the record that proves it. */
export class Link {
  constructor(
    record_id,
    kind,
    lot,
    other,
    gtin = null,
    quantity = null,
    unit = null,
    at = null,
    via = null,
  ) {
    Object.assign(this, { record_id, kind, lot, other, gtin, quantity, unit, at, via });
    Object.freeze(this);
  }

  key() {
    return [
      this.record_id,
      this.kind,
      this.lot,
      this.other,
      this.gtin,
      this.quantity,
      this.unit,
      this.at,
      this.via,
    ];
  }
}

/** The links ``record`` proves (none for records that do not touch the genealogy). */
export function links(record, context) {
  const rtype = get(record, "type");
  if (rtype === "scan") return scan(record, context);
  if (rtype === "inspection") return inspection(record);
  if (rtype === "epcis_event") return context.eventLinks(record);
  return [];
}

const isNone = (v) => v === null || v === undefined;
const or = (a, b) => (truthy(a) ? a : b);

function scan(record, context) {
  const rid = pyStr(item(record, "record_id"));
  const op = item(record, "operation");
  const station = pyStr(item(record, "station"));
  const gs1 = or(get(record, "gs1"), Object.create(null));
  const gtin = get(gs1, "gtin");
  const scanned = get(gs1, "lot");
  const lot = or(get(record, "lot"), scanned);
  const quantity = number(get(record, "quantity"));
  const unit = get(record, "unit");
  const at = get(record, "scanned_at");
  const link = (kind, l, other, via = null) =>
    new Link(rid, kind, l, other, gtin, quantity, unit, at, via);

  if (op === "receive" && !isNone(lot)) {
    return [link("receive", lot, get(record, "supplier"), neq(scanned, lot) ? scanned : null)];
  }
  if (op === "produce" && !isNone(lot)) return [link("produce", lot, station)];
  if (op === "consume" && !isNone(scanned)) {
    const material = or(context.receivedAs(gtin, scanned), scanned);
    const into = or(get(record, "lot"), context.producing(station));
    if (isNone(into) || !neq(into, material)) return [];
    return [link("input", into, material)];
  }
  if (op === "pack" && !isNone(lot)) return [link("pack", lot, get(record, "pallet"))];
  if (op === "ship") {
    const consignee = get(record, "consignee");
    const sscc = get(gs1, "sscc");
    if (isNone(gtin) && !isNone(sscc)) {
      // a whole pallet: every lot packed onto it
      return context
        .pallet(sscc)
        .map((p) => new Link(rid, "ship", p.lot, consignee, p.gtin, p.quantity, p.unit, at, sscc));
    }
    if (!isNone(lot)) return [link("ship", lot, consignee)];
  }
  return [];
}

const neq = (a, b) => !eq(a, b);

function inspection(record) {
  const material = get(record, "material_lot");
  const lot = get(record, "lot");
  if (isNone(material) || isNone(lot) || eq(material, lot)) return [];
  const rid = pyStr(item(record, "record_id"));
  const at = get(record, "inspected_at");
  const out = [new Link(rid, "input", lot, material, null, null, null, at)];
  if (!isNone(get(record, "supplier"))) {
    out.push(new Link(rid, "receive", material, item(record, "supplier"), null, null, null, at));
  }
  return out;
}

function number(value) {
  return isNumber(value) ? toFloat(value) : null;
}

/** The context links establish, kept as they are applied in log order. */
export class Tracker {
  constructor() {
    this._producing = new PyDict();
    this._received = new PyDict();
    this._pallets = new PyDict();
  }

  producing(station) {
    return this._producing.get(station, null);
  }

  receivedAs(gtin, supplierLot) {
    return or(
      this._received.get(tuple(gtin, supplierLot), null),
      this._received.get(tuple(null, supplierLot), null),
    );
  }

  pallet(sscc) {
    return [...this._pallets.get(sscc, [])];
  }

  eventLinks(_record) {
    return [];
  }

  /** The links ``record`` proves, applied to the context. */
  add(record) {
    const found = links(record, this);
    this.apply(found);
    return found;
  }

  apply(found) {
    for (const link of found) {
      if (link.kind === "produce" && !isNone(link.other)) {
        this._producing.set(link.other, link.lot);
      } else if (link.kind === "receive" && !isNone(link.via)) {
        this._received.set(tuple(link.gtin, link.via), link.lot);
      } else if (link.kind === "pack" && !isNone(link.other)) {
        this._pallets.setdefault(link.other, () => []).push(link);
      }
    }
  }
}

/** The whole projection in memory: ``add`` every record in log order. */
export class Genealogy extends Tracker {
  constructor() {
    super();
    this.links = [];
  }

  apply(found) {
    found = [...found];
    super.apply(found);
    this.links.push(...found);
  }
}
