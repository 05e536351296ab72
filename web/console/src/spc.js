// Control charts drawn here (SVG, no chart library) from GET /v1/spc/{id}: the points (or
// subgroup means) in log order, the centre line and control limits, the specification limits,
// the points that broke a run rule; below, the moving range or subgroup range. A table of the
// same points follows for screen readers and for copying.

import { h, s } from "./dom.js";

const W = 720;
const H = 220;
const PAD = { left: 56, right: 72, top: 12, bottom: 24 };

const fmt = (x) => (x === null || x === undefined ? "–" : Number(x).toPrecision(5).replace(/\.?0+$/, ""));

function panel(title, points, value, lines, marks) {
  const values = points.map(value).filter((v) => v !== null && v !== undefined);
  const ys = [...values, ...lines.map((l) => l.y).filter((y) => y !== null && y !== undefined)];
  if (!ys.length) return null;
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  const x = (i) => PAD.left + (points.length < 2 ? 0.5 : i / (points.length - 1)) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, preserveAspectRatio: "xMidYMid meet" });
  svg.append(s("title", {}, title));
  svg.append(s("rect", { x: PAD.left, y: PAD.top, width: W - PAD.left - PAD.right, height: H - PAD.top - PAD.bottom, class: "plot" }));
  for (const l of lines) {
    if (l.y === null || l.y === undefined) continue;
    svg.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(l.y), y2: y(l.y), class: `limit ${l.kind}` }));
    svg.append(s("text", { x: W - PAD.right + 4, y: y(l.y) + 4, class: `limit-label ${l.kind}` }, `${l.label} ${fmt(l.y)}`));
  }
  const path = [];
  points.forEach((p, i) => {
    const v = value(p);
    if (v === null || v === undefined) return;
    path.push(`${path.length ? "L" : "M"} ${x(i).toFixed(1)} ${y(v).toFixed(1)}`);
  });
  svg.append(s("path", { d: path.join(" "), class: "series" }));
  points.forEach((p, i) => {
    const v = value(p);
    if (v === null || v === undefined) return;
    const bad = marks(p);
    svg.append(s("circle", { cx: x(i), cy: y(v), r: bad ? 5 : 3, class: bad ? "point bad" : "point" },
      s("title", {}, `${p.record_id}: ${fmt(v)}${bad ? ` (${bad})` : ""}`)));
  });
  svg.append(s("text", { x: 4, y: PAD.top + 10, class: "axis" }, fmt(hi)));
  svg.append(s("text", { x: 4, y: H - PAD.bottom, class: "axis" }, fmt(lo)));
  return svg;
}

export function controlChart(view) {
  const l = view.limits;
  const unit = view.unit ? ` ${view.unit}` : "";
  const name = view.chart === "xbar_r" ? "X-bar" : "Individuals";
  const rangeName = view.chart === "xbar_r" ? "Range" : "Moving range";
  const marks = (p) => [...(p.violations || []), p.out_of_spec ? "out of specification" : null].filter(Boolean).join(", ");
  const main = panel(`${name} chart of ${view.characteristic.id}: ${view.points.length} points`, view.points, (p) => p.value, [
    { y: l?.ucl, label: "UCL", kind: "control" },
    { y: l?.center, label: "CL", kind: "center" },
    { y: l?.lcl, label: "LCL", kind: "control" },
    { y: view.spec?.upper, label: "USL", kind: "spec" },
    { y: view.spec?.lower, label: "LSL", kind: "spec" },
  ], marks);
  const range = panel(`${rangeName} chart`, view.points, (p) => p.range, [
    { y: l?.range_ucl, label: "UCL", kind: "control" },
    { y: l?.range_center, label: "CL", kind: "center" },
    { y: l?.range_lcl, label: "LCL", kind: "control" },
  ], () => "");
  const table = h("table", { class: "points" },
    h("caption", {}, "The points"),
    h("thead", {}, h("tr", {}, ["#", "Record", "Lot", "At", `Value${unit}`, rangeName, "Rules broken"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, view.points.map((p, i) => h("tr", { class: marks(p) ? "fail" : "" },
      h("td", {}, String(i + 1)), h("td", {}, p.record_id), h("td", {}, p.lot || ""), h("td", {}, p.at || ""),
      h("td", {}, fmt(p.value)), h("td", {}, fmt(p.range)), h("td", {}, marks(p))))));
  return { main, range, table };
}
