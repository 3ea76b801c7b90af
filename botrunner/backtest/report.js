// report.html's charts: draws the chart specs that botrunner/backtest/report.py writes into #report-data with the
// vendored uPlot (botrunner/web_static). One time axis for the whole page: a crosshair synchronised across charts,
// drag to zoom, mouse wheel to zoom around the cursor, double-click (or the overview strip) to reset; every chart
// follows every zoom. Custom layers (resting ladder dots, fill markers, risk-state strip) are drawn on the chart's
// canvas from the same scales, so they zoom with it. No network, no storage, no clock: the page only reads its data.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("report-data").textContent);
  const state = { charts: [], overview: null, ready: false, range: null };
  window.__report = state;
  const noScript = document.getElementById("no-script");
  if (noScript) noScript.remove();
  if (!data.charts.length) {
    state.ready = true;
    return;
  }

  const AXIS_SIZE = 84; // every y axis the same width, so the plot areas line up down the page
  const PADDING = [10, 40, 0, 0]; // room on the right for the last time label, the same on every chart
  const MIN_SPAN_S = 600; // zooming stops at ten minutes across
  const utcDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
  const stamp = uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}");
  const monthLabel = uPlot.fmtDate("{YYYY}-{MM}");
  const dayLabel = uPlot.fmtDate("{YYYY}-{MM}-{DD}");
  const timeLabel = uPlot.fmtDate("{MM}-{DD} {HH}:{mm}");

  // ISO dates on the time axis (uPlot's default is the US month/day): months, days or times by the tick spacing
  function timeValues(u, splits, axisIdx, space, incr) {
    const label = incr >= 28 * 86400 ? monthLabel : incr >= 86400 ? dayLabel : timeLabel;
    return splits.map((ts) => (ts == null ? "" : label(utcDate(ts))));
  }
  const TIME_AXIS = { space: 90, values: timeValues };

  function number(v, decimals) {
    if (v == null || !isFinite(v)) return "–";
    return v.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  }

  // the whole run: the widest x range of any chart (the risk strip ends at the run's last second)
  let fullMin = Infinity;
  let fullMax = -Infinity;
  for (const spec of data.charts) {
    if (spec.x.length) {
      fullMin = Math.min(fullMin, spec.x[0]);
      fullMax = Math.max(fullMax, spec.x[spec.x.length - 1]);
    }
  }
  if (data.overview) {
    fullMin = Math.min(fullMin, data.overview.range[0]);
    fullMax = Math.max(fullMax, data.overview.range[1]);
  }
  if (!(fullMax > fullMin)) {
    fullMin -= 60;
    fullMax += 60;
  }

  let syncing = false;
  function applyRange(min, max, source) {
    if (syncing) return;
    min = Math.max(fullMin, min);
    max = Math.min(fullMax, max);
    if (!(max - min >= MIN_SPAN_S / 2)) return;
    syncing = true;
    try {
      state.range = [min, max];
      for (const u of state.charts) {
        if (u !== source) u.setScale("x", { min: min, max: max });
      }
      showOnOverview(min, max);
    } finally {
      syncing = false;
    }
  }

  function resetRange() {
    applyRange(fullMin, fullMax, null);
  }

  // --- custom layers -----------------------------------------------------------------------------------------------

  function clipToPlot(u, draw) {
    const ctx = u.ctx;
    const b = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(b.left, b.top, b.width, b.height);
    ctx.clip();
    try {
      draw(ctx, b);
    } finally {
      ctx.restore();
    }
  }

  function drawDots(u, layer) {
    const r = 1.3 * uPlot.pxRatio;
    clipToPlot(u, (ctx) => {
      ctx.globalAlpha = 0.4;
      ctx.fillStyle = layer.colour;
      const xmin = u.scales.x.min;
      const xmax = u.scales.x.max;
      for (let i = 0; i < layer.t.length; i++) {
        const t = layer.t[i];
        if (t < xmin || t > xmax) continue;
        const x = u.valToPos(t, "x", true);
        for (const p of layer.p[i]) {
          ctx.fillRect(x - r, u.valToPos(p, "y", true) - r, 2 * r, 2 * r);
        }
      }
    });
  }

  // fill markers: triangles while they are few enough to tell apart (smaller as they crowd), small squares past
  // 1.5 fills per pixel across (a 21-month run has thousands of fills: triangles would bury the price line)
  function drawMarkers(u, layer) {
    const xmin = u.scales.x.min;
    const xmax = u.scales.x.max;
    let visible = 0;
    for (const t of layer.t) if (t >= xmin && t <= xmax) visible++;
    const density = visible / (u.bbox.width / uPlot.pxRatio);
    const crowded = density > 1.5;
    const s = (crowded ? 1.6 : density > 0.25 ? 3.2 : 4.5) * uPlot.pxRatio;
    clipToPlot(u, (ctx) => {
      ctx.fillStyle = layer.colour;
      ctx.strokeStyle = "#222";
      ctx.lineWidth = 0.6 * uPlot.pxRatio;
      if (crowded) ctx.globalAlpha = 0.7;
      ctx.beginPath();
      for (let i = 0; i < layer.t.length; i++) {
        const t = layer.t[i];
        if (t < xmin || t > xmax || layer.p[i] == null) continue;
        const x = u.valToPos(t, "x", true);
        const y = u.valToPos(layer.p[i], "y", true);
        if (crowded) {
          ctx.rect(x - s, y - s, 2 * s, 2 * s);
          continue;
        }
        if (layer.up) {
          ctx.moveTo(x, y - s);
          ctx.lineTo(x + s, y + s);
          ctx.lineTo(x - s, y + s);
        } else {
          ctx.moveTo(x, y + s);
          ctx.lineTo(x + s, y - s);
          ctx.lineTo(x - s, y - s);
        }
        ctx.closePath();
      }
      ctx.fill();
      if (!crowded) ctx.stroke();
    });
  }

  function drawStrip(u, layer) {
    clipToPlot(u, (ctx, b) => {
      for (const [start, end, k] of layer.runs) {
        if (end < u.scales.x.min || start > u.scales.x.max) continue;
        const x0 = u.valToPos(start, "x", true);
        const x1 = u.valToPos(end, "x", true);
        ctx.fillStyle = layer.colours[k];
        ctx.fillRect(x0, b.top, Math.max(x1 - x0, uPlot.pxRatio), b.height);
      }
    });
  }

  function layerLegend(spec) {
    const items = [];
    for (const layer of spec.layers) {
      if (layer.kind === "strip") {
        layer.labels.forEach((label, k) => items.push([layer.colours[k], label, "block"]));
      } else {
        items.push([layer.colour, layer.label, layer.kind]);
      }
    }
    if (!items.length) return null;
    const div = document.createElement("div");
    div.className = "layer-legend";
    for (const [colour, label, kind] of items) {
      const span = document.createElement("span");
      const mark = document.createElement("b");
      mark.style.color = colour;
      mark.textContent = kind === "markers" ? (label.startsWith("buy") ? "▲ " : "▼ ") : kind === "dots" ? "•• " : "■ ";
      span.appendChild(mark);
      span.appendChild(document.createTextNode(label));
      div.appendChild(span);
    }
    return div;
  }

  // --- one chart -----------------------------------------------------------------------------------------------------

  function yRange(spec) {
    if (spec.y) return () => [spec.y[0], spec.y[1]];
    return (u, min, max) => {
      if (min == null || max == null) return [0, 1];
      if (spec.zero) {
        min = Math.min(min, 0);
        max = Math.max(max, 0);
      }
      if (min === max) {
        const pad = Math.abs(min) * 0.01 || 1;
        return [min - pad, max + pad];
      }
      const pad = (max - min) * 0.06;
      return [spec.zero && min === 0 ? 0 : min - pad, spec.zero && max === 0 ? 0 : max + pad];
    };
  }

  function seriesOptions(spec) {
    const out = [{ label: "time (UTC)", value: (u, ts) => (ts == null ? "–" : stamp(utcDate(ts))) }];
    for (const s of spec.series) {
      const o = {
        label: s.label,
        stroke: s.width === 0 ? "transparent" : s.colour,
        width: s.width,
        spanGaps: false,
        points: { show: false },
        value: spec.names
          ? (u, v) => (v == null ? "–" : spec.names[v])
          : (u, v) => number(v, spec.decimals) + (spec.unit === "%" ? " %" : ""),
      };
      if (s.dash) o.dash = [6, 4];
      if (s.bars) {
        o.paths = uPlot.paths.bars({ size: [0.8, 40] });
        o.fill = s.colour;
      }
      out.push(o);
    }
    return out;
  }

  function makeChart(spec, el) {
    const drawUnder = spec.layers.filter((l) => l.kind === "strip" || l.kind === "dots");
    const drawOver = spec.layers.filter((l) => l.kind === "markers");
    const opts = {
      title: spec.title,
      width: Math.max(320, el.clientWidth),
      height: spec.height,
      padding: PADDING,
      tzDate: utcDate,
      series: seriesOptions(spec),
      bands: spec.bands.map((b) => ({ series: [b.upper + 1, b.lower + 1], fill: b.fill })),
      scales: { x: { time: true }, y: { range: yRange(spec) } },
      axes: [
        TIME_AXIS,
        spec.names
          ? { size: AXIS_SIZE, label: spec.unit, values: () => [], grid: { show: false }, ticks: { show: false } }
          : { size: AXIS_SIZE, label: spec.unit },
      ],
      cursor: {
        sync: { key: "backtest", setSeries: false },
        drag: { x: true, y: false, setScale: true },
        bind: { dblclick: () => null }, // a double click shows the whole run on every chart (below)
      },
      // a series drawn with no line (a band's edges, the risk strip's value) keeps its colour in the legend
      legend: { live: true, markers: { stroke: (u, i) => (i === 0 ? null : spec.series[i - 1].colour) } },
      hooks: {
        // under the lines (after the grid): the risk strip and the ladder dots; over them: the fill markers
        drawAxes: [
          (u) => {
            for (const layer of drawUnder) {
              if (layer.kind === "strip") drawStrip(u, layer);
              else drawDots(u, layer);
            }
          },
        ],
        draw: [
          (u) => {
            for (const layer of drawOver) drawMarkers(u, layer);
          },
        ],
        setScale: [
          (u, key) => {
            if (key === "x" && !syncing) applyRange(u.scales.x.min, u.scales.x.max, u);
          },
        ],
      },
    };
    const columns = [spec.x].concat(spec.series.map((s) => s.values));
    const u = new uPlot(opts, columns, el);
    const legend = layerLegend(spec);
    if (legend) el.appendChild(legend);
    u.over.addEventListener("dblclick", resetRange);
    u.over.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const rect = u.over.getBoundingClientRect();
        const at = u.posToVal(e.clientX - rect.left, "x");
        const min = u.scales.x.min;
        const max = u.scales.x.max;
        const factor = e.deltaY < 0 ? 0.75 : 1 / 0.75;
        applyRange(at - (at - min) * factor, at + (max - at) * factor, null);
      },
      { passive: false },
    );
    u.__spec = spec;
    return u;
  }

  // --- the overview strip ----------------------------------------------------------------------------------------

  function makeOverview(spec, el) {
    const opts = {
      width: Math.max(320, el.clientWidth),
      height: 90,
      padding: PADDING,
      tzDate: utcDate,
      series: [
        {},
        { label: spec.label, stroke: "#1f4e79", width: 1, fill: "rgba(31,78,121,0.08)", points: { show: false } },
      ],
      scales: { x: { time: true, range: () => [fullMin, fullMax] } },
      axes: [TIME_AXIS, { size: AXIS_SIZE, values: () => [], grid: { show: false }, ticks: { show: false } }],
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false }, y: false },
      hooks: {
        setSelect: [
          (u) => {
            if (syncing || u.select.width < 3) return;
            const min = u.posToVal(u.select.left, "x");
            const max = u.posToVal(u.select.left + u.select.width, "x");
            applyRange(min, max, null);
          },
        ],
      },
    };
    const u = new uPlot(opts, [spec.x, spec.values], el);
    u.over.addEventListener("dblclick", resetRange);
    return u;
  }

  function showOnOverview(min, max) {
    const ov = state.overview;
    if (!ov) return;
    if (min <= fullMin && max >= fullMax) {
      ov.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
      return;
    }
    const left = ov.valToPos(min, "x");
    const right = ov.valToPos(max, "x");
    ov.setSelect({ left: left, top: 0, width: Math.max(2, right - left), height: ov.over.clientHeight }, false);
  }

  // --- build -------------------------------------------------------------------------------------------------------

  if (data.overview) {
    const el = document.getElementById("overview");
    if (el) state.overview = makeOverview(data.overview, el);
  }
  for (const spec of data.charts) {
    const el = document.getElementById("chart-" + spec.id);
    if (el) state.charts.push(makeChart(spec, el));
  }
  resetRange();

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const u of state.charts) u.setSize({ width: Math.max(320, u.root.parentNode.clientWidth), height: u.__spec.height });
      if (state.overview) {
        const ov = state.overview;
        ov.setSize({ width: Math.max(320, ov.root.parentNode.clientWidth), height: 90 });
      }
      if (state.range) showOnOverview(state.range[0], state.range[1]);
    }, 100);
  });
  state.applyRange = applyRange;
  state.full = [fullMin, fullMax];
  state.ready = true;
})();
