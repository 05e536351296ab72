// The trace as a graph, laid out here (no library): the lot in the middle column, what it
// was made from to the left (one column per step back), what was made from it to the right.
// Each lot is a link (keyboard: Tab, Enter) to its own page; focusing one highlights its
// links. A table beside it lists the same links for screen readers and for copying.

import { h, s, STATE_LABEL } from "./dom.js";

const COL = 200;
const ROW = 64;
const W = 160;
const H = 44;

/** Nodes {lot, column, state, product} and edges {from, to, record_ids} of the two traces. */
export function merge(start, backward, forward) {
  const nodes = new Map();
  const put = (n, column) => {
    const old = nodes.get(n.lot);
    if (!old || Math.abs(column) < Math.abs(old.column)) nodes.set(n.lot, { ...n, column });
  };
  for (const n of backward?.nodes || []) put(n, -n.depth);
  for (const n of forward?.nodes || []) put(n, n.depth);
  if (!nodes.has(start)) nodes.set(start, { lot: start, column: 0, state: "in_process" });
  const seen = new Set();
  const edges = [];
  for (const e of [...(backward?.edges || []), ...(forward?.edges || [])]) {
    const key = `${e.from}\u0000${e.to}`;
    if (seen.has(key) || !nodes.has(e.from) || !nodes.has(e.to)) continue;
    seen.add(key);
    edges.push(e);
  }
  return { nodes: [...nodes.values()], edges };
}

export function layout(graph) {
  const cols = new Map();
  for (const n of graph.nodes) {
    if (!cols.has(n.column)) cols.set(n.column, []);
    cols.get(n.column).push(n);
  }
  const keys = [...cols.keys()].sort((a, b) => a - b);
  const minCol = keys[0] ?? 0;
  const tallest = Math.max(1, ...[...cols.values()].map((c) => c.length));
  const pos = new Map();
  for (const k of keys) {
    const col = cols.get(k).sort((a, b) => (a.lot < b.lot ? -1 : a.lot > b.lot ? 1 : 0));
    const offset = ((tallest - col.length) * ROW) / 2;
    col.forEach((n, i) => pos.set(n.lot, { x: 20 + (k - minCol) * COL, y: 20 + offset + i * ROW }));
  }
  return { pos, width: 40 + (keys.length - 1) * COL + W, height: 40 + (tallest - 1) * ROW + H };
}

const short = (t, n = 22) => (t.length > n ? t.slice(0, n - 1) + "…" : t);

export function traceGraph(start, backward, forward, href) {
  const graph = merge(start, backward, forward);
  const { pos, width, height } = layout(graph);
  const titleId = `trace-title-${Math.random().toString(36).slice(2, 8)}`;
  const svg = s("svg", {
    class: "trace",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "group",
    "aria-labelledby": titleId,
  });
  svg.append(s("title", { id: titleId }, `Trace of lot ${start}: ${graph.nodes.length} lots, ${graph.edges.length} links`));
  svg.append(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }))));
  const edgeEls = [];
  for (const e of graph.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    const [x1, y1, x2, y2] = a.x <= b.x
      ? [a.x + W, a.y + H / 2, b.x, b.y + H / 2]
      : [a.x, a.y + H / 2, b.x + W, b.y + H / 2];
    const mid = (x1 + x2) / 2;
    const path = s("path", { d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`, class: "edge", "marker-end": "url(#arrow)" },
      s("title", {}, `${e.from} → ${e.to} (${(e.record_ids || []).join(", ")})`));
    path.dataset.from = e.from;
    path.dataset.to = e.to;
    edgeEls.push(path);
    svg.append(path);
  }
  for (const n of graph.nodes) {
    const p = pos.get(n.lot);
    // The name starts with the text shown (WCAG 2.5.3, label in name): the lot, its state.
    const shown = `${short(n.lot)} ${short(STATE_LABEL[n.state] || n.state || "")}`;
    const label = `${shown}${short(n.lot) !== n.lot ? `, lot ${n.lot}` : ""}${n.lot === start ? " (this lot)" : ""}`;
    const g = s("a", { href: href(n.lot), class: `node state-${n.state}${n.lot === start ? " current" : ""}`, "aria-label": label },
      s("rect", { x: p.x, y: p.y, width: W, height: H, rx: 6 }),
      // One text of two lines, the second starting with a space: its text reads "LOT State".
      s("text", {}, s("tspan", { x: p.x + 10, y: p.y + 18, class: "lot" }, short(n.lot)),
        s("tspan", { x: p.x + 10, y: p.y + 35, class: "sub" }, " " + short(STATE_LABEL[n.state] || n.state || ""))));
    const light = (on) => {
      for (const e of edgeEls) if (e.dataset.from === n.lot || e.dataset.to === n.lot) e.classList.toggle("lit", on);
    };
    g.addEventListener("focus", () => light(true));
    g.addEventListener("blur", () => light(false));
    g.addEventListener("mouseenter", () => light(true));
    g.addEventListener("mouseleave", () => light(false));
    svg.append(g);
  }
  const table = h("table", { class: "links" },
    h("caption", {}, "The same links as a table"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "From (input)"), h("th", { scope: "col" }, "To (made)"), h("th", { scope: "col" }, "Proving records"))),
    h("tbody", {}, graph.edges.map((e) => h("tr", {},
      h("td", {}, h("a", { href: href(e.from) }, e.from)),
      h("td", {}, h("a", { href: href(e.to) }, e.to)),
      h("td", {}, (e.record_ids || []).join(", "))))));
  return { svg, table, graph };
}
