// The parameter search report's charts, drawn with the vendored uPlot (botrunner/web_static) from the JSON that
// botrunner/optimize/report.py writes into #report-data: the optimisation history, parameter importance, each
// parameter against the score, and the equity of the best configuration with its out-of-sample windows shaded.
// No network, no storage, no clock: the page only reads its data.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("report-data").textContent);
  const state = { charts: [], ready: false };
  window.__report = state;
  const AXIS_SIZE = 70;
  const utcDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
  const stamp = uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}");

  function number(v, decimals) {
    if (v == null || !isFinite(v)) return "–";
    return v.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  }

  function width(el) {
    return Math.max(320, el.clientWidth);
  }

  function dots(colour) {
    return { stroke: colour, fill: colour, size: 6, show: true };
  }

  function history(el) {
    const h = data.history;
    if (!h.x.length) {
      el.textContent = "No completed trial.";
      return null;
    }
    const opts = {
      title: "In-sample " + data.objective + " by trial",
      width: width(el),
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: "trial", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] },
        { size: AXIS_SIZE, label: data.objective }],
      series: [
        { label: "trial" },
        { label: "score", stroke: "transparent", points: dots("#1f77b4"), value: (u, v) => number(v, 4) },
        { label: "best so far", stroke: "#d62728", width: 1.5, paths: uPlot.paths.stepped({ align: 1 }),
          points: { show: false }, value: (u, v) => number(v, 4) },
      ],
    };
    return new uPlot(opts, [h.x, h.value, h.best], el);
  }

  function importance(el) {
    const imp = data.importance;
    if (!imp) return null;
    const names = Object.keys(imp);
    const xs = names.map((_, i) => i);
    const opts = {
      title: "Parameter importance",
      width: width(el),
      height: 60 + 40 * Math.max(3, names.length),
      scales: { x: { time: false, range: [-0.5, names.length - 0.5] }, y: { range: [0, 1] } },
      axes: [
        { values: (u, splits) => splits.map((v) => (Number.isInteger(v) && names[v] != null ? names[v] : "")),
          splits: () => xs, size: 40 },
        { size: AXIS_SIZE, label: "share" },
      ],
      series: [
        { label: "parameter", value: (u, v) => (v == null ? "–" : names[v]) },
        { label: "importance", stroke: "#1f4e79", fill: "rgba(31,78,121,0.5)",
          paths: uPlot.paths.bars({ size: [0.6, 80] }), points: { show: false }, value: (u, v) => number(v, 3) },
      ],
    };
    return new uPlot(opts, [xs, names.map((n) => imp[n])], el);
  }

  function slice(spec, parent) {
    const el = document.createElement("div");
    el.className = "chart";
    parent.appendChild(el);
    if (!spec.x.length) return null;
    const labels = spec.labels;
    const xAxis = labels
      ? { label: spec.path, splits: () => labels.map((_, i) => i), values: (u, s) => s.map((v) => labels[v] || "") }
      : { label: spec.path };
    const opts = {
      title: spec.path,
      width: width(el),
      height: 220,
      scales: { x: { time: false, range: labels ? [-0.5, labels.length - 0.5] : undefined } },
      axes: [xAxis, { size: AXIS_SIZE, label: data.objective }],
      series: [
        { label: spec.path, value: (u, v) => (v == null ? "–" : labels ? labels[v] : number(v, 4)) },
        { label: "score", stroke: "transparent", points: dots("#2ca02c"), value: (u, v) => number(v, 4) },
      ],
    };
    // uPlot needs ascending x; several trials can share a value, which it draws as one column of dots
    return new uPlot(opts, [spec.x, spec.y], el);
  }

  function equity(el) {
    const eq = data.equity;
    if (!eq) return null;
    const shade = (u) => {
      const ctx = u.ctx;
      const b = u.bbox;
      ctx.save();
      ctx.beginPath();
      ctx.rect(b.left, b.top, b.width, b.height);
      ctx.clip();
      ctx.fillStyle = "rgba(255,191,0,0.18)";
      for (const [start, end] of eq.oos) {
        const x0 = u.valToPos(start, "x", true);
        const x1 = u.valToPos(end, "x", true);
        ctx.fillRect(x0, b.top, Math.max(1, x1 - x0), b.height);
      }
      ctx.restore();
    };
    const opts = {
      title: "Equity of the best configuration (USD); shaded: out of sample",
      width: width(el),
      height: 300,
      tzDate: utcDate,
      scales: { x: { time: true } },
      axes: [{}, { size: AXIS_SIZE, label: "USD" }],
      series: [
        { label: "time (UTC)", value: (u, ts) => (ts == null ? "–" : stamp(utcDate(ts))) },
        { label: "equity", stroke: "#1f4e79", width: 1.5, points: { show: false }, value: (u, v) => number(v, 2) },
      ],
      hooks: { drawAxes: [shade] },
    };
    return new uPlot(opts, [eq.x, eq.equity], el);
  }

  const make = [
    ["chart-history", history],
    ["chart-importance", importance],
    ["chart-equity", equity],
  ];
  for (const [id, fn] of make) {
    const el = document.getElementById(id);
    if (!el) continue;
    const u = fn(el);
    if (u) state.charts.push(u);
  }
  const slicesEl = document.getElementById("chart-slices");
  if (slicesEl) {
    for (const spec of data.slices) {
      const u = slice(spec, slicesEl);
      if (u) state.charts.push(u);
    }
  }
  window.addEventListener("resize", () => {
    for (const u of state.charts) u.setSize({ width: Math.max(320, u.root.parentNode.clientWidth), height: u.height });
  });
  state.ready = true;
})();
