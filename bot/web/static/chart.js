// Liquidated USD per interval: longs up, shorts down, stacked by exchange, outages shaded.

import { h, replace } from "./dom.js";
import { exchangeName, minuteTime, time, usd } from "./format.js";
import { t } from "./i18n.js";

// Shades per exchange, in the order exchanges stack (alphabetical, as the API gives them).
const LONG_SHADES = ["#f6465d", "#b8324a", "#ff8a99", "#8a2436"];
const SHORT_SHADES = ["#0ecb81", "#08935d", "#6fe3b4", "#056b43"];
const GAP_FILL = "rgba(240, 185, 11, 0.13)";
const GRID = "rgba(138, 147, 163, 0.12)";
const AXIS = "#8a93a3";

function cumulative(rows) {
  const sums = [];
  let running = null;
  for (const row of rows) {
    running = running === null ? row.slice() : running.map((v, i) => v + row[i]);
    sums.push(running);
  }
  return sums;
}

export class Chart {
  constructor(root, readout, legend) {
    this.root = root;
    this.readout = readout;
    this.legend = legend;
    this.plot = null;
    this.shape = "";
    this.series = null;
    this.lang = "en";
    new ResizeObserver(() => this.resize()).observe(root);
  }

  size() {
    const width = Math.max(200, Math.floor(this.root.clientWidth));
    return { width, height: width < 500 ? 200 : 260 };
  }

  resize() {
    if (this.plot) this.plot.setSize(this.size());
  }

  show(series, lang) {
    const uPlot = globalThis.uPlot;
    if (!uPlot) return;
    this.series = series;
    this.lang = lang;
    const xs = series.edges_ms.slice(0, -1).map((ms) => ms / 1000);
    const longs = cumulative(series.long_usd);
    const shorts = cumulative(series.short_usd).map((row) => row.map((v) => -v));
    const names = series.exchanges;
    // Draw the tallest stack first: each later (shorter) bar paints over its bottom part.
    const order = names.map((_, i) => i).reverse();
    const data = [xs, ...order.map((i) => longs[i]), ...order.map((i) => shorts[i])];
    const shape = `${names.join(",")}|${series.bucket_s}|${lang}`;
    if (!this.plot || shape !== this.shape) {
      this.build(uPlot, names, order, series.bucket_s, data);
      this.shape = shape;
    } else {
      this.plot.setData(data);
    }
    this.renderLegend(names);
  }

  build(uPlot, names, order, bucketS, data) {
    if (this.plot) this.plot.destroy();
    const bars = uPlot.paths.bars({ size: [0.86, 40], align: 1 });
    const series = [{}];
    for (const side of ["long", "short"]) {
      const shades = side === "long" ? LONG_SHADES : SHORT_SHADES;
      for (const i of order) {
        series.push({
          label: `${exchangeName(names[i])} ${side}`,
          fill: shades[i % shades.length],
          stroke: shades[i % shades.length],
          width: 0,
          paths: bars,
          points: { show: false },
        });
      }
    }
    const compact = (v) => usd(Math.abs(v));
    const options = {
      ...this.size(),
      series,
      legend: { show: false },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: (u, min, max) => [min, max + bucketS] },
        y: { range: (u, min, max) => aroundZero(min, max) },
      },
      axes: [
        {
          stroke: AXIS,
          grid: { stroke: GRID },
          ticks: { stroke: GRID },
          values: (u, splits) => splits.map((s) => minuteTime(s * 1000)),
        },
        { stroke: AXIS, grid: { stroke: GRID }, ticks: { stroke: GRID }, size: 64, values: (u, vals) => vals.map(compact) },
      ],
      hooks: {
        drawClear: [(u) => this.shadeGaps(u)],
        setCursor: [(u) => this.showReadout(u)],
      },
    };
    this.plot = new uPlot(options, data, this.root);
  }

  shadeGaps(u) {
    if (!this.series) return;
    const { ctx, bbox } = u;
    ctx.save();
    ctx.fillStyle = GAP_FILL;
    for (const gap of this.series.gaps) {
      const left = Math.max(bbox.left, u.valToPos(gap.start_ms / 1000, "x", true));
      const right = Math.min(bbox.left + bbox.width, u.valToPos(gap.end_ms / 1000, "x", true));
      if (right > left) ctx.fillRect(left, bbox.top, right - left, bbox.height);
    }
    ctx.restore();
  }

  showReadout(u) {
    const index = u.cursor.idx;
    const s = this.series;
    if (index === null || index === undefined || !s) {
      this.readout.textContent = "";
      return;
    }
    const sum = (rows) => rows.reduce((total, row) => total + row[index], 0);
    this.readout.textContent = t(this.lang, "readout", {
      time: time(s.edges_ms[index]),
      long: usd(sum(s.long_usd)),
      short: usd(sum(s.short_usd)),
    });
  }

  renderLegend(names) {
    const items = [];
    names.forEach((name, i) => {
      const long = h("span", { class: "swatch", "aria-hidden": "true" });
      long.style.background = LONG_SHADES[i % LONG_SHADES.length];
      const short = h("span", { class: "swatch", "aria-hidden": "true" });
      short.style.background = SHORT_SHADES[i % SHORT_SHADES.length];
      items.push(h("li", {}, long, short, exchangeName(name)));
    });
    if (this.series && this.series.gaps.length) {
      items.push(h("li", {}, h("span", { class: "swatch gap", "aria-hidden": "true" }), t(this.lang, "gapLegend")));
    }
    replace(this.legend, items);
  }
}

function aroundZero(min, max) {
  // Zero always shows, with room on both sides so a quiet side is still readable.
  let top = Math.max(max ?? 0, 0);
  let bottom = Math.min(min ?? 0, 0);
  const span = Math.max(top, -bottom, 1);
  top = Math.max(top, span * 0.2);
  bottom = Math.min(bottom, -span * 0.2);
  return [bottom * 1.08, top * 1.08];
}
