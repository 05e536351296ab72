// A tiny DOM builder: elements from tag, attributes and children; text is always text (no
// HTML parsing of data), so nothing a record holds can run in the page.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let liveTimer = null;
/** Say something to screen readers (the polite live region). */
export function announce(text) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = "";
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => (live.textContent = text), 50);
}

/** A UTC time as people read it: 2026-11-30 14:03:07 UTC. */
export function utc(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}

export const STATE_LABEL = {
  in_process: "In process",
  quarantined: "Quarantined",
  released: "Released",
  rejected: "Rejected",
  on_hold: "On hold",
  recalled: "Recalled",
};

export function badge(state) {
  return h("span", { class: `badge state-${state}` }, STATE_LABEL[state] || state);
}

export function productName(p) {
  if (!p || typeof p !== "object") return "";
  return [p.name, p.gtin && `GTIN ${p.gtin}`].filter(Boolean).join(" · ");
}
