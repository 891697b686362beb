// Small SVG charts for the dashboard: no library, no build. Every chart keeps its legend
// outside the plot area, uses whole-number ticks where the data are counts, and labels its
// axes in words.
(() => {
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// "Nice" ticks between lo and hi: 1, 2 or 5 times a power of ten; integers when `integer`.
function niceTicks(lo, hi, count, integer) {
  if (!(hi > lo)) hi = lo + 1;
  let step = (hi - lo) / Math.max(1, count);
  const p = Math.pow(10, Math.floor(Math.log10(step)));
  const m = step / p;
  step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  if (integer) step = Math.max(1, Math.round(step));
  // From the last multiple of the step at or below lo to the first at or above hi, so the
  // axis always covers the data.
  const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
  const ticks = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

function fmtNumber(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.001 || a >= 1e6)) return v.toExponential(1);
  if (Number.isInteger(v)) return v.toLocaleString("en");
  return Number(v.toPrecision(3)).toLocaleString("en");
}

// Horizontal bar chart: rows [{label, values: [n...]}], series [{name, cls}], stacked.
function barChart(rows, series, opts) {
  const o = Object.assign({ width: 560, bar: 22, gap: 8, label: 130, unit: "" }, opts || {});
  const plotW = o.width - o.label - 60;
  const height = rows.length * (o.bar + o.gap) + 50;
  const svg = svgEl("svg", { width: o.width, height, viewBox: `0 0 ${o.width} ${height}`, class: "chart", role: "img" });
  const max = o.max || Math.max(1, ...rows.map((r) => r.values.reduce((a, b) => a + (b || 0), 0)));
  const ticks = niceTicks(0, max, 4, o.integer !== false);
  const top = ticks[ticks.length - 1] || max;
  const x = (v) => o.label + (v / top) * plotW;
  for (const t of ticks) {
    svg.append(svgEl("line", { x1: x(t), x2: x(t), y1: 4, y2: height - 40, class: "grid" }));
    svg.append(svgEl("text", { x: x(t), y: height - 26, class: "tick", "text-anchor": "middle" }, fmtNumber(t)));
  }
  rows.forEach((r, i) => {
    const y = 6 + i * (o.bar + o.gap);
    svg.append(svgEl("text", { x: o.label - 8, y: y + o.bar * 0.7, class: "label", "text-anchor": "end" }, r.label));
    let acc = 0;
    r.values.forEach((v, j) => {
      if (!v) return;
      const rect = svgEl("rect", { x: x(acc), y, width: Math.max(1, x(acc + v) - x(acc)), height: o.bar, class: series[j].cls });
      rect.append(svgEl("title", {}, `${r.label}: ${fmtNumber(v)} ${series[j].name}`));
      svg.append(rect);
      acc += v;
    });
    svg.append(svgEl("text", { x: x(acc) + 6, y: y + o.bar * 0.7, class: "value" }, fmtNumber(acc) + (o.unit ? " " + o.unit : "")));
  });
  if (o.axis) svg.append(svgEl("text", { x: o.label + plotW / 2, y: height - 8, class: "axis", "text-anchor": "middle" }, o.axis));
  return withLegend(svg, series);
}

function withLegend(svg, series) {
  const box = document.createElement("figure");
  box.className = "chart-box";
  box.append(svg);
  if (series.length > 1) {
    const legend = document.createElement("figcaption");
    legend.className = "legend";
    for (const s of series) {
      const item = document.createElement("span");
      const sw = document.createElement("i");
      sw.className = "swatch " + s.cls;
      item.append(sw, document.createTextNode(s.name));
      legend.append(item);
    }
    box.append(legend);
  }
  return box;
}

// Line chart over time with horizontal threshold lines: points [{t, v}], lines [{v, name, cls}].
function thresholdChart(points, lines, opts) {
  const o = Object.assign({ width: 560, height: 230, left: 56, right: 150, top: 24, bottom: 44 }, opts || {});
  const svg = svgEl("svg", { width: o.width, height: o.height, viewBox: `0 0 ${o.width} ${o.height}`, class: "chart", role: "img" });
  const vals = points.map((p) => p.v).concat(lines.map((l) => l.v)).filter((v) => Number.isFinite(v));
  let lo = Math.min(0, ...vals), hi = Math.max(...vals, 1e-9);
  if (o.log && lo >= 0) lo = 0;
  const span = hi - lo || 1;
  hi += span * 0.08;
  const ticks = niceTicks(lo, hi, 4, false);
  lo = Math.min(lo, ticks[0]);
  hi = Math.max(hi, ticks[ticks.length - 1]);
  const plotW = o.width - o.left - o.right, plotH = o.height - o.top - o.bottom;
  const t0 = Math.min(...points.map((p) => p.t)), t1 = Math.max(...points.map((p) => p.t), t0 + 1);
  const x = (t) => o.left + ((t - t0) / (t1 - t0 || 1)) * plotW;
  const y = (v) => o.top + plotH - ((v - lo) / (hi - lo)) * plotH;
  for (const t of ticks) {
    svg.append(svgEl("line", { x1: o.left, x2: o.left + plotW, y1: y(t), y2: y(t), class: "grid" }));
    svg.append(svgEl("text", { x: o.left - 6, y: y(t) + 4, class: "tick", "text-anchor": "end" }, fmtNumber(t)));
  }
  // Threshold lines; labels at the right, pushed apart when two levels are close (a
  // tripwire pauses and aborts at the same count: one label says both).
  const drawn = [];
  for (const l of lines) {
    if (!Number.isFinite(l.v)) continue;
    const same = drawn.find((d) => d.v === l.v);
    if (same) {
      same.text.textContent = `${same.name} and ${l.name} ${fmtNumber(l.v)}`;
      continue;
    }
    svg.append(svgEl("line", { x1: o.left, x2: o.left + plotW, y1: y(l.v), y2: y(l.v), class: "threshold " + l.cls }));
    let ly = y(l.v) + 4;
    for (const d of drawn) if (Math.abs(d.y - ly) < 13) ly = d.y + (ly >= d.y ? 13 : -13);
    const text = svgEl("text", { x: o.left + plotW + 6, y: ly, class: "threshold-label " + l.cls }, `${l.name} ${fmtNumber(l.v)}`);
    svg.append(text);
    drawn.push({ v: l.v, y: ly, name: l.name, text });
  }
  if (points.length > 1) {
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
    svg.append(svgEl("path", { d, class: "series" }));
  }
  for (const p of points) {
    const c = svgEl("circle", { cx: x(p.t), cy: y(p.v), r: 4, class: "point" });
    c.append(svgEl("title", {}, `${new Date(p.t * 1000).toLocaleTimeString("en-GB")}: ${fmtNumber(p.v)}${p.note ? " (" + p.note + ")" : ""}`));
    svg.append(c);
  }
  // Time axis: first and last point, in local clock time.
  svg.append(svgEl("text", { x: o.left, y: o.height - o.bottom + 16, class: "tick", "text-anchor": "start" }, new Date(t0 * 1000).toLocaleTimeString("en-GB")));
  if (t1 > t0 + 1) svg.append(svgEl("text", { x: o.left + plotW, y: o.height - o.bottom + 16, class: "tick", "text-anchor": "end" }, new Date(t1 * 1000).toLocaleTimeString("en-GB")));
  if (o.axis) svg.append(svgEl("text", { x: o.left, y: o.top - 4, class: "axis", "text-anchor": "start" }, o.axis));
  svg.append(svgEl("text", { x: o.left + plotW / 2, y: o.height - 6, class: "axis", "text-anchor": "middle" }, "time of decision"));
  return withLegend(svg, []);
}

// Daily counts per series as small multiples: one row per series, whole-number ticks.
function sparkRows(series, firstDayUnix) {
  const box = document.createElement("div");
  box.className = "sparks";
  for (const [name, counts] of series) {
    const w = 300, h = 44, max = Math.max(1, ...counts);
    const svg = svgEl("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}`, class: "chart spark", role: "img" });
    const bw = w / Math.max(1, counts.length);
    counts.forEach((c, i) => {
      if (!c) return;
      const bh = (c / max) * (h - 6);
      const r = svgEl("rect", { x: i * bw + 1, y: h - bh, width: Math.max(1, bw - 2), height: bh, class: "bar-primary" });
      const day = new Date((firstDayUnix + i * 86400) * 1000).toISOString().slice(0, 10);
      r.append(svgEl("title", {}, `${day}: ${c}`));
      svg.append(r);
    });
    const row = document.createElement("div");
    row.className = "spark-row";
    const label = document.createElement("span");
    label.textContent = `${name} (max ${max}/day)`;
    row.append(label, svg);
    box.append(row);
  }
  if (series.length) {
    const days = series[0][1].length;
    const d = (i) => new Date((firstDayUnix + i * 86400) * 1000).toISOString().slice(0, 10);
    const axis = document.createElement("div");
    axis.className = "spark-axis muted";
    axis.textContent = `one bar per day, ${d(0)} to ${d(days - 1)}`;
    box.append(axis);
  }
  return box;
}

window.charts = { barChart, thresholdChart, sparkRows, fmtNumber, niceTicks };
})();
