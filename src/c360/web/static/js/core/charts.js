// Small SVG charts drawn from data: accessible (role="img" with a label, and the numbers in
// a table for screen readers), no library, nothing loaded from elsewhere.
import { h } from "./dom.js";
import { number } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function dataTable(title, labels, series) {
  return h(
    "table",
    { class: "sr-only" },
    h("caption", {}, title),
    h("thead", {}, h("tr", {}, h("th", {}, ""), series.map((s) => h("th", { scope: "col" }, s.name)))),
    h("tbody", {}, labels.map((label, i) => h("tr", {}, h("th", { scope: "row" }, label), series.map((s) => h("td", {}, number(s.values[i])))))),
  );
}

// series: [{name, values: [..]}], one bar group per label. The drawing is 640 units wide
// whatever the number of bars, so it scales with its card; at most ten labels are written.
export function barChart({ title, labels, series, height = 220, format = number, empty }) {
  const total = series.reduce((n, s) => n + s.values.reduce((m, v) => m + Math.abs(v || 0), 0), 0);
  if (!labels.length || (empty && total === 0)) {
    return h("figure", { class: "chart" }, h("p", { class: "muted" }, empty || "–"));
  }
  const width = 640;
  const left = 68;
  const max = Math.max(1, ...series.flatMap((s) => s.values.map((v) => v || 0)));
  const plotH = height - 34;
  const groupW = (width - left) / labels.length;
  const barW = Math.max(2, (groupW * 0.8) / series.length);
  const every = Math.ceil(labels.length / 10);
  const bars = [];
  labels.forEach((label, i) => {
    series.forEach((s, j) => {
      const v = s.values[i] || 0;
      const bh = (Math.max(0, v) / max) * plotH;
      bars.push(
        svg(
          "rect",
          { class: j ? "bar alt" : "bar", x: left + i * groupW + groupW * 0.1 + j * barW, y: plotH - bh + 6, width: barW, height: bh },
          svg("title", {}, `${label} ${s.name}: ${format(v)}`),
        ),
      );
    });
    if (i % every === 0) bars.push(svg("text", { x: left + i * groupW + groupW / 2, y: height - 8, "text-anchor": "middle" }, label));
  });
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title },
    svg("line", { class: "axis", x1: left - 4, y1: plotH + 6, x2: width, y2: plotH + 6 }),
    svg("text", { x: left - 8, y: 16, "text-anchor": "end" }, format(max)),
    svg("text", { x: left - 8, y: plotH + 6, "text-anchor": "end" }, format(0)),
    bars,
  );
  return h("figure", { class: "chart" }, chart, legend(series), dataTable(title, labels, series));
}

function legend(series) {
  if (series.length < 2) return null;
  return h(
    "div",
    { class: "legend", "aria-hidden": "true" },
    series.map((s, j) => h("span", {}, h("span", { class: "swatch", style: `background:${j ? "#8a5a00" : "#0b5cad"}` }), s.name)),
  );
}
