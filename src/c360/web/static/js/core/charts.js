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

// series: [{name, values: [..]}], one bar group per label.
export function barChart({ title, labels, series, height = 180, format = number }) {
  const width = Math.max(320, labels.length * 28 * series.length + 40);
  const max = Math.max(1, ...series.flatMap((s) => s.values.map((v) => v || 0)));
  const plotH = height - 30;
  const groupW = (width - 40) / Math.max(1, labels.length);
  const barW = Math.max(4, (groupW - 6) / series.length);
  const bars = [];
  labels.forEach((label, i) => {
    series.forEach((s, j) => {
      const v = s.values[i] || 0;
      const bh = (v / max) * plotH;
      bars.push(
        svg(
          "rect",
          { class: j ? "bar alt" : "bar", x: 40 + i * groupW + j * barW, y: plotH - bh + 5, width: barW - 1, height: Math.max(0, bh) },
          svg("title", {}, `${label} ${s.name}: ${format(v)}`),
        ),
      );
    });
    if (labels.length <= 16 || i % Math.ceil(labels.length / 16) === 0) {
      bars.push(svg("text", { x: 40 + i * groupW, y: height - 8 }, label));
    }
  });
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title },
    svg("line", { class: "axis", x1: 38, y1: plotH + 5, x2: width, y2: plotH + 5 }),
    svg("text", { x: 0, y: 14 }, format(max)),
    svg("text", { x: 0, y: plotH + 5 }, format(0)),
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
