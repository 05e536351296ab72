// The QA console: sign-in on this device, then lots, lot pages, boards, the live dashboard
// and record forms, all from the service's API with a read token made here.

import { ApiError, download, getJson, getPage, request, seg, session } from "./api.js";
import { announce, append, badge, clear, h, productName, STATE_LABEL, utc } from "./dom.js";
import { FieldError, objectField, resolve } from "./form.js";
import { traceGraph } from "./graph.js";
import { controlChart } from "./spc.js";
import { KeyError, openKeyFile } from "./keys.js";
import { makeReadToken, signRecord } from "./tokens.js";
import { toHex } from "../../verify/src/bytes.js";
import { connectWallet, walletAvailable } from "./wallet.js";

const $ = (id) => document.getElementById(id);
const put = (el, ...children) => append(el, children);
const view = $("view");
const TOKEN_TTL = 8 * 3600;
let openapi = null;
let workflow = null;
let streamAbort = null;

// -- sign-in ---------------------------------------------------------------------------------

function say(el, text, kind = "") {
  el.textContent = text;
  el.className = `status ${kind}`;
}

async function trust() {
  if (!session.trust) {
    const t = await getJson("/v1/trust", { auth: false });
    session.trust = { domain: { chainId: t.chain_id, contract: t.contract }, origin: t.log_origin };
  }
  return session.trust;
}

async function signIn(signer) {
  const status = $("signin-status");
  say(status, "Signing a read token on this device…");
  const t = await trust();
  const { token, expires } = await makeReadToken(signer, t.origin, TOKEN_TTL);
  session.token = token;
  session.expires = expires;
  session.signer = signer;
  // Check the token now: an unregistered key is told so here, not on every page.
  try {
    const me = await getJson(`/v1/signers?limit=1000`);
    const entry = me.find((x) => x.address?.toLowerCase() === signer.address.toLowerCase());
    session.name = entry?.name || null;
    session.roles = entry?.roles || [];
  } catch (err) {
    session.token = null;
    session.signer = null;
    signer.forget?.();
    throw err;
  }
  $("signin").hidden = true;
  $("nav").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = `${session.name || "Unnamed"} · ${signer.address.slice(0, 8)}…${signer.address.slice(-4)}` +
    (signer.kind === "device" ? " · device key" : signer.kind === "wallet" ? " · wallet" : "");
  $("password").value = "";
  say(status, "");
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/lots";
  else route();
  announce(`Signed in as ${session.name || signer.address}`);
}

function signOut(message = "") {
  streamAbort?.abort();
  session.signer?.forget?.();
  Object.assign(session, { token: null, signer: null, expires: 0, name: null, roles: [] });
  $("signin").hidden = false;
  $("nav").hidden = true;
  $("who").hidden = true;
  view.hidden = true;
  clear(view);
  say($("signin-status"), message, message ? "bad" : "");
  $("keyfile").focus();
}

$("sign-out").addEventListener("click", () => signOut());
session.onExpired = () => signOut("Your read token was refused or has expired: sign in again.");

$("keyfile-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const status = $("signin-status");
  const file = $("keyfile").files[0];
  if (!file) {
    say(status, "Choose your key file first.", "bad");
    $("keyfile").focus();
    return;
  }
  const button = $("open-key");
  button.disabled = true;
  try {
    const text = await file.text();
    say(status, "Opening the key file on this device…");
    const signer = await openKeyFile(text, $("password").value, (p) => {
      if (p < 1) status.textContent = `Opening the key file on this device… ${Math.round(p * 100)} %`;
    });
    if (signer.kind === "device") {
      const ok = confirm(
        "This is a plain key file without a password: a device key. People sign with a " +
          "password-protected keystore (something you have and something you know). Sign in with this device key anyway?",
      );
      if (!ok) {
        signer.forget();
        say(status, "Not signed in: use your password-protected keystore file.", "bad");
        return;
      }
    }
    await signIn(signer);
  } catch (err) {
    const text = err instanceof KeyError || err instanceof ApiError ? err.message : `could not open the key: ${err.message}`;
    say(status, text, "bad");
    $("password").focus();
    $("password").select();
  } finally {
    button.disabled = false;
  }
});

$("wallet").addEventListener("click", async () => {
  const status = $("signin-status");
  if (!walletAvailable()) {
    say(status, "No browser wallet was found in this browser (EIP-1193).", "bad");
    return;
  }
  try {
    await signIn(await connectWallet());
  } catch (err) {
    say(status, err.message, "bad");
  }
});

// -- routing ---------------------------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").map((p) => decodeURIComponent(p));
  return { parts, query: new URLSearchParams(query) };
}

export const lotHref = (lot) => `#/lot/${encodeURIComponent(lot)}`;

function heading(text) {
  const el = h("h1", { tabindex: "-1" }, text);
  return el;
}

function errorBox(err) {
  const reasons = err instanceof ApiError && err.reasons.length ? err.reasons : [];
  return h("div", { class: "problem", role: "alert" },
    h("p", {}, h("strong", {}, err instanceof ApiError && err.status ? `Refused (${err.status} ${err.error}): ` : "Error: "), err.message),
    reasons.length ? h("ul", { class: "reasons", "aria-label": "Reasons" }, reasons.map((r) => h("li", {}, r))) : null);
}

async function route() {
  if (!session.token) return;
  streamAbort?.abort();
  streamAbort = null;
  const { parts, query } = parseHash();
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === parts[0] || (a.dataset.nav === "new" && parts[0] === "new")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  view.hidden = false;
  clear(view);
  view.append(h("p", { class: "loading" }, "Loading…"));
  // Each view is built off-screen and shown only if no later navigation replaced it.
  const mine = ++routeSeq;
  const target = h("div", { class: "view" });
  try {
    let title;
    if (parts[0] === "lot" && parts[1]) title = await lotPage(target, parts[1]);
    else if (parts[0] === "ncrs") title = await boardPage(target, "ncr");
    else if (parts[0] === "capas") title = await boardPage(target, "capa");
    else if (parts[0] === "dashboard") title = await dashboardPage(target);
    else if (parts[0] === "new") title = await formPage(target, parts[1] || "inspection", query);
    else if (parts[0] === "sign") title = await signFilesPage(target);
    else if (parts[0] === "spc") title = await spcPage(target, parts[1]);
    else if (parts[0] === "timeline") title = await timelinePage(target, query);
    else title = await lotsPage(target, query);
    if (mine !== routeSeq) return;
    clear(view).append(target);
    document.title = `${title} · QA console · evledger`;
    const h1 = view.querySelector("h1");
    if (h1) h1.focus();
    announce(`${title} loaded`);
  } catch (err) {
    if (mine !== routeSeq) return;
    clear(view).append(heading("Could not load this view"), errorBox(err));
  }
}
let routeSeq = 0;

window.addEventListener("hashchange", route);

// -- lots ------------------------------------------------------------------------------------

const FILTERS = [
  ["state", "State", "select", ["", ...Object.keys(STATE_LABEL)]],
  ["product", "Product (GTIN or name)", "text"],
  ["line", "Line", "text"],
  ["supplier", "Supplier", "text"],
  ["from", "First record from (UTC date)", "date"],
  ["to", "First record before (UTC date)", "date"],
  ["open", "Open", "select", ["", "ncr", "capa", "alert"]],
];

async function lotsPage(target, query) {
  const form = h("form", { class: "filters", "aria-label": "Filter lots" });
  const filtered = FILTERS.some(([name]) => query.get(name));
  const box = h("details", { class: "filter-box", open: filtered || matchMedia("(min-width: 40rem)").matches },
    h("summary", {}, filtered ? "Filters (in use)" : "Filters"), form);
  for (const [name, text, type, options] of FILTERS) {
    const id = `filter-${name}`;
    const control = type === "select"
      ? h("select", { id, name }, options.map((o) => h("option", { value: o }, o === "" ? "any" : STATE_LABEL[o] || `open ${o.toUpperCase()}`)))
      : h("input", { id, name, type, autocomplete: "off" });
    control.value = query.get(name) || "";
    form.append(h("div", { class: "field" }, h("label", { for: id }, text), control));
  }
  form.append(h("div", { class: "row" }, h("button", { type: "submit", class: "button primary" }, "Filter"),
    h("a", { class: "button quiet", href: "#/lots" }, "Clear")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [name] of FILTERS) if (form.elements[name].value) q.set(name, form.elements[name].value);
    location.hash = `#/lots?${q}`;
  });
  const api = new URLSearchParams({ limit: "50" });
  for (const [name, , type] of FILTERS) {
    const v = query.get(name);
    if (v) api.set(name, type === "date" ? `${v}T00:00:00Z` : v);
  }
  const table = h("table", { class: "lots" },
    h("caption", { class: "visually-hidden" }, "Lots"),
    h("thead", {}, h("tr", {}, ["Lot", "Product", "State", "Open NCR / CAPA / alerts", "Blockers", "Line", "Supplier", "First record"].map((t) => h("th", { scope: "col" }, t)))));
  const body = h("tbody");
  table.append(body);
  const more = h("button", { type: "button", class: "button", hidden: true }, "Load more lots");
  const count = h("p", { class: "hint", role: "status" });
  let next = `/v1/console/lots?${api}`;
  let shown = 0;
  const load = async () => {
    const { items, next: after } = await getPage(next);
    loaded.push(...items);
    for (const r of items) {
      body.append(h("tr", {},
        h("th", { scope: "row" }, h("a", { href: lotHref(r.lot) }, r.lot)),
        h("td", {}, productName(r.product)),
        h("td", {}, badge(r.state)),
        h("td", {}, `${r.open_ncrs} / ${r.open_capas} / ${r.open_alerts}`),
        h("td", {}, String(r.release_blockers)),
        h("td", {}, r.lines.join(", ")),
        h("td", {}, r.suppliers.join(", ")),
        h("td", {}, utc(r.first_at))));
    }
    shown += items.length;
    next = after;
    more.hidden = !next;
    count.textContent = `${shown} lot${shown === 1 ? "" : "s"} shown${next ? "; more may follow" : ""}.`;
  };
  more.addEventListener("click", () => load().catch((err) => more.after(errorBox(err))));
  const loaded = [];
  const csv = h("button", { type: "button", class: "button quiet" }, "Export these lots (CSV)");
  csv.addEventListener("click", () => saveCsv("lots.csv",
    ["lot", "gtin", "product", "state", "open_ncrs", "open_capas", "open_alerts", "release_blockers", "lines", "suppliers", "first_at", "last_at", "records"],
    loaded.map((r) => [r.lot, r.product?.gtin, r.product?.name, r.state, r.open_ncrs, r.open_capas, r.open_alerts, r.release_blockers, r.lines.join(" "), r.suppliers.join(" "), r.first_at, r.last_at, r.records])));
  await load();
  put(target, heading("Lots"), box, h("div", { class: "row" }, count, csv), h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Lots table" }, table), more);
  return "Lots";
}

// -- timeline search -------------------------------------------------------------------------

const TL_FILTERS = [
  ["lot", "Lot", "text"],
  ["line", "Line", "text"],
  ["supplier", "Supplier", "text"],
  ["from", "Accepted from (UTC date)", "date"],
  ["to", "Accepted before (UTC date)", "date"],
];
/** What one CSV export holds at most (the service's cap). */
const EXPORT_ROWS = 100_000;

async function timelinePage(target, query) {
  const form = h("form", { class: "filters", "aria-label": "Search the timeline" });
  for (const [name, text, type] of TL_FILTERS) {
    const id = `tl-${name}`;
    const control = h("input", { id, name, type, autocomplete: "off" });
    control.value = query.get(name) || "";
    form.append(h("div", { class: "field" }, h("label", { for: id }, text), control));
  }
  form.append(h("div", { class: "row" }, h("button", { type: "submit", class: "button primary" }, "Search"),
    h("a", { class: "button quiet", href: "#/timeline" }, "Clear")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [name] of TL_FILTERS) if (form.elements[name].value.trim()) q.set(name, form.elements[name].value.trim());
    location.hash = `#/timeline?${q}`;
  });
  const api = new URLSearchParams();
  for (const [name, , type] of TL_FILTERS) {
    const v = query.get(name);
    if (v) api.set(name, type === "date" ? `${v}T00:00:00Z` : v);
  }
  const table = h("table", { class: "timeline-table" },
    h("caption", { class: "visually-hidden" }, "Records in the order they were accepted"),
    h("thead", {}, h("tr", {}, ["Accepted", "Lot", "Record", "Type / step", "Signed by", "Meaning", "Signed at", "Line", "Suppliers"].map((t) => h("th", { scope: "col" }, t)))));
  const body = h("tbody");
  table.append(body);
  const more = h("button", { type: "button", class: "button", hidden: true }, "Load more records");
  const count = h("p", { class: "hint", role: "status" });
  let next = `/v1/console/timeline?${new URLSearchParams([...api, ["limit", "100"]])}`;
  let shown = 0;
  const load = async () => {
    const { items, next: after } = await getPage(next);
    for (const r of items) {
      body.append(h("tr", {},
        h("td", {}, utc(r.accepted_at)),
        h("td", {}, r.lot ? h("a", { href: lotHref(r.lot) }, r.lot) : ""),
        h("th", { scope: "row" }, h("code", {}, r.record_id)),
        h("td", {}, r.type + (r.step ? ` · ${r.step}` : "")),
        h("td", {}, r.signature.printed_name || r.signature.signer),
        h("td", {}, r.signature.meaning),
        h("td", {}, utc(r.signature.signed_at)),
        h("td", {}, r.line || ""),
        h("td", {}, r.suppliers.join(", "))));
    }
    shown += items.length;
    next = after;
    more.hidden = !next;
    count.textContent = `${shown} record${shown === 1 ? "" : "s"} shown${next ? "; more may follow" : ""}.`;
  };
  more.addEventListener("click", () => load().catch((err) => more.after(errorBox(err))));
  const csv = h("button", { type: "button", class: "button quiet", "aria-describedby": "tl-csv-hint" }, "Download all that match (CSV)");
  const csvStatus = h("p", { class: "hint", role: "status" });
  csv.addEventListener("click", async () => {
    csv.disabled = true;
    say(csvStatus, "Preparing the CSV…");
    try {
      const name = await download(`/v1/console/timeline?${new URLSearchParams([...api, ["format", "csv"]])}`, "timeline.csv");
      say(csvStatus, `Saved ${name}.`, "good");
    } catch (err) {
      say(csvStatus, `The export failed: ${err.message}`, "bad");
    } finally {
      csv.disabled = false;
    }
  });
  await load();
  put(target, heading("Timeline"),
    h("p", { class: "hint" }, "Records of every lot in the order the ledger accepted them, with who signed them and what they meant. A line or supplier also finds the records of lots on that line or with material from that supplier."),
    form,
    h("div", { class: "row" }, count, csv),
    h("p", { class: "hint", id: "tl-csv-hint" }, `The CSV holds the whole search, not only the rows shown, up to ${EXPORT_ROWS.toLocaleString("en")} rows (narrow the filters beyond that: the file's last line then says where it stopped). Cells a spreadsheet could take for a formula start with an apostrophe.`),
    csvStatus,
    h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Timeline table" }, table), more);
  return "Timeline";
}

// -- the lot page ----------------------------------------------------------------------------

function signatureText(sig) {
  return `${sig.printed_name || "(no printed name)"} · ${sig.meaning} · ${utc(sig.signed_at)}`;
}

const NO_RECORDS = (lot) => ({
  lot, product: null, state: null, inspections: [], open_ncrs: [], open_capas: [], open_alerts: [],
  release: null, release_blockers: [], changed_since_first_entry: [], timeline: [], none: true,
});

async function lotPage(target, lot) {
  // A lot known only from the genealogy (a material lot named by another lot's records) has
  // no records of its own: its page shows its trace.
  const status = await getJson(`/v1/lots/${seg(lot)}`).catch((err) => {
    if (err instanceof ApiError && err.status === 404) return NO_RECORDS(lot);
    throw err;
  });
  const [backward, forward] = await Promise.all(
    ["backward", "forward"].map((d) => getJson(`/v1/lots/${seg(lot)}/trace?direction=${d}`).catch(() => null)));
  const details = await Promise.all(status.inspections.slice(0, 30).map((i) => getJson(`/v1/records/${seg(i.record_id)}`).catch(() => null)));
  const corrected = await Promise.all(status.changed_since_first_entry.slice(0, 30).map((id) => getJson(`/v1/records/${seg(id)}`).catch(() => null)));
  const out = [heading(`Lot ${lot}`)];
  if (status.none) {
    out.push(h("p", { class: "lede" }, "This lot has no records of its own in the ledger; it is known from the records of the lots below."));
  } else out.push(h("p", { class: "lede" }, badge(status.state), " ", productName(status.product)));
  const actions = h("div", { class: "row actions" },
    h("a", { class: "button", href: `#/new/inspection?lot=${encodeURIComponent(lot)}` }, "New inspection"),
    h("a", { class: "button", href: `#/new/ncr?lot=${encodeURIComponent(lot)}&step=open` }, "Open an NCR"),
    h("a", { class: "button primary", href: `#/new/release?lot=${encodeURIComponent(lot)}` }, "Release decision"));
  const dl = (label, path, name) => {
    const b = h("button", { type: "button", class: "button quiet" }, label);
    b.addEventListener("click", async () => {
      try {
        const file = await download(path, name);
        announce(`Downloaded ${file}`);
      } catch (err) {
        b.after(errorBox(err));
      }
    });
    return b;
  };
  actions.append(dl("Certificate (PDF)", `/v1/lots/${seg(lot)}/certificate`, `coc-${lot}.pdf`),
    dl("Evidence bundle (zip)", `/v1/lots/${seg(lot)}/evidence`, `evidence-${lot}.zip`));
  out.push(actions);

  if (!workflow) workflow = await getJson("/v1/console/workflow", { auth: false });
  const nextOf = (kind, step) => workflow.next_steps[kind]?.[step] || [];
  const open = [
    ...status.open_ncrs.map((n) => ({ kind: "ncr", id: n.ncr_id, step: n.step })),
    ...status.open_capas.map((c) => ({ kind: "capa", id: c.capa_id, step: c.step, overdue: c.overdue })),
  ];
  if (open.length) {
    out.push(h("section", { "aria-labelledby": "open-h", class: "card" }, h("h2", { id: "open-h" }, "Open NCRs and CAPAs"),
      h("ul", { class: "open-items" }, open.map((o) => h("li", {},
        `${o.kind.toUpperCase()} ${o.id}: step ${o.step.replace(/_/g, " ")}${o.overdue ? " (overdue)" : ""}; next: `,
        nextOf(o.kind, o.step).map((n) => h("a", {
          class: "button small",
          href: `#/new/${o.kind}?${new URLSearchParams({ [`${o.kind}_id`]: o.id, step: n, lot })}`,
        }, n.replace(/_/g, " "))))))));
  }
  out.push(h("section", { "aria-labelledby": "blockers-h", class: "card" }, h("h2", { id: "blockers-h" }, "Release blockers"),
    status.release_blockers.length
      ? h("ul", { class: "blockers" }, status.release_blockers.map((b) => h("li", {}, b)))
      : h("p", {}, "Nothing blocks a release now."),
    status.release ? h("p", {}, `Release decision: ${status.release.decision} (${status.release.record_id}), signed ${signatureText(status.release.signature)}`) : null));

  const insp = h("section", { "aria-labelledby": "insp-h", class: "card" }, h("h2", { id: "insp-h" }, "Inspections"));
  if (!status.inspections.length) insp.append(h("p", {}, "No inspection yet."));
  status.inspections.forEach((i, k) => {
    const chars = details[k]?.current?.characteristics || [];
    insp.append(h("h3", {}, `${i.stage} inspection ${i.record_id}: ${i.verdict}`),
      h("p", { class: "hint" }, `Signed ${signatureText(i.signature)}${i.specification ? ` · specification ${i.specification.spec_id} v${i.specification.version}` : ""}`),
      h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": `Characteristics of ${i.record_id}` },
        h("table", {}, h("thead", {}, h("tr", {}, ["Characteristic", "Value", "Limits", "Verdict", "Equipment"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, chars.map((c) => h("tr", { class: c.verdict === "fail" ? "fail" : "" },
            h("th", { scope: "row" }, c.name + (c.critical ? " (critical)" : "")),
            h("td", {}, `${c.value} ${c.unit}`),
            h("td", {}, `${c.lower ?? "–"} … ${c.upper ?? "–"}`),
            h("td", {}, c.verdict),
            h("td", {}, c.equipment || "")))))));
  });
  out.push(insp);

  const tlCsv = h("button", { type: "button", class: "button quiet small" }, "Export the timeline (CSV)");
  tlCsv.addEventListener("click", () => saveCsv(`timeline-${lot}.csv`,
    ["lot", "record_id", "type", "step", "signer", "printed_name", "meaning", "signed_at", "accepted_at", "corrected"],
    status.timeline.map((t) => [lot, t.record_id, t.type, t.step, t.signature.signer, t.signature.printed_name, t.signature.meaning, t.signature.signed_at, t.accepted_at, t.changed_since_first_entry])));
  out.push(h("section", { "aria-labelledby": "tl-h", class: "card" }, h("h2", { id: "tl-h" }, "Timeline"), tlCsv,
    h("ol", { class: "timeline" }, status.timeline.map((t) => h("li", {},
      h("p", { class: "what" }, h("strong", {}, t.type + (t.step ? ` · ${t.step}` : "")), " ", h("code", {}, t.record_id),
        t.changed_since_first_entry ? h("span", { class: "tag" }, "corrected") : null),
      h("p", { class: "sig" }, `Signed by ${t.signature.printed_name || "(no printed name)"}, meaning ${t.signature.meaning}, at ${utc(t.signature.signed_at)}`),
      h("p", { class: "hint" }, `Accepted ${utc(t.accepted_at)} · `,
        h("a", { href: `/v1/records/${seg(t.record_id)}/receipt`, download: `receipt-${t.record_id}.json` }, "receipt"), " · ",
        h("a", { href: "/verify" }, "verify a receipt")))))));

  const corr = h("section", { "aria-labelledby": "corr-h", class: "card" }, h("h2", { id: "corr-h" }, "Corrections"));
  const changed = corrected.filter(Boolean);
  if (!changed.length) corr.append(h("p", {}, "No record of this lot was corrected."));
  for (const r of changed) {
    corr.append(h("h3", {}, `${r.record_id} (${r.type})`), h("ol", { class: "history" }, (r.history || []).map((c) => h("li", {},
      h("p", {}, h("code", {}, c.path), `: ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`),
      h("p", { class: "hint" }, `Why: ${c.reason} · ${c.correction} signed by ${c.printed_name || c.signer}, meaning ${c.meaning}, at ${utc(c.signed_at)}`)))));
  }
  out.push(corr);

  const trace = h("section", { "aria-labelledby": "trace-h", class: "card" }, h("h2", { id: "trace-h" }, "Trace"));
  if (backward || forward) {
    const { svg, table, graph } = traceGraph(lot, backward, forward, lotHref);
    trace.append(h("p", { class: "hint" }, `What this lot was made from (left) and what was made from it (right): ${graph.nodes.length} lot${graph.nodes.length === 1 ? "" : "s"}. Each lot opens its page.`),
      h("div", { class: "graph scroll", tabindex: "0", role: "region", "aria-label": "Trace graph" }, svg),
      h("details", {}, h("summary", {}, "Links as a table"), table));
    const receipts = [...(backward?.nodes || [])].flatMap((n) => n.suppliers || []);
    if (receipts.length) {
      out.push(h("section", { "aria-labelledby": "rcv-h", class: "card" }, h("h2", { id: "rcv-h" }, "Receipts of material"),
        h("ul", {}, receipts.map((r) => h("li", {}, `${r.supplier || r.name || ""} ${r.quantity ?? ""} ${r.unit ?? ""} ${r.record_id ? `(${r.record_id})` : ""} ${r.at ? utc(r.at) : ""}`)))));
    }
  } else trace.append(h("p", {}, "No trace: the genealogy holds nothing for this lot yet."));
  out.push(trace);
  put(target, ...out);
  return `Lot ${lot}`;
}

/** RFC 4180 CSV of rows (arrays), offered as a download. */
function saveCsv(name, header, rows) {
  const cell = (v) => {
    const t = v === null || v === undefined ? "" : String(v);
    return /[",\r\n]/.test(t) || (typeof v === "string" && /^[=+\-@\t\r]/.test(t)) ? `"${(typeof v === "string" ? t.replace(/^([=+\-@\t\r])/, "'$1") : t).replace(/"/g, '""')}"` : t;
  };
  const text = [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  announce(`Saved ${name}`);
}

const age = (days) => (days < 1 ? `${Math.round(days * 24)} h` : `${Math.round(days)} d`);

// -- boards ----------------------------------------------------------------------------------

async function boardPage(target, kind) {
  const name = kind.toUpperCase();
  const { items } = await getPage(`/v1/console/${kind}s?limit=200`);
  const steps = kind === "ncr" ? ["open", "evaluated", "dispositioned"] : ["open", "investigation", "action_plan", "implementation", "effectiveness_check"];
  const board = h("div", { class: "board" });
  for (const step of steps) {
    const mine = items.filter((i) => i.step === step);
    const colId = `col-${kind}-${step}`;
    board.append(h("section", { class: "column", "aria-labelledby": colId },
      h("h2", { id: colId }, `${step.replace(/_/g, " ")} (${mine.length})`),
      h("ul", {}, mine.map((i) => {
        const id = i[`${kind}_id`];
        return h("li", { class: `ticket${i.overdue ? " overdue" : ""}` },
          h("h3", {}, `${name} ${id}`),
          i.lot ? h("p", {}, "Lot ", h("a", { href: lotHref(i.lot) }, i.lot)) : null,
          i.summary ? h("p", { class: "summary" }, i.summary) : null,
          h("p", { class: "hint" }, `Age ${age(i.age_days)} · last step ${utc(i.last_step_at)} by ${i.last_signature.printed_name || "?"}`),
          i.due_by ? h("p", { class: i.overdue ? "bad" : "hint" }, `Due ${utc(i.due_by)}${i.overdue ? " · overdue" : ""}`) : null,
          h("p", { class: "next" }, "Next: ", i.next_steps.map((s) => h("a", {
            class: "button small",
            href: `#/new/${kind}?${new URLSearchParams({ [`${kind}_id`]: id, step: s, ...(i.lot ? { lot: i.lot } : {}) })}`,
          }, s.replace(/_/g, " ")))));
      }))));
  }
  put(target, heading(`${name} board`),
    h("p", { class: "hint" }, `${items.length} open ${name}${items.length === 1 ? "" : "s"}. Each card offers the steps the workflow allows next.`),
    kind === "capa" ? h("p", {}, h("a", { class: "button", href: "#/new/capa?step=open" }, "Open a CAPA")) : null,
    board);
  return `${name} board`;
}

// -- the dashboard ---------------------------------------------------------------------------

function fig(label, value, note = "") {
  return h("div", { class: "figure" }, h("p", { class: "label" }, label), h("p", { class: "value" }, value ?? "–"), note ? h("p", { class: "hint" }, note) : null);
}

function renderDashboard(box, d) {
  const pct = (x) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)} %`);
  const fpy = (by) => h("section", { class: "card", "aria-labelledby": `fpy-${by}` }, h("h2", { id: `fpy-${by}` }, `First-pass yield by ${by}`),
    d.first_pass_yield[by].length
      ? h("table", {}, h("thead", {}, h("tr", {}, [by, "Passed", "Inspected", "Yield"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, d.first_pass_yield[by].map((r) => h("tr", {}, h("th", { scope: "row" }, r.key), h("td", {}, r.passed), h("td", {}, r.inspected), h("td", {}, pct(r.yield))))))
      : h("p", {}, "No inspection yet."));
  clear(box).append(
    h("div", { class: "figures" },
      fig("Open NCRs", d.ncr.open, d.ncr.median_age_days !== null ? `median age ${d.ncr.median_age_days} d, oldest ${d.ncr.oldest_age_days} d` : ""),
      fig("Open CAPAs", d.capa.open, `${d.capa.overdue} overdue`),
      fig("CAPA on-time closure", pct(d.capa.on_time_rate), `${d.capa.closed_on_time} of ${d.capa.closed} closed on time`),
      fig("Release cycle (median)", d.release_cycle_hours.median !== null ? `${d.release_cycle_hours.median} h` : "–", `${d.release_cycle_hours.releases} releases`),
      fig("Open alerts", d.open_alert_count),
      fig("Anchoring lag", d.anchoring.lag_records ?? 0, `records; oldest waiting ${d.anchoring.lag_seconds ?? 0} s`),
      fig("Records", d.records)),
    fpy("product"), fpy("line"), fpy("supplier"),
    h("section", { class: "card", "aria-labelledby": "alerts-h" }, h("h2", { id: "alerts-h" }, "Open alerts"),
      d.open_alerts.length ? h("ul", {}, d.open_alerts.map((a) => h("li", {}, `${a.severity}: ${a.description} `, a.lot ? h("a", { href: lotHref(a.lot) }, a.lot) : "", ` (${utc(a.raised_at)})`))) : h("p", {}, "None.")),
    h("p", { class: "hint" }, `As of ${utc(d.as_of)}, over the newest ${d.window} records of each type.`));
}

async function dashboardPage(target) {
  const box = h("div", { class: "dashboard" });
  const live = h("p", { class: "live-state", role: "status" }, "Connecting to live updates…");
  renderDashboard(box, await getJson("/v1/console/dashboard"));
  put(target, heading("Dashboard"), live, box);
  const ctrl = new AbortController();
  streamAbort = ctrl;
  streamDashboard(ctrl, box, live, routeSeq);
  return "Dashboard";
}

async function streamDashboard(ctrl, box, live, seq) {
  let updates = 0;
  while (!ctrl.signal.aborted && session.token && seq === routeSeq) {
    try {
      const resp = await request("/v1/console/dashboard/events", { signal: ctrl.signal });
      live.textContent = "Live: updates as records arrive.";
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === "dashboard" && data) {
            renderDashboard(box, JSON.parse(data));
            updates += 1;
            box.dataset.updates = String(updates);
            live.textContent = `Live: updated ${utc(new Date().toISOString())}.`;
          }
        }
      }
    } catch (err) {
      if (ctrl.signal.aborted) return;
      live.textContent = `Live updates paused (${err.message}); retrying…`;
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
}

// -- forms -----------------------------------------------------------------------------------

const FORM_TYPES = {
  inspection: "inspection/2",
  signer: "signer/1",
  ncr: "ncr/1",
  capa: "capa/1",
  release: "release/1",
  alert: "alert/1",
  complaint: "complaint/1",
  hold: "hold/1",
  change: "change/1",
  calibration: "calibration/1",
};

async function schemas() {
  if (!openapi) openapi = await getJson("/openapi.json", { auth: false });
  if (!workflow) workflow = await getJson("/v1/console/workflow", { auth: false });
  const components = openapi.components.schemas;
  const mapping = components.SubmitRequest.properties.record.discriminator.mapping;
  return { components, mapping };
}

function newId(prefix) {
  const t = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
  const r = toHex(crypto.getRandomValues(new Uint8Array(3)));
  return `${prefix}-${t}-${r}`;
}

/** The signer record's schema leaves its fields untyped (the ledger's own checks say what
 * is wrong in the registry's terms); the form gives them their shape: a grant names the
 * key's address, the printed name and the roles (an admin signs it, meaning approved). */
function signerSchema(schema) {
  const roles = [...new Set(Object.values(workflow.meanings).flatMap((m) => Object.values(m).flat()))].sort();
  const p = schema.properties;
  return {
    ...schema,
    required: [...new Set([...(schema.required || []), "action", "address"])],
    properties: {
      ...p,
      action: { ...p.action, title: "Action", enum: ["grant", "revoke"], default: "grant" },
      address: { ...p.address, title: "Address", type: "string", maxLength: 42, description: "The key's address, 0x and 40 hex digits (evledger keys new prints it; a keystore file names it)." },
      name: { ...p.name, title: "Printed name", type: "string", maxLength: 200, description: "The name shown with every signature of this key (21 CFR 11.50)." },
      roles: { ...p.roles, title: "Roles", type: "array", items: { type: "string" }, description: `One of: ${roles.join(", ")}.` },
      person: { ...p.person, title: "Person", type: "string", maxLength: 100, description: "The person's id (an employee number, say): one person may hold several keys." },
      compromised: { ...p.compromised, title: "Compromised (on a revoke)", type: "boolean" },
    },
  };
}

async function formPage(target, kind, query) {
  const { components, mapping } = await schemas();
  const schemaName = FORM_TYPES[kind] || kind;
  if (!mapping[schemaName]) throw new Error(`no record schema ${schemaName}`);
  let schema = resolve(components, { $ref: mapping[schemaName] });
  const rtype = schema.properties.type.const;
  if (rtype === "signer") schema = signerSchema(schema);
  const lot = query.get("lot") || "";
  const step = query.get("step") || "";
  const out = [heading(`New ${rtype} record`)];
  const picker = h("nav", { "aria-label": "Record types", class: "types" }, h("ul", {}, Object.keys(FORM_TYPES).map((k) =>
    h("li", {}, h("a", { href: `#/new/${k}${lot ? `?lot=${encodeURIComponent(lot)}` : ""}`, "aria-current": k === kind ? "page" : null }, k)))));
  out.push(picker);
  out.push(h("p", { class: "hint" }, `This form is made from the ledger's schema ${schemaName}. Fields marked * are required.`));

  // Fields: for a workflow record, the common ones and the chosen step's own.
  const stepFields = workflow.step_fields[rtype];
  const common = new Set(Object.keys(schema.properties).filter((n) => !stepFields || !Object.values(stepFields).some((f) => f.includes(n))));
  const initial = { record_id: newId(rtype.toUpperCase()) };
  if (lot) initial.lot = lot;
  for (const k of ["ncr_id", "capa_id", "change_id"]) if (query.get(k)) initial[k] = query.get(k);
  if (!initial[`${rtype}_id`] && schema.properties[`${rtype}_id`]) initial[`${rtype}_id`] = newId(rtype.toUpperCase()).replace(/-\d{8}T\d{6}/, "");
  if (step) initial.step = step;
  if (stepFields && !initial.step) initial.step = Object.keys(stepFields)[0];
  if (schema.properties.inspected_at) initial.inspected_at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  if (initial.step && initial[`${rtype}_id`]) initial.record_id = `${initial[`${rtype}_id`]}-${initial.step}`;

  let only = stepFields ? new Set([...common, ...(stepFields[initial.step] || [])]) : null;
  // A signer grant names the key's printed name and roles; a revoke only the address (and
  // whether the key was compromised).
  const signerAction = rtype === "signer" ? (query.get("action") === "revoke" ? "revoke" : "grant") : null;
  if (signerAction) {
    initial.action = signerAction;
    only = new Set(signerAction === "grant" ? ["record_id", "action", "address", "name", "roles", "person"] : ["record_id", "action", "address", "compromised"]);
  }
  const form = h("form", { class: "record-form", novalidate: true });
  // Shown at once: what the schema requires, the step's own fields, the lot; the rest folds.
  const prominent = new Set([...(stepFields?.[initial.step] || []), "lot", "description", "severity", "statement", "decision", "evidence"]);
  // A workflow step must carry each field it owns (the ledger refuses it otherwise): those
  // are required here although the schema, shared by every step, lets them be null.
  const mustHave = new Set(stepFields?.[initial.step] || (signerAction === "grant" ? ["name", "roles"] : []));
  const obj = objectField(components, rtype, "", schema, true, initial, true, false, only, prominent, mustHave);
  if (signerAction && obj.fields.action) {
    obj.fields.action.control.addEventListener("change", () => {
      const q = new URLSearchParams(query);
      q.set("action", obj.fields.action.control.value || "grant");
      location.hash = `#/new/${kind}?${q}`;
    });
  }
  if (stepFields && obj.fields.step) {
    obj.fields.step.control.addEventListener("change", () => {
      const q = new URLSearchParams(query);
      q.set("step", obj.fields.step.control.value);
      location.hash = `#/new/${kind}?${q}`;
    });
  }
  const before = h("div", { class: "prefill" });
  form.append(before, obj.el);

  // Meaning: what this type and step may be signed with.
  const rule = workflow.meanings[`${rtype}/${initial.step || "*"}`] || workflow.meanings[`${rtype}/*`] || {};
  const meaning = h("select", { id: "meaning", name: "meaning" }, Object.entries(rule).map(([m, roles]) => h("option", { value: m }, `${m} (${roles.join(", ")})`)));
  form.append(h("div", { class: "field" }, h("label", { for: "meaning" }, "Meaning of your signature"), meaning));

  if (rtype === "inspection") await inspectionPrefill(before, obj, lot);
  if (rtype === "release") await releasePrefill(before, obj, lot, form);

  const result = h("div", { class: "result", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "button primary" }, "Sign and submit");
  form.append(h("p", { class: "hint" }, "Signing binds the record id, type, content hash, the meaning and the time (EIP-712). Your key stays on this device."),
    h("div", { class: "row" }, submit), result);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(result);
    let record;
    try {
      record = obj.read();
      if (rtype === "release" && form.querySelector("#concession-on")?.checked) {
        const rationale = form.querySelector("#concession-rationale").value.trim();
        const deviations = form.querySelector("#concession-deviations").value.split("\n").map((x) => x.trim()).filter(Boolean);
        if (rationale.length < 20) throw new FieldError("concession.rationale", "a concession needs a rationale (at least 20 characters)", form.querySelector("#concession-rationale"));
        if (!deviations.length) throw new FieldError("concession.deviations", "name at least one deviation", form.querySelector("#concession-deviations"));
        record.concession = { rationale, deviations };
      }
    } catch (err) {
      if (err instanceof FieldError) {
        // Every missing or unreadable field named by its label, before anything is signed.
        const all = err.all || [err];
        const named = (e) => {
          const text = e.control?.labels?.[0]?.textContent.replace(/\s*\*$/, "").trim();
          return `${text || e.path}: ${e.message.slice(e.path.length + 2)}`;
        };
        for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
        result.append(h("div", { class: "bad", role: "alert" },
          h("p", {}, all.length === 1 ? "Check the form before signing:" : `Check the form before signing (${all.length} fields):`),
          h("ul", { class: "missing" }, all.map((e) => h("li", {}, named(e))))));
        for (const e of all) e.control?.setAttribute("aria-invalid", "true");
        err.control?.focus();
        return;
      }
      throw err;
    }
    submit.disabled = true;
    try {
      const t = await trust();
      const body = await signRecord(session.signer, record, meaning.value, t.domain);
      const resp = await request("/v1/records", { method: "POST", body });
      const answer = await resp.json();
      result.append(h("div", { class: "accepted", role: "status" },
        h("p", {}, h("strong", {}, answer.status === "duplicate" ? "Already in the ledger" : "Accepted"), `: ${answer.record_id}, signed by ${answer.signer}.`),
        h("p", {}, h("a", { href: answer.receipt_url, download: `receipt-${answer.record_id}.json` }, "Download the receipt"),
          record.lot ? [" · ", h("a", { href: lotHref(record.lot) }, `Back to lot ${record.lot}`)] : "")));
      announce(`Accepted ${answer.record_id}`);
      result.querySelector("strong").focus?.();
    } catch (err) {
      result.append(errorBox(err));
      announce(`Refused: ${err.message}`);
    } finally {
      submit.disabled = false;
    }
  });
  out.push(form);
  put(target, ...out);
  return `New ${rtype} record`;
}

async function inspectionPrefill(box, obj, lot) {
  // Start from the specification in force and an instrument in calibration (usable now).
  const [specs, equipment] = await Promise.all([
    getJson("/v1/specifications?limit=1000").catch(() => []),
    getJson("/v1/equipment?limit=1000").catch(() => []),
  ]);
  const inForce = specs.filter((x) => x.in_force !== null && x.in_force !== undefined);
  const usable = equipment.filter((e) => e.status === "usable");
  const select = h("select", { id: "spec-pick" }, h("option", { value: "" }, "(choose a specification)"),
    inForce.map((x) => h("option", { value: x.spec_id }, `${x.spec_id} v${x.in_force} · ${x.stage} · ${x.title}`)));
  const eq = h("select", { id: "equipment-pick" }, h("option", { value: "" }, "(none)"),
    usable.map((e) => h("option", { value: e.equipment_id }, `${e.equipment_id} · ${e.kind}${e.valid_until ? ` · valid until ${utc(e.valid_until)}` : ""}`)));
  const status = h("p", { class: "hint", role: "status" },
    `${inForce.length} specification${inForce.length === 1 ? "" : "s"} in force; ${usable.length} of ${equipment.length} instruments usable now.`);
  box.append(h("fieldset", { class: "group" }, h("legend", {}, "Start from the specification in force"),
    h("div", { class: "field" }, h("label", { for: "spec-pick" }, "Specification"), select),
    h("div", { class: "field" }, h("label", { for: "equipment-pick" }, "Instrument (in calibration)"), eq), status));
  const apply = async () => {
    if (!select.value) return;
    const spec = await getJson(`/v1/specifications/${seg(select.value)}`);
    const live = spec.versions.find((v) => v.version === spec.in_force);
    if (!live) return;
    obj.fields.specification?.set({ spec_id: spec.spec_id, version: live.version });
    obj.fields.stage?.set(spec.stage);
    obj.fields.product?.set(spec.product);
    obj.fields.sampling_plan?.set(live.sampling_plan);
    obj.fields.sample_size?.set(live.sample_size);
    obj.fields.characteristics?.set((live.characteristics || []).map((c) => ({
      name: c.name, method: c.method, unit: c.unit, lower: c.lower, upper: c.upper,
      critical: c.critical, equipment: eq.value || undefined,
    })));
    status.textContent = `Filled from ${spec.spec_id} version ${live.version} (in force): enter each value and its verdict.`;
  };
  select.addEventListener("change", () => apply().catch((err) => (status.textContent = err.message)));
  eq.addEventListener("change", () => apply().catch((err) => (status.textContent = err.message)));
  void lot;
}

async function releasePrefill(box, obj, lot, form) {
  if (!lot) {
    box.append(h("p", { class: "hint" }, "Name the lot, then open this form from the lot's page to see its blockers."));
    return;
  }
  const status = await getJson(`/v1/lots/${seg(lot)}`);
  if (status.product) obj.fields.product?.set(status.product);
  const evidence = await Promise.all(status.inspections.map((i) => getJson(`/v1/records/${seg(i.record_id)}`).then((r) => ({ record_id: r.record_id, record_hash: r.record_hash })).catch(() => null)));
  obj.fields.evidence?.set(evidence.filter(Boolean));
  box.append(h("section", { class: status.release_blockers.length ? "blockers-box bad" : "blockers-box", "aria-labelledby": "rb-h" },
    h("h2", { id: "rb-h" }, status.release_blockers.length ? `${status.release_blockers.length} blocker${status.release_blockers.length === 1 ? "" : "s"} before signing` : "Nothing blocks this release"),
    status.release_blockers.length ? h("ul", {}, status.release_blockers.map((b) => h("li", {}, b))) : null,
    h("p", { class: "hint" }, "The ledger refuses a release while anything blocks it; a concession does not override a blocker.")));
  const on = h("input", { type: "checkbox", id: "concession-on" });
  const fields = h("div", { hidden: true },
    h("div", { class: "field" }, h("label", { for: "concession-rationale" }, "Rationale (required for a concession)"), h("textarea", { id: "concession-rationale", rows: 3, "aria-required": "true" })),
    h("div", { class: "field" }, h("label", { for: "concession-deviations" }, "Deviations (one per line)"), h("textarea", { id: "concession-deviations", rows: 2 })));
  on.addEventListener("change", () => (fields.hidden = !on.checked));
  form.append(h("fieldset", { class: "group" }, h("legend", {}, "Concession"), h("div", { class: "check" }, on, h("label", { for: "concession-on" }, "Release under a concession")), fields));
  // The generated concession group is replaced by this one (rationale enforced).
  obj.fields.concession?.el.remove();
  delete obj.fields.concession;
}

// -- statistical process control ------------------------------------------------------------

async function spcPage(target, id) {
  const list = await getJson("/v1/spc");
  const picker = h("nav", { "aria-label": "Charted characteristics", class: "types" }, h("ul", {}, list.map((c) =>
    h("li", {}, h("a", { href: `#/spc/${encodeURIComponent(c.id)}`, "aria-current": c.id === id ? "page" : null }, c.id)))));
  if (!list.length) {
    put(target, heading("Control charts"), h("p", {}, "No characteristic is charted: the ledger's spc.toml names none."));
    return "Control charts";
  }
  if (!id) {
    put(target, heading("Control charts"), picker,
      h("table", {}, h("thead", {}, h("tr", {}, ["Characteristic", "Of", "Chart", "Rules", "On a violation"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, list.map((c) => h("tr", {},
          h("th", { scope: "row" }, h("a", { href: `#/spc/${encodeURIComponent(c.id)}` }, c.id)),
          h("td", {}, c.tag ? `reading ${c.tag}${c.line ? ` (line ${c.line})` : ""}` : `inspection ${c.inspection}${c.product ? ` (GTIN ${c.product})` : ""}`),
          h("td", {}, c.chart === "xbar_r" ? `X-bar / R, subgroups of ${c.subgroup}` : "individuals / moving range"),
          h("td", {}, c.rules.join(", ")),
          h("td", {}, c.action === "block" ? "an alert blocks release" : "an alert warns"))))));
    return "Control charts";
  }
  const view = await getJson(`/v1/spc/${seg(id)}?limit=200`);
  const { main, range, table } = controlChart(view);
  const cap = view.capability;
  const n = (x) => (x === null || x === undefined ? "–" : Number(x).toFixed(2));
  put(target, heading(`Control chart ${id}`), picker,
    h("p", { class: "hint" }, view.limits ? `Limits: ${view.limits.basis}; centre ${view.limits.center}, control limits ${view.limits.lcl} … ${view.limits.ucl}${view.unit ? ` ${view.unit}` : ""}.` : "No limits yet: the baseline points are still to come."),
    h("div", { class: "figures" }, [["Cp", cap.cp], ["Cpk", cap.cpk], ["Pp", cap.pp], ["Ppk", cap.ppk]].map(([k, v]) => h("div", { class: "figure" }, h("p", { class: "label" }, k), h("p", { class: "value" }, n(v)))),
      h("div", { class: "figure" }, h("p", { class: "label" }, "Points"), h("p", { class: "value" }, String(cap.n)))),
    h("div", { class: "card scroll", tabindex: "0", role: "region", "aria-label": "Control chart" }, main, range),
    h("section", { class: "card", "aria-labelledby": "viol-h" }, h("h2", { id: "viol-h" }, "Rule violations"),
      view.violations.length
        ? h("ul", {}, view.violations.map((v) => h("li", {}, h("strong", {}, v.rule), `: ${v.text}, from ${v.first} to ${v.last}; `,
          v.alert_id ? `alert ${v.alert_id}` : "no alert logged yet")))
        : h("p", {}, "None among these points.")),
    h("details", {}, h("summary", {}, "The points as a table"), h("div", { class: "scroll" }, table)));
  return `Control chart ${id}`;
}

// -- record files, as `evledger submit FILE...` -----------------------------------------------

const MEANINGS = ["authored", "reviewed", "approved", "released", "verified", "recorded"];

/** The meaning a record is signed with: ``chosen``, or the first its type and step allow. */
function meaningFor(record, chosen) {
  if (chosen) return chosen;
  const rule = workflow.meanings[`${record.type}/${record.step || "*"}`] || workflow.meanings[`${record.type}/*`] || {};
  return Object.keys(rule)[0] || "authored";
}

/** As the CLI: a release's evidence entries without a record_hash, and the record a review
 * co-signs, get the hash the ledger logged. */
async function completeFromLedger(record) {
  if (record.type === "review" && record.record_hash === undefined && typeof record.reviews === "string") {
    record.record_hash = (await getJson(`/v1/records/${seg(record.reviews)}`)).record_hash;
  }
  if (record.type === "release" && Array.isArray(record.evidence)) {
    for (const e of record.evidence) {
      if (e && typeof e === "object" && e.record_hash === undefined && typeof e.record_id === "string") {
        e.record_hash = (await getJson(`/v1/records/${seg(e.record_id)}`)).record_hash;
      }
    }
  }
}

async function signFilesPage(target) {
  await schemas();
  const files = h("input", { type: "file", id: "record-files", multiple: true, accept: ".json,application/json" });
  const text = h("textarea", { id: "record-text", rows: 6, spellcheck: "false", "aria-describedby": "record-text-hint" });
  const stamps = h("input", { type: "text", id: "stamps", autocomplete: "off", spellcheck: "false", "aria-describedby": "stamps-hint" });
  const meaning = h("select", { id: "files-meaning" }, h("option", { value: "" }, "the first the rules allow for each record"),
    MEANINGS.map((m) => h("option", { value: m }, m)));
  const results = h("ol", { class: "file-results", "aria-live": "polite" });
  const go = h("button", { type: "submit", class: "button primary" }, "Sign and submit");
  const form = h("form", { class: "record-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "record-files" }, "Record files (JSON), submitted in name order"), files),
    h("div", { class: "field" }, h("label", { for: "record-text" }, "Or paste one record (JSON)"), text,
      h("p", { class: "hint", id: "record-text-hint" }, "The record as `evledger submit` reads it.")),
    h("div", { class: "field" }, h("label", { for: "stamps" }, "Fields to set to now (UTC)"), stamps,
      h("p", { class: "hint", id: "stamps-hint" }, "Top-level field names, comma-separated, as --stamp (e.g. inspected_at).")),
    h("div", { class: "field" }, h("label", { for: "files-meaning" }, "Meaning of your signature"), meaning),
    h("p", { class: "hint" }, "A release's evidence without record hashes, and the record a review co-signs, are completed from the ledger, as the command line does. Each record is signed on this device."),
    h("div", { class: "row" }, go), results);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(results);
    const inputs = [];
    for (const f of [...files.files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      inputs.push({ name: f.name, text: await f.text() });
    }
    if (text.value.trim()) inputs.push({ name: "pasted record", text: text.value });
    if (!inputs.length) {
      results.append(h("li", { class: "bad", role: "alert" }, "Choose record files or paste a record first."));
      files.focus();
      return;
    }
    const fields = stamps.value.split(",").map((x) => x.trim()).filter(Boolean);
    const bad = fields.find((x) => !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(x));
    if (bad) {
      results.append(h("li", { class: "bad", role: "alert" }, `Fields to set to now: ${JSON.stringify(bad)} is not a field name.`));
      stamps.focus();
      return;
    }
    go.disabled = true;
    let accepted = 0;
    try {
      const t = await trust();
      for (const input of inputs) {
        const item = h("li", {}, h("strong", {}, input.name), ": ");
        results.append(item);
        let record;
        try {
          record = JSON.parse(input.text);
          if (record === null || typeof record !== "object" || Array.isArray(record)) throw new Error("expected a JSON object");
        } catch (err) {
          item.append(h("span", { class: "bad" }, `not a record: ${err.message}`));
          break;
        }
        try {
          const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
          for (const f of fields) record[f] = now;
          await completeFromLedger(record);
          const body = await signRecord(session.signer, record, meaningFor(record, meaning.value), t.domain);
          const answer = await (await request("/v1/records", { method: "POST", body })).json();
          accepted += 1;
          item.classList.add("ok");
          item.append(`${answer.status === "duplicate" ? "already in the ledger" : "accepted"} (${answer.record_id}, ${body.meaning}) `,
            h("a", { href: answer.receipt_url, download: `receipt-${answer.record_id}.json` }, "receipt"));
        } catch (err) {
          item.append(errorBox(err));
          break; // as the command line: stop at the first refusal
        }
      }
      announce(`${accepted} of ${inputs.length} record${inputs.length === 1 ? "" : "s"} accepted`);
    } finally {
      go.disabled = false;
    }
  });
  put(target, heading("Sign record files"),
    h("p", { class: "hint" }, "Like `evledger submit FILE...`: each record file is signed here with your key and submitted; the first refusal stops the run and shows its reasons."),
    form);
  return "Sign record files";
}

// -- start -----------------------------------------------------------------------------------

if (!walletAvailable()) $("wallet").title = "No browser wallet found";
export { signOut };
