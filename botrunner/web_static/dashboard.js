// botrunner's dashboard: one WebSocket (/ws?token=…) carries commands (COMMAND_RESULT answers them) and the fleet's
// broadcasts (SNAPSHOT first, then ENGINE_STATUS, FUNDING_UPDATE, BOT_EVENT, HEARTBEAT). No external requests.
"use strict";
(function () {
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const CONFIRM_ABOVE_USD = 100;
  const STALE_MS = 6000;          // the server sends a HEARTBEAT every 2 s: silence this long means stale
  const HISTORY = 600;            // points kept per chart
  const bots = new Map();         // name -> latest ENGINE_STATUS data
  const funding = new Map();      // name -> latest FUNDING_UPDATE data
  const history = new Map();      // name -> {t, mark, position, min, max, equity, drift, tol}
  const events = [];              // recent BOT_EVENTs
  const pending = new Map();      // command id -> description
  let selected = null, ws = null, lastMessage = 0, retryMs = 500, charts = null, driftChart = null;

  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const num = (s, places) => (s == null || s === "" ? "–" : Number(s).toLocaleString("en-US", { minimumFractionDigits: places, maximumFractionDigits: places }));

  // ---------------------------------------------------------------- connection
  function setConn(state, text) {
    const el = $("conn");
    el.className = "conn conn-" + state;
    el.dataset.state = state;
    el.textContent = text;
  }
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    setConn("connecting", "connecting…");
    ws = new WebSocket(proto + "//" + location.host + "/ws?token=" + encodeURIComponent(TOKEN));
    ws.onopen = () => { retryMs = 500; lastMessage = Date.now(); setConn("live", "live"); };
    ws.onmessage = (ev) => { lastMessage = Date.now(); if ($("conn").dataset.state !== "live") setConn("live", "live"); receive(JSON.parse(ev.data)); };
    ws.onclose = () => {
      setConn("closed", "disconnected – reconnecting in " + Math.round(retryMs / 1000 * 10) / 10 + " s");
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    };
  }
  setInterval(() => {
    if (ws && ws.readyState === WebSocket.OPEN && Date.now() - lastMessage > STALE_MS) {
      setConn("stale", "stale: no update for " + Math.round((Date.now() - lastMessage) / 1000) + " s");
    }
  }, 1000);

  // ---------------------------------------------------------------- messages in
  function receive(msg) {
    switch (msg.type) {
      case "SNAPSHOT":
        bots.clear();
        for (const b of msg.data.bots) { bots.set(b.bot, b); remember(b); }
        for (const f of msg.data.funding) funding.set(f.bot, f);
        events.length = 0;
        events.push(...msg.data.events);
        renderFleet(); renderBot();
        break;
      case "ENGINE_STATUS":
        bots.set(msg.data.bot, msg.data); remember(msg.data);
        renderFleet();
        if (msg.data.bot === selected) renderBot();
        break;
      case "FUNDING_UPDATE":
        funding.set(msg.data.bot, msg.data);
        if (msg.data.bot === selected) renderBot();
        break;
      case "BOT_EVENT":
        events.push(msg.data);
        if (events.length > 400) events.splice(0, events.length - 400);
        if (msg.data.bot === selected) renderEvents();
        break;
      case "COMMAND_RESULT": result(msg); break;
      case "HEARTBEAT": break;
    }
  }
  function remember(b) {
    if (b.mark == null) return;
    let h = history.get(b.bot);
    if (!h) { h = { t: [], mark: [], position: [], min: [], max: [], equity: [], drift: [], tol: [] }; history.set(b.bot, h); }
    const L = b.two_legs, drift = L && L.drift_pct != null ? +L.drift_pct : null, tol = L && L.tolerance_pct != null ? +L.tolerance_pct : null;
    const t = b.market_time ? Date.parse(b.market_time) / 1000 : Date.now() / 1000;
    if (h.t.length && t <= h.t[h.t.length - 1]) {   // same market time: update the last point
      const i = h.t.length - 1;
      h.mark[i] = +b.mark; h.position[i] = b.position == null ? null : +b.position; h.equity[i] = b.equity == null ? null : +b.equity;
      h.min[i] = b.band ? +b.band.min : null; h.max[i] = b.band ? +b.band.max : null;
      h.drift[i] = drift; h.tol[i] = tol;
      return;
    }
    h.t.push(t); h.mark.push(+b.mark); h.position.push(b.position == null ? null : +b.position);
    h.min.push(b.band ? +b.band.min : null); h.max.push(b.band ? +b.band.max : null);
    h.equity.push(b.equity == null ? null : +b.equity);
    h.drift.push(drift); h.tol.push(tol);
    if (h.t.length > HISTORY) for (const k of Object.keys(h)) h[k].shift();
  }
  function result(msg) {
    const what = pending.get(msg.id) || String(msg.id);
    if (msg.status === "accepted") { toast(what + ": accepted, the outcome follows", false); return; }
    pending.delete(msg.id);
    if (msg.ok) toast(what + ": done" + (msg.result && msg.result.state ? " (" + msg.result.state + ")" : ""), false);
    else toast(what + ": <code>" + esc(msg.error.code) + "</code> " + esc(msg.error.message), true, true);
  }
  function toast(html, error, raw) {
    const el = document.createElement("div");
    el.className = "msg" + (error ? " error" : "");
    el.innerHTML = raw ? html : esc(html);
    $("messages").appendChild(el);
    setTimeout(() => el.remove(), error ? 15000 : 5000);
  }

  // ---------------------------------------------------------------- the fleet table
  function riskBadge(b) {
    const r = b.risk_state, s = b.state;
    let kind = "normal", text = "normal";
    if (r === "PAUSE" || s === "paused") { kind = "paused"; text = "paused"; }
    else if (r === "REDUCE_ONLY" || s === "reduce_only" || s === "flattening") { kind = "reduce-only"; text = s === "flattening" ? "flattening" : "reduce-only"; }
    const why = (b.risk_reasons || []).join(", ");
    return '<span class="badge risk-' + kind + '" data-risk="' + kind + '" title="' + esc(why) + '">' + text + "</span>";
  }
  const stateBadge = (b) => '<span class="badge state state-' + esc(b.state) + '">' + esc(b.state) + (b.flagged ? " ⚑" : "") + "</span>";
  // a delta-neutral bot holds two legs: the spot SOL balance and the perp; the table shows both, and its drift
  // against the tolerance and its smoothed carry (on a phone, where that column is hidden, under the legs)
  const signed = (s, places) => (s == null ? "–" : (Number(s) > 0 ? "+" : "") + num(s, places));
  function driftText(L) {
    return (L.drift_pct == null ? "–" : num(L.drift_pct, 2) + " %") + " ±" + num(L.tolerance_pct, 2);
  }
  function driftClass(L) {
    if (L.drift_pct == null || L.tolerance_pct == null) return "";
    return Math.abs(+L.drift_pct) > +L.tolerance_pct ? " out-of-band" : "";
  }
  function positionCell(b) {
    const L = b.two_legs;
    if (!L) return num(b.position, 4);
    return '<div class="leg-line"><span class="leg-tag">spot</span>' + signed(L.spot.size, 4) + "</div>" +
      '<div class="leg-line"><span class="leg-tag">perp</span>' + signed(L.perp.size, 4) + "</div>" +
      // a phone has no room for the tolerance (its colour says outside) nor the unit: the bot view has both
      '<div class="phone-only leg-line' + driftClass(L) + '">drift ' + (L.drift_pct == null ? "–" : num(L.drift_pct, 2) + "%") + "</div>" +
      '<div class="phone-only leg-line">carry ' + num(L.carry.apr_smoothed_pct, 2) + "%</div>";
  }
  function driftCarryCell(b) {
    const L = b.two_legs;
    if (!L) return "–";
    return '<div class="leg-line' + driftClass(L) + '" title="delta drift against its tolerance">' + esc(driftText(L)) + "</div>" +
      '<div class="leg-line" title="carry APR, smoothed">' + num(L.carry.apr_smoothed_pct, 2) + " %/yr " + stanceBadge(L) + "</div>";
  }
  function stanceBadge(L) {
    if (!L.stance) return "";
    return '<span class="badge stance stance-' + esc(L.stance) + '" title="' + esc(L.stance_reason || "") + '">' + esc(L.stance) + "</span>";
  }
  function renderFleet() {
    const rows = [];
    const counts = {};
    for (const b of [...bots.values()].sort((a, c) => a.bot.localeCompare(c.bot))) {
      counts[b.state] = (counts[b.state] || 0) + 1;
      const pnl = b.pnl || {};
      const liq = b.liq_price ? num(b.liq_price, 2) + " <small>(" + num(b.liq_distance_pct, 1) + "%)</small>" : "–";
      const grid = b.grid ? Object.entries(b.grid).slice(0, 3).map(([k, v]) => k + "=" + v).join(" ") : "";
      rows.push('<tr data-bot="' + esc(b.bot) + '"' + (b.bot === selected ? ' class="selected"' : "") + ">" +
        '<td class="bot-cell">' + esc(b.bot) + " <small>" + esc(b.mode || "") + "</small></td><td class=\"narrow-hide\">" + stateBadge(b) + "</td><td>" + riskBadge(b) + "</td>" +
        '<td class="num">' + positionCell(b) + '</td><td class="num wide">' + driftCarryCell(b) + '</td><td class="num wide">' + num(b.entry, 2) + "</td>" +
        '<td class="num narrow-hide">' + num(b.mark, 2) + '</td><td class="num wide">' + num(b.leverage, 2) + "</td>" +
        '<td class="num wide wrap">' + liq + '</td><td class="num wide">' + num(pnl.unrealized, 2) + "</td>" +
        '<td class="num wide">' + num(pnl.realized, 2) + '</td><td class="num wide">' + num(pnl.funding, 2) + "</td>" +
        '<td class="num">' + num(b.equity, 2) + '</td><td class="num wide">' + (b.health == null ? "–" : b.health + "%") + "</td>" +
        '<td class="wide xwide"><small>' + esc(grid) + "</small></td>" +
        '<td class="actions"><button class="small" data-cmd="PAUSE" data-bot="' + esc(b.bot) + '">Pause</button> ' +
        '<button class="small narrow-hide" data-cmd="RESUME" data-bot="' + esc(b.bot) + '">Resume</button></td></tr>');
    }
    $("fleet-table").tBodies[0].innerHTML = rows.join("");
    $("fleet-counts").textContent = bots.size + " bots: " + Object.entries(counts).map(([k, v]) => v + " " + k).join(" · ");
  }

  // ---------------------------------------------------------------- the bot view
  function fact(label, value) { return "<div><span>" + esc(label) + "</span>" + esc(value) + "</div>"; }
  function renderBot() {
    const b = selected && bots.get(selected);
    $("bot").hidden = !b;
    if (!b) return;
    $("bot-name").textContent = b.bot;
    $("bot-badges").innerHTML = stateBadge(b) + " " + riskBadge(b) + " <small>" + esc(b.market || "") + " · " + esc(b.mode || "") + "</small>";
    const pnl = b.pnl || {}, f = funding.get(b.bot) || {};
    $("bot-facts").innerHTML = [
      fact("position", num(b.position, 4)), fact("entry", num(b.entry, 4)), fact("mark", num(b.mark, 4)),
      fact("leverage", num(b.leverage, 2) + "×"), fact("liquidation", b.liq_price ? num(b.liq_price, 2) : "none"),
      fact("liq distance", b.liq_distance_pct ? num(b.liq_distance_pct, 1) + " %" : "–"),
      fact("equity", num(b.equity, 2)), fact("unrealised", num(pnl.unrealized, 2)), fact("realised", num(pnl.realized, 2)),
      fact("funding PnL", num(pnl.funding, 4)), (Number(pnl.fees_paid) < 0 ? fact((b.two_legs ? "perp " : "") + "rebates earned", num(-Number(pnl.fees_paid), 4)) : fact((b.two_legs ? "perp " : "") + "fees paid", num(pnl.fees_paid, 4))),
      fact("funding rate", f.rate || "–"), fact("next funding", (b.two_legs && b.two_legs.next_funding_time) || f.next_funding_time || "–"),
      fact("band", b.band ? num(b.band.min, 3) + " … " + num(b.band.max, 3) : "–"),
      fact("orders", b.open_orders == null ? "–" : b.open_orders), fact("fills", b.fills == null ? "–" : b.fills),
      fact("market time", b.market_time || "–"), fact("restarts", b.restarts || 0),
    ].join("") + (b.grid ? Object.entries(b.grid).map(([k, v]) => fact(k, v)).join("") : "");
    $("pnl-split").textContent = "· unrealised " + num(pnl.unrealized, 2) + " · realised " + num(pnl.realized, 2) + " · funding " + num(pnl.funding, 2);
    const health = b.health == null ? null : +b.health, dist = b.liq_distance_pct == null ? null : +b.liq_distance_pct;
    const colour = (v, warn, bad) => (v == null ? "#555" : v < bad ? "var(--bad)" : v < warn ? "var(--warn)" : "var(--ok)");
    $("health").innerHTML =
      "<div>health " + (health == null ? "–" : health + " %") + '</div><div class="bar"><div style="width:' + (health || 0) + "%;background:" + colour(health, 50, 20) + '"></div></div>' +
      "<div>liquidation distance " + (dist == null ? "none (no liquidation price)" : num(dist, 1) + " %") + '</div><div class="bar"><div style="width:' + Math.min(dist || 0, 100) + "%;background:" + colour(dist, 20, 10) + '"></div></div>';
    renderLegs(b);
    renderCharts(b);
    renderEvents();
  }
  // the two-leg panel: both legs, the drift against its tolerance band, the carry and its parts, the stance and
  // why, the gates, the engine vault. Every figure is the server's (ctl bot's); the page only lays them out.
  function card(title, rows, extra) {
    return "<h3>" + esc(title) + "</h3>" + (extra || "") + '<dl>' + rows.map(([k, v, cls]) => '<dt>' + esc(k) + '</dt><dd class="' + (cls || "") + '">' + esc(v) + "</dd>").join("") + "</dl>";
  }
  function renderLegs(b) {
    const L = b.two_legs;
    $("legs-panel").hidden = !L;
    if (!L) return;
    const spot = +L.spot.size || 0, perp = +L.perp.size || 0;
    $("leg-spot").innerHTML = card("spot leg · SOL balance", [
      ["size", signed(L.spot.size, 4) + " SOL"], ["entry (avg cost of fills)", L.spot.entry == null ? "– (the fills hold no SOL)" : num(L.spot.entry, 4)],
    ]);
    $("leg-perp").innerHTML = card("perp leg · " + (b.market || "perp"), [
      ["size", signed(L.perp.size, 4)], ["entry", num(L.perp.entry, 4)], ["net delta", signed(spot + perp, 4) + " SOL"],
    ]);
    const out = L.stance === "out";
    $("leg-stance").innerHTML = card("stance", [
      ["why", L.stance_reason || "–"], ["last decision", L.reason || "–"],
      ["next funding", L.next_funding_time || b.next_funding_time || "–"],
      ["last rebalance", L.last_rebalance || "–"],
    ], '<div class="stance-line"><span class="badge stance stance-' + esc(L.stance || "none") + '" data-stance="' + esc(L.stance || "") + '">' +
      (L.stance ? (out ? "out of the market" : "in the market") : "no decision yet") + "</span></div>" +
      (L.halted ? '<p class="warning">halted: ' + esc(L.halted) + "</p>" : ""));
    // the drift gauge spans ±2× the tolerance (wider when the drift is beyond it); the band is shaded
    const tol = +L.tolerance_pct || 1, drift = L.drift_pct == null ? null : +L.drift_pct;
    const span = Math.max(2 * tol, drift == null ? 0 : Math.abs(drift) * 1.1);
    const pos = (v) => ((v + span) / (2 * span)) * 100;
    const outside = drift != null && Math.abs(drift) > tol;
    $("drift-gauge").innerHTML = "<h3>delta drift</h3>" +
      '<div class="drift-value' + (outside ? " out-of-band" : "") + '">' + (drift == null ? "–" : num(drift, 2) + " %") +
      ' <small>tolerance ±' + num(tol, 2) + " %" + (outside ? " · outside: a rebalance is due" : " · inside") + "</small></div>" +
      '<div class="gauge" title="drift % against the ±tolerance band">' +
      '<div class="gauge-band" style="left:' + pos(-tol) + "%;width:" + (pos(tol) - pos(-tol)) + '%"></div>' +
      '<div class="gauge-zero" style="left:50%"></div>' +
      (drift == null ? "" : '<div class="gauge-mark' + (outside ? " out-of-band" : "") + '" style="left:' + Math.min(100, Math.max(0, pos(drift))) + '%"></div>') +
      "</div>" +
      '<div class="gauge-scale"><span>' + num(-span, 1) + ' %</span><span>0</span><span>+' + num(span, 1) + " %</span></div>";
    const be = L.break_even_days;
    $("leg-carry").innerHTML = card("carry (APR)", [
      ["now", num(L.carry.apr_now_pct, 2) + " %", +L.carry.apr_now_pct < 0 ? "neg" : ""],
      ["smoothed", num(L.carry.apr_smoothed_pct, 2) + " %", +L.carry.apr_smoothed_pct < 0 ? "neg" : ""],
      ["· funding part", L.carry.funding_apr_pct == null ? "–" : num(L.carry.funding_apr_pct, 2) + " %"],
      ["· deposit interest", L.carry.deposit_apr_pct == null ? "–" : num(L.carry.deposit_apr_pct, 2) + " %"],
      ["break-even", be == null ? "–" : be === "never" ? "never" : num(be, 2) + " days"],
    ]);
    const lb = L.last_blocked;
    $("leg-gates").innerHTML = card("gates", [
      ["blocking now", L.blocked || "nothing"],
      ["last blocked", lb ? lb.gate : "none seen", lb ? "warn" : ""],
      ["seen at (market time)", lb && lb.market_time ? lb.market_time : "–"],
    ]);
    const v = b.vault;
    $("leg-vault").innerHTML = v ? card("engine vault (USDC)", [
      ["allocated", num(v.allocated, 2)], ["available", num(v.available, 2)], ["equity", num(v.equity, 2)],
      ["USDC balance", num(v.usdc_balance, 2)], ["SOL balance", num(v.sol_balance, 4)],
      ["realised funding", num(v.realized_funding, 2)],
      ["interest", num(v.realized_interest, 2) + " (" + num(v.interest_sol, 6) + " SOL)"],
      ["fees paid (both legs)", num(v.realized_fees, 2)],
      ["trading (perp + spot)", num(v.realized_trading, 2) + " (" + num(v.perp_trading, 2) + " + " + num(v.spot_trading, 2) + ")"],
    ]) : "<h3>engine vault</h3><p>–</p>";
  }
  function renderEvents() {
    const mine = events.filter((e) => e.bot === selected);
    const fills = mine.filter((e) => e.kind === "fill").slice(-30).reverse();
    const risk = mine.filter((e) => e.kind !== "fill" && e.kind !== "funding").slice(-30).reverse();
    $("fills").innerHTML = fills.map((e) => "<li>" + esc(e.time) + " " + esc(e.side) + " " + esc(e.base) + " @ " + esc(e.price) + " " + feeText(e.fees_paid) + "</li>").join("") || "<li>none yet</li>";
    $("risk-events").innerHTML = risk.map((e) => "<li>" + esc(e.time || "") + " " + esc(e.kind) + " " + esc(e.state || e.level || "") + " " + esc((e.reasons || []).join(", ") || e.message || e.error || e.command || "") + "</li>").join("") || "<li>none yet</li>";
  }
  // a fee reads as a cost and a rebate as an income, as in ctl and the backtest report: never a negative fee
  function feeText(paid) {
    if (paid == null || paid === "") return "";
    return String(paid).startsWith("-") ? "rebate " + esc(String(paid).slice(1)) : "fee " + esc(paid) + " paid";
  }
  // ISO dates in UTC on the time axis (uPlot's default is the US month/day in local time), as in the report
  const utcDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
  const dayLabel = uPlot.fmtDate("{YYYY}-{MM}-{DD}");
  const timeLabel = uPlot.fmtDate("{MM}-{DD} {HH}:{mm}");
  const timeValues = (u, splits, axisIdx, space, incr) =>
    splits.map((ts) => (ts == null ? "" : (incr >= 86400 ? dayLabel : timeLabel)(utcDate(ts))));
  // one point (a page that connected after a replay finished) spans an hour around it, not years
  // (uPlot's own guess for one point is a span of 86,400,000 s: millisecond days on a seconds axis)
  const oneHourAround = { time: true, range: (u, min, max) => { const xs = u.data && u.data[0]; return xs && xs.length === 1 ? [xs[0] - 1800, xs[0] + 1800] : [min, max]; } };
  function chartWidth(id) { return Math.max(260, $(id).parentElement.clientWidth - 12); }
  function makeCharts() {
    const axes = [{ stroke: "#8a96a3", grid: { stroke: "#2a3440" }, space: 90, values: timeValues }, { stroke: "#8a96a3", grid: { stroke: "#2a3440" }, size: 60 }];
    const opts = (id, series, hooks, scales) => ({
      width: chartWidth(id), height: 180, axes, tzDate: utcDate, hooks: hooks || {}, scales: Object.assign({ x: oneHourAround }, scales || {}), legend: { show: true, live: false },
      // uPlot's default points: drawn while the data is sparse (one point, right after connecting), not once it is dense
      series: [{}, ...series.map((s) => Object.assign({ width: 1.5 }, s))],
    });
    // the price axis spans the resting ladder too, so every rung is drawn
    const withLadder = { y: { range: (u, min, max) => {
      const b = bots.get(selected);
      for (const o of (b && b.orders) || []) { min = Math.min(min, +o.price); max = Math.max(max, +o.price); }
      const pad = (max - min) * 0.05 || 1;
      return [min - pad, max + pad];
    } } };
    const ladder = { draw: [(u) => {
      const b = bots.get(selected);
      if (!b || !b.orders) return;
      const ctx = u.ctx;
      ctx.save();
      for (const o of b.orders) {
        const y = u.valToPos(+o.price, "y", true);
        if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
        ctx.strokeStyle = o.side === "buy" ? "rgba(47,158,91,.8)" : "rgba(214,69,69,.8)";
        ctx.setLineDash([4, 3]);
        ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
      }
      ctx.restore();
    }] };
    charts = {
      price: new uPlot(opts("chart-price", [{ label: "mark", stroke: "#4c8dd6" }], ladder, withLadder), [[], []], $("chart-price")),
      position: new uPlot(opts("chart-position", [
        { label: "position", stroke: "#e0e0e0" }, { label: "band min", stroke: "#d29a22", dash: [4, 3] }, { label: "band max", stroke: "#d29a22", dash: [4, 3] },
      ]), [[], [], [], []], $("chart-position")),
      equity: new uPlot(opts("chart-equity", [{ label: "equity", stroke: "#2f9e5b" }]), [[], []], $("chart-equity")),
    };
  }
  function renderCharts(b) {
    if (!charts) makeCharts();
    const h = history.get(b.bot) || { t: [], mark: [], position: [], min: [], max: [], equity: [], drift: [], tol: [] };
    charts.price.setData([h.t, h.mark]);
    charts.position.setData([h.t, h.position, h.min, h.max]);
    charts.equity.setData([h.t, h.equity]);
    if (b.two_legs) {
      if (!driftChart) makeDriftChart();
      driftChart.setData([h.t, h.drift, h.tol, h.tol.map((v) => (v == null ? null : -v))]);
    }
  }
  // a two-leg bot's drift over time against its ±tolerance band (what the gauge shows now)
  const driftWidth = () => Math.max(240, $("leg-drift").clientWidth - 24);  // inside the card's padding
  function makeDriftChart() {
    // the y axis spans ±2× the tolerance, as the gauge (wider when the drift went beyond), ticks at 0 and ±tolerance
    const tolerance = () => { const b = bots.get(selected); return (b && b.two_legs && +b.two_legs.tolerance_pct) || 1; };
    const axes = [{ stroke: "#8a96a3", grid: { stroke: "#2a3440" }, space: 90, values: timeValues },
      { stroke: "#8a96a3", grid: { stroke: "#2a3440" }, size: 62, splits: () => [-tolerance(), 0, tolerance()], values: (u, splits) => splits.map((v) => (v > 0 ? "+" : "") + v.toFixed(1) + " %") }];
    const band = { stroke: "#2f9e5b", dash: [4, 3], width: 1, points: { show: false } };
    driftChart = new uPlot({
      width: driftWidth(), height: 130, axes, tzDate: utcDate, legend: { show: true, live: false },
      scales: { x: oneHourAround, y: { range: (u, min, max) => { const m = Math.max(2 * tolerance(), Math.abs(min || 0) * 1.1, Math.abs(max || 0) * 1.1); return [-m, m]; } } },
      series: [{}, { label: "drift %", stroke: "#e0e0e0", width: 1.5 },
        Object.assign({ label: "+tolerance" }, band), Object.assign({ label: "−tolerance" }, band)],
    }, [[], [], [], []], $("chart-drift"));
  }
  window.addEventListener("resize", () => {
    if (!charts) return;
    for (const [k, id] of [["price", "chart-price"], ["position", "chart-position"], ["equity", "chart-equity"]]) charts[k].setSize({ width: chartWidth(id), height: 180 });
    if (driftChart && !$("legs-panel").hidden) driftChart.setSize({ width: driftWidth(), height: 130 });
  });

  // ---------------------------------------------------------------- commands out
  function ask(text, warning) {
    return new Promise((resolve) => {
      const d = $("confirm");
      $("confirm-text").textContent = text;
      $("confirm-warning").hidden = !warning;
      $("confirm-warning").textContent = warning || "";
      d.onclose = () => resolve(d.returnValue === "ok");
      d.returnValue = "";
      d.showModal();
    });
  }
  const LABELS = {
    START_ENGINE: "Start", STOP_ENGINE: "Stop", PAUSE: "Pause", RESUME: "Resume", REDUCE_ONLY: "Reduce-only", FLATTEN: "Flatten",
    DRIFT_CLOSE_POSITION: "Close the position of", DRIFT_DEPOSIT: "Deposit to", DRIFT_WITHDRAW: "Withdraw from",
    DRIFT_OPEN_POSITION: "Open a position on", CONFIRM: "Confirm orders of", RELOAD: "Reload the fleet",
  };
  async function command(type, bot) {
    const b = bot && bots.get(bot);
    const msg = { id: (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()), type };
    let what = LABELS[type] + (bot ? " " + bot : ""), usd = null;
    if (bot) msg.bot = bot;
    if (type === "START_ENGINE") msg.mode = b && b.mode;
    if (type === "DRIFT_DEPOSIT" || type === "DRIFT_WITHDRAW") {
      msg.amount = $("amount").value.trim(); msg.asset = $("asset").value;
      if (!msg.amount) { toast("enter an amount first", true); return; }
      const sol = [...bots.values()].find((x) => x.market === "SOL-PERP");
      usd = msg.asset === "usdc" ? +msg.amount : sol && sol.mark ? +msg.amount * +sol.mark : Infinity;
      what += ": " + msg.amount + " " + msg.asset.toUpperCase();
    }
    if (type === "DRIFT_OPEN_POSITION") {
      // a two-leg bot (its ENGINE_STATUS has two_legs) holds SIZE SOL hedged and takes no side; a perp bot needs one
      const L = b && b.two_legs;
      if (!L) msg.side = $("side").value;
      msg.size = $("size").value.trim();
      if (!msg.size) { toast("enter a size first", true); return; }
      // what the open trades, as the server counts it: both legs to +/-SIZE, or the position to the target
      const size = +msg.size, target = msg.side === "short" ? -size : size;
      const moved = L ? (L.spot.size == null || L.perp.size == null ? NaN : Math.abs(size - +L.spot.size) + Math.abs(size + +L.perp.size))
        : b && b.position != null ? Math.abs(target - +b.position) : NaN;
      usd = b && b.mark && isFinite(moved) ? moved * +b.mark : Infinity;
      what += ": " + (msg.side ? msg.side + " " : "hedged ") + msg.size;
    }
    if (type === "CONFIRM") { msg.token = $("confirm-token").value.trim(); what += " " + msg.token; }
    const big = usd != null && !(usd <= CONFIRM_ABOVE_USD);
    const warning = big ? "Above $" + CONFIRM_ABOVE_USD + " (≈ $" + (isFinite(usd) ? usd.toFixed(2) : "?") + "): this needs your explicit confirmation." : "";
    if (!(await ask(what + "?", warning))) return;
    if (big) msg.confirm = true;
    if (!ws || ws.readyState !== WebSocket.OPEN) { toast("not connected: nothing sent", true); return; }
    pending.set(msg.id, what);
    ws.send(JSON.stringify(msg));
  }
  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-cmd]");
    if (button) { ev.stopPropagation(); command(button.dataset.cmd, button.dataset.bot || (button.closest("#bot") ? selected : null)); return; }
    const row = ev.target.closest("#fleet-table tbody tr");
    if (row) { selected = row.dataset.bot; renderFleet(); renderBot(); $("bot").scrollIntoView({ behavior: "smooth" }); }
  });
  $("bot-close").addEventListener("click", () => { selected = null; renderFleet(); renderBot(); });
  connect();
})();
