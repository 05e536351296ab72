// The verification page: inputs (file, drop, paste, URL fragment, QR code), the trust file
// (pinned in this browser, or the one the server publishes, labelled as such), and the
// results, one step per check with what it means. All checking is verify.js's.

import jsQR from "jsqr";
import {
  CannotCheckError,
  loadTrust,
  parseFragment,
  utcTime,
  verifyBundleInput,
  verifyReceiptInput,
} from "./verify.js";

const PIN_KEY = "evledger-verify.trust";
const $ = (id) => document.getElementById(id);
const utf8 = (text) => new TextEncoder().encode(text);
const lenient = new TextDecoder("utf-8");

// -- what each check means, in plain words -----------------------------------------------------

// Each check: [title when it holds, what that means, title when it fails, what that means].
const STEPS = {
  format: [
    "The receipt is well formed", "The receipt is an evledger receipt in the strict, expected format.",
    "The receipt is not well formed", "This is not a receipt the page can read as it is: it is damaged, altered, or of another kind.",
  ],
  record: [
    "The record matches the receipt", "The record you gave, in its RFC 8785 canonical form, hashes (SHA-256) to the value in the receipt: not one character differs from what was logged.",
    "The record does not match the receipt", "The record you gave is not the record this receipt was issued for: at least one character differs, or it is another record.",
  ],
  leaf: [
    "The log entry is this record's", "The entry the log holds names this record's hash, and hashes to the leaf the receipt proves.",
    "The log entry is not this record's", "The entry in the receipt does not belong to this record, or it was changed after it was logged.",
  ],
  signature: [
    "The signature is valid", "The record was signed (EIP-712) by the key the entry names, for this very ledger (its chain and contract).",
    "The signature is not valid", "The signature was not made by the key the entry names over this record for this ledger: it was altered, or made for another ledger.",
  ],
  inclusion: [
    "The record is in the log", "The RFC 9162 inclusion proof places the entry in the log's Merkle tree: it cannot be removed or changed without changing the tree's root.",
    "The record is not shown to be in the log", "The inclusion proof does not lead from this entry to the tree's root: the receipt was altered.",
  ],
  signer: [
    "The signer is who the log says", "The signer's registry record, logged in the same tree, gave this key its printed name and roles: the name is proven, not claimed.",
    "The signer is not proven", "The signer's registry record in the receipt does not prove who signed: do not rely on the name it shows.",
  ],
  checkpoint: [
    "The log is signed by the trusted key", "The tree's size and root are signed with the log's Ed25519 key from your trust file, not with a key the receipt brings along.",
    "The log is not signed by the trusted key", "The tree's size and root are not signed by the log key of your trust file: the receipt comes from another log, or was forged.",
  ],
  "anchors required": [
    "The anchoring requirement is met", "The anchors that hold cover what the trust file requires, so the log could not have been rewritten since without it showing on the blockchain.",
    "The anchoring requirement is not met", "The receipt does not show the log anchored on the chains your trust file requires (not yet anchored, or an anchor failed).",
  ],
};

// The checks of an evidence bundle (evledger-verify bundle): every record of a lot or a period.
const BUNDLE_STEPS = {
  bundle: [
    "The bundle is intact", "The file is an evledger evidence bundle holding exactly its four parts, each with the SHA-256 its manifest lists.",
    "The bundle is damaged or altered", "The file is not an intact evidence bundle: a part is missing, added, changed, or the file is not a bundle at all.",
  ],
  records: [
    "Every record matches its log entry", "Each record, in its RFC 8785 canonical form, hashes (SHA-256) to the hash its log entry commits to.",
    "A record does not match its log entry", "At least one record differs from what was logged, or names another entry.",
  ],
  signatures: [
    "Every signature is valid", "Each record was signed (EIP-712) by the key its entry names, for this very ledger.",
    "A signature is not valid", "At least one record's signature was not made by the key its entry names over that record.",
  ],
  authority: [
    "Every signer had the authority", "Each signer was registered, and held a role allowed to sign what they signed, both when they signed and when the ledger accepted it (replayed from the signer records in the bundle).",
    "A record was signed without authority", "At least one record was signed by a key that was not registered, was revoked, or lacked the role for it.",
  ],
  rules: [
    "Every record obeys the quality rules", "Each record was judged again, in log order, under the ledger's quality policy (workflows, release conditions, specifications, segregation of duties): none should have been refused.",
    "A record breaks the quality rules", "At least one record is one the ledger should have refused (for example a release with an open NCR): it was slipped in, or the rules were bypassed.",
  ],
  checkpoint: [
    "The log is signed by the trusted key", "The tree's size and root are signed with the log's Ed25519 key from your trust file, not with a key the bundle brings along.",
    "The log is not signed by the trusted key", "The tree's size and root are not signed by the log key of your trust file: the bundle comes from another log, or was forged.",
  ],
  inclusion: [
    "Every record is in the log", "One Merkle multiproof places every record at its index in the log's tree (RFC 9162): none was changed, added, removed or moved.",
    "The records are not shown to be in the log", "The records and the proof do not lead to the signed root: a record was changed, added, removed or moved.",
  ],
  "lot chains": [
    "No record of a lot is missing", "Each record of a lot names the previous one; the chains are complete from each lot's first record.",
    "A record of a lot is missing", "A lot's chain of records has a gap: the bundle leaves out a record of that lot.",
  ],
  "anchors required": [
    "The anchoring requirement is met", "The anchors that hold cover what the trust file requires, so the log could not have been rewritten since without it showing on the blockchain.",
    "The anchoring requirement is not met", "The bundle does not show the log anchored on the chains your trust file requires.",
  ],
};

let describing = STEPS;

function describe(name) {
  if (describing[name]) return describing[name];
  if (STEPS[name]) return STEPS[name];
  let m = name.match(/^anchor \(chain (\d+)\)$/);
  if (m) {
    return [
      `Anchored on chain ${m[1]}`, "The ledger's contract on this chain holds the log's root, for a tree that contains the record; with a proof, down to the block header.",
      `The anchor on chain ${m[1]} does not hold`, "This anchor does not hold for this log: another contract, a tree without the record, or a proof that does not match.",
    ];
  }
  m = name.match(/^chain id \(chain (.+)\)$/);
  if (m) {
    return [
      `The node is on chain ${m[1]}`, "The node you chose says which chain it follows; it must be one the trust file names.",
      `The node is on chain ${m[1]}, not a trusted one`, "The node you chose follows a chain the trust file does not name.",
    ];
  }
  m = name.match(/^chain root \(chain (\d+)\)$/);
  if (m) {
    return [
      `Chain ${m[1]} holds the root today`, "Asked now, the ledger's contract on this chain returns the same root for this tree size.",
      `Chain ${m[1]} does not hold the root`, "Asked now, the ledger's contract on this chain does not hold this root for this tree size.",
    ];
  }
  m = name.match(/^anchor transaction \(chain (\d+)\)$/);
  if (m) {
    return [
      `The anchor transaction is on chain ${m[1]}`, "The transaction named in the receipt succeeded, in a block that is still on the chain, and logged this root.",
      `The anchor transaction is not confirmed on chain ${m[1]}`, "The transaction named in the receipt is missing, failed, is in another block, or logged something else.",
    ];
  }
  return [name, "", name, ""];
}

// -- inputs ----------------------------------------------------------------------------------

/** The inputs' bytes as read from a file, a drop, the link or a QR code (null: use the text). */
const raw = { receipt: null, record: null, trust: null };
/** The name of the file the receipt input was read from (a bundle's name is in its report). */
let receiptName = null;

/** An evidence bundle is a zip: it starts with a local file header. */
const isBundle = (bytes) =>
  bytes !== null && bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
/** The trust in use, where it came from ("pinned", "published" or null), the published one. */
const state = { trust: null, trustSource: null, published: null, publishedText: null };

function setStatus(id, text, kind = "") {
  const el = $(id);
  el.textContent = text;
  el.className = "status" + (kind ? " " + kind : "");
}

function loadInto(which, bytes, how) {
  raw[which] = bytes;
  const size = bytes.length.toLocaleString("en");
  if (which === "receipt" && isBundle(bytes)) {
    // A zip is not text: the box stays empty, the status says what was loaded.
    $(`${which}-text`).value = "";
    setStatus(`${which}-status`, `${how}: an evidence bundle (${size} bytes). Every record in it will be checked.`, "loaded");
  } else {
    $(`${which}-text`).value = lenient.decode(bytes);
    setStatus(`${which}-status`, `${how} (${size} bytes).`, "loaded");
  }
  showRemove();
}

function showRemove() {
  $("record-clear").hidden = inputBytes("record") === null;
}

async function readFile(file) {
  return new Uint8Array(await file.arrayBuffer());
}

function wireInput(which, onLoaded) {
  const text = $(`${which}-text`);
  text.addEventListener("input", () => {
    raw[which] = null;
    setStatus(`${which}-status`, "");
    showRemove();
  });
  $(`${which}-file`).addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    if (which === "receipt") receiptName = file.name;
    loadInto(which, await readFile(file), `Loaded ${file.name}`);
    e.target.value = "";
    onLoaded?.();
  });
  const zone = $(`${which}-drop`);
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const file = e.dataTransfer.files[0];
    if (file) {
      if (which === "receipt") receiptName = file.name;
      loadInto(which, await readFile(file), `Loaded ${file.name}`);
    }
    else if (e.dataTransfer.getData("text")) {
      loadInto(which, utf8(e.dataTransfer.getData("text")), "Dropped text");
    } else return;
    onLoaded?.();
  });
}

/** The bytes of an input: the file as read, or the text as typed or pasted; null if empty. */
function inputBytes(which) {
  if (raw[which] !== null) return raw[which];
  const text = $(`${which}-text`).value;
  return text.trim() ? utf8(text) : null;
}

// -- trust -----------------------------------------------------------------------------------

function pinnedText() {
  try {
    return localStorage.getItem(PIN_KEY);
  } catch {
    return null; // storage blocked: nothing pinned
  }
}

function trustSummary(trust) {
  const dl = document.createElement("dl");
  const rows = [
    ["Log", trust.logOrigin],
    ["Log key", `Ed25519, key id ${trust.logKey.toString().split("+")[1]}`],
    ["Chain", String(trust.chainId)],
    ["Contract", trust.contract],
  ];
  const chains = [...trust.contracts.keys()];
  if (chains.length > 1) rows.push(["Chains", `${chains.join(", ")} (require: ${trust.requireText})`]);
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
  return dl;
}

function para(text, cls) {
  const p = document.createElement("p");
  p.textContent = text;
  if (cls) p.className = cls;
  return p;
}

function button(text, onClick, cls = "button quiet") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

function showTrust() {
  const box = $("trust-now");
  box.replaceChildren();
  const row = document.createElement("div");
  row.className = "row";
  if (state.trustSource === "pinned") {
    box.className = "trust-now pinned";
    box.append(para("Pinned trust file, remembered in this browser:"), trustSummary(state.trust));
    if (state.published && state.published.logKey.toString() !== state.trust.logKey.toString()) {
      box.append(para("Note: the server you reached publishes a different log key. Your pinned file is the one used.", "status error"));
    }
    row.append(button("Forget this trust file", () => {
      try { localStorage.removeItem(PIN_KEY); } catch { /* storage blocked */ }
      chooseTrust();
      rerun();
    }));
  } else if (state.trustSource === "published") {
    box.className = "trust-now published";
    box.append(
      para(`Published by the server you reached (${location.host}), not pinned. Whoever runs that server could publish another one: pin a trust file you got from the manufacturer to be independent of it.`),
      trustSummary(state.trust),
    );
    row.append(button("Pin this one", () => pin(state.publishedText)));
  } else {
    box.className = "trust-now none";
    box.append(para("No trust file yet. Without one the page checks the record, the log entry and the inclusion proof, but cannot tell whose log it is or who signed. Pin one below."));
    $("trust-edit").open = true;
  }
  if (row.childElementCount) box.append(row);
}

function chooseTrust() {
  const text = pinnedText();
  if (text) {
    try {
      state.trust = loadTrust(text);
      state.trustSource = "pinned";
      showTrust();
      return;
    } catch (err) {
      setStatus("trust-status", `The pinned trust file cannot be used: ${err.message}`, "error");
    }
  }
  if (state.published) {
    state.trust = state.published;
    state.trustSource = "published";
  } else {
    state.trust = null;
    state.trustSource = null;
  }
  showTrust();
}

async function fetchPublished() {
  if (!/^https?:$/.test(location.protocol)) return;
  try {
    const resp = await fetch("/v1/trust", { cache: "no-store", credentials: "omit" });
    if (!resp.ok) return;
    const text = await resp.text();
    state.published = loadTrust(text);
    state.publishedText = text;
  } catch {
    // no published trust file (opened from another server, or offline)
  }
}

function pin(text) {
  try {
    loadTrust(text);
  } catch (err) {
    setStatus("trust-status", `Not a usable trust file: ${err.message}`, "error");
    $("trust-edit").open = true;
    $("trust-text").focus();
    return false;
  }
  try {
    localStorage.setItem(PIN_KEY, text);
  } catch {
    setStatus("trust-status", "This browser does not let the page remember it; it is used until you leave.", "error");
    state.trust = loadTrust(text);
    state.trustSource = "pinned";
    showTrust();
    rerun();
    return true;
  }
  setStatus("trust-status", "Pinned.", "loaded");
  $("trust-text").value = "";
  raw.trust = null;
  $("trust-edit").open = false;
  chooseTrust();
  rerun();
  return true;
}

// -- results ---------------------------------------------------------------------------------

const ICONS = { ok: "✓", fail: "✗", unchecked: "?", "not-given": "–" };
const STATES = { ok: "Verified", fail: "Not verified", unchecked: "Could not check", "not-given": "Not given" };

function stepStatus(check) {
  if (check.unchecked) return "unchecked";
  if (check.name === "record" && check.ok && check.detail.startsWith("no record supplied")) return "not-given";
  return check.ok ? "ok" : "fail";
}

function icon(status) {
  const s = document.createElement("span");
  s.className = "icon";
  s.setAttribute("aria-hidden", "true");
  s.textContent = ICONS[status];
  return s;
}

function renderStep(check) {
  const status = stepStatus(check);
  const [okTitle, okMeaning, failTitle, failMeaning] = describe(check.name);
  const title = status === "fail" ? failTitle : okTitle;
  const meaning = status === "fail" ? failMeaning : okMeaning;
  const li = document.createElement("li");
  li.className = "step";
  li.dataset.check = check.name;
  li.dataset.status = status;
  const head = document.createElement("div");
  head.className = "step-head";
  const body = document.createElement("div");
  const h = document.createElement("p");
  h.className = "step-title";
  const stateWord = document.createElement("span");
  stateWord.className = "step-state";
  stateWord.textContent = `${STATES[status]}: `;
  h.append(stateWord, status === "not-given" ? "no record given, only its hash is proven" : title);
  body.append(h);
  if (meaning && status !== "not-given") body.append(para(meaning, "step-meaning"));
  const details = document.createElement("details");
  if (status === "fail" || status === "unchecked") details.open = true;
  const summary = document.createElement("summary");
  summary.textContent = "What was checked";
  const pre = document.createElement("p");
  pre.className = "step-detail";
  pre.textContent = check.detail;
  details.append(summary, pre);
  body.append(details);
  head.append(icon(status), body);
  li.append(head);
  return li;
}

function renderWho(report, receipt) {
  const who = $("who");
  who.replaceChildren();
  const signerCheck = report?.checks.find((c) => c.name === "signer");
  if (!signerCheck) {
    who.hidden = true;
    return;
  }
  who.hidden = false;
  if (signerCheck.ok && report.signer) {
    const s = report.signer;
    const label = para("Signed by", "label");
    const name = para(s.name, "name");
    const dl = document.createElement("dl");
    const rows = [
      ["Meaning", s.meaning],
      ["When", s.time.replace("T", " ").replace("Z", " UTC")],
      ["Roles", s.roles.join(", ") || "none"],
      ["Key", s.address],
    ];
    for (const [k, v] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      dl.append(dt, dd);
    }
    who.append(label, name, dl, para(`Proven by the signer registry record ${s.grantRecordId}, logged at leaf ${s.grantLeafIndex} of the same tree.`, "hint"));
  } else if (signerCheck.ok) {
    who.append(para("The signer's printed name cannot be shown: this receipt carries no signer registry record, so the signer is known by key only."));
    if (receipt !== null) {
      const e = receipt.entry;
      let when = `unix time ${e.signed_at}`;
      try {
        when = utcTime(e.signed_at).replace("T", " ").replace("Z", " UTC");
      } catch {
        // a time out of range stays as the number
      }
      who.append(para(`Key ${e.signer}, signed as ${e.meaning}, at ${when}.`, "hint"));
    }
  } else if (signerCheck.unchecked) {
    who.append(para("Who signed cannot be checked without a trust file."));
  } else {
    who.append(para("The signer's name could not be proven: see the failed check below.", "status error"));
  }
}

function render(out) {
  const results = $("results");
  results.hidden = false;
  $("placeholder").hidden = true;
  results.className = "results " + (out.exit === 0 ? "v-ok" : out.exit === 1 ? "v-fail" : "v-unknown");
  const status = out.exit === 0 ? "ok" : out.exit === 1 ? "fail" : "unchecked";
  const verdict = $("verdict");
  const word = out.exit === 0 ? "Verified" : out.exit === 1 ? "Not verified" : "Could not check";
  verdict.replaceChildren(icon(status), word);
  const checks = out.report?.checks ?? [];
  const failed = checks.filter((c) => !c.ok && !c.unchecked);
  let why;
  if (out.exit === 0) {
    why = `${capitalize(out.report.subject)}: every check passed.`;
  } else if (out.exit === 1) {
    why = `${failed.map((c) => describe(c.name)[2]).join(". ")}.`;
  } else {
    why = out.error ? capitalize(out.error) : "The checks could not be completed.";
  }
  $("verdict-why").textContent = why;
  renderWho(out.report, out.receipt);
  $("steps").replaceChildren(...checks.map(renderStep));
  document.querySelector(".steps-h").hidden = checks.length === 0;
  $("live").textContent = `${word}. ${why}`;
  verdict.scrollIntoView({ block: "start" });
  verdict.focus({ preventScroll: true });
}

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// -- running ---------------------------------------------------------------------------------

let running = false;

async function run() {
  if (running) return;
  const receipt = inputBytes("receipt");
  if (receipt === null) {
    setStatus("receipt-status", "Give a receipt first: choose the file, drop it here, or paste it.", "error");
    $("receipt-text").focus();
    return;
  }
  running = true;
  const go = $("verify");
  go.disabled = true;
  go.textContent = "Verifying…";
  $("live").textContent = "Verifying…";
  try {
    if (isBundle(receipt)) {
      describing = BUNDLE_STEPS;
      render(await runBundle(receipt, go));
      if ($("rpc").value.trim()) {
        $("verdict-why").append(
          " The node you named was not asked: a bundle's anchors are proven offline here " +
            "(evledger-verify bundle --rpc asks a node too).",
        );
      }
      return;
    }
    describing = STEPS;
    const rpc = $("rpc").value.trim();
    const out = await verifyReceiptInput({
      receipt,
      record: inputBytes("record"),
      trust: state.trust,
      rpc: rpc ? [rpc] : [],
    });
    render(out);
  } finally {
    running = false;
    go.disabled = false;
    go.textContent = "Verify";
  }
}

/** An evidence bundle, checked against the trust file in use (there is no record to add). */
async function runBundle(bundle, go) {
  if (state.trust === null) {
    return {
      exit: 2,
      report: null,
      receipt: null,
      error: "an evidence bundle is verified against a trust file: pin the manufacturer's trust file first",
    };
  }
  const stages = { records: "Reading records", signatures: "Checking signatures" };
  const out = await verifyBundleInput({
    bundle,
    trust: state.trust,
    name: receiptName ?? "bundle.zip",
    progress: (stage, done, total) => {
      go.textContent = `${stages[stage] ?? "Checking"} ${done.toLocaleString("en")}/${total.toLocaleString("en")}…`;
    },
  });
  return { ...out, receipt: null };
}

function rerun() {
  if (!$("results").hidden && inputBytes("receipt") !== null) run();
}

// -- the QR code -----------------------------------------------------------------------------

let camera = null;

async function handleScanned(text) {
  let hash = null;
  try {
    hash = new URL(text).hash;
  } catch {
    // not a URL
  }
  if (hash) {
    const got = await parseFragment(hash);
    if (got.receipt) {
      loadInto("receipt", got.receipt, "Read from the QR code");
      if (got.record) loadInto("record", got.record, "Read from the QR code");
      return true;
    }
  }
  if (text.trim().startsWith("{")) {
    loadInto("receipt", utf8(text), "Read from the QR code");
    return true;
  }
  return false;
}

async function startCamera() {
  const dialog = $("camera");
  const status = $("camera-status");
  if (!navigator.mediaDevices?.getUserMedia) {
    setStatus("receipt-status", "This browser cannot use a camera here (a camera needs a secure page: https, or a saved file).", "error");
    return;
  }
  dialog.showModal();
  status.textContent = "Starting the camera…";
  const video = $("camera-video");
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    camera = { stream, timer: null };
    video.srcObject = stream;
    await video.play();
  } catch (err) {
    status.textContent = `The camera could not be started: ${err.message}`;
    return;
  }
  status.textContent = "Point the camera at the QR code.";
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  // Dense codes (a receipt is a large QR code) decode at full size; smaller frames are quicker
  // on slow phones: alternate between the two, sampled without smoothing (which blurs modules).
  let turn = 0;
  const tick = async () => {
    if (!camera) return;
    if (video.readyState >= 2 && video.videoWidth) {
      const cap = turn++ % 2 === 0 ? 1280 : 640;
      const scale = Math.min(1, cap / Math.max(video.videoWidth, video.videoHeight));
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const code = jsQR(img.data, img.width, img.height, { inversionAttempts: "attemptBoth" });
      if (code?.data) {
        try {
          if (await handleScanned(code.data)) {
            dialog.close();
            run();
            return;
          }
          status.textContent = "This QR code holds no receipt. Try the certificate's code.";
        } catch (err) {
          status.textContent = err.message;
        }
      }
    }
    camera.timer = setTimeout(tick, 200);
  };
  tick();
}

function stopCamera() {
  if (!camera) return;
  clearTimeout(camera.timer);
  for (const track of camera.stream.getTracks()) track.stop();
  $("camera-video").srcObject = null;
  camera = null;
}

// -- start -----------------------------------------------------------------------------------

async function fromFragment() {
  if (!location.hash || location.hash === "#") return false;
  try {
    const got = await parseFragment(location.hash);
    if (!got.receipt) return false;
    loadInto("receipt", got.receipt, "Loaded from the link");
    if (got.record) loadInto("record", got.record, "Loaded from the link");
    return true;
  } catch (err) {
    const message = err instanceof CannotCheckError ? err.message : String(err);
    setStatus("receipt-status", `The link's receipt cannot be read: ${message}`, "error");
    return false;
  }
}

async function start() {
  wireInput("receipt");
  wireInput("record");
  wireInput("trust", () => pin(lenient.decode(raw.trust)));
  $("record-clear").addEventListener("click", () => {
    raw.record = null;
    $("record-text").value = "";
    setStatus("record-status", "Record removed.");
    showRemove();
    $("record-text").focus();
  });
  $("trust-pin").addEventListener("click", () => {
    const text = raw.trust !== null ? lenient.decode(raw.trust) : $("trust-text").value;
    if (!text.trim()) {
      setStatus("trust-status", "Paste or choose a trust file first.", "error");
      $("trust-text").focus();
      return;
    }
    pin(text);
  });
  $("inputs").addEventListener("submit", (e) => {
    e.preventDefault();
    run();
  });
  $("scan").addEventListener("click", startCamera);
  $("camera-close").addEventListener("click", () => $("camera").close());
  $("camera").addEventListener("close", stopCamera);
  window.addEventListener("hashchange", async () => {
    if (await fromFragment()) run();
  });
  showRemove();
  const linked = await fromFragment();
  await fetchPublished();
  chooseTrust();
  if (linked) run();
}

start();
