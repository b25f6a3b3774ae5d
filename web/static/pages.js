// Pages of the dashboard. Each page renders from real API answers only: a
// figure whose API is missing (another module not landed yet) shows "no data
// yet", never an invented value. Live figures come from /api/v1/live.
"use strict";

/* ---- small builders ------------------------------------------------------ */

// The Beijing date of a time in ms, "yyyy-MM-dd".
function dayText(ms) { return new Date(ms + 8 * 3600e3).toISOString().slice(0, 10); }

function tile(key, unit) {
  const b = el("div", "tile");
  b.dataset.tile = key;
  b.append(el("div", "tile-label", t(key)));
  const v = el("div", "tile-value", "—");
  const u = el("span", "tile-unit", unit || "");
  const note = el("div", "tile-note", "");
  b.append(v, u, note);
  return { root: b, set(value, sub) { v.textContent = value; note.textContent = sub || ""; b.classList.toggle("empty", value === "—"); } };
}

function table(head, rows) {
  const tb = el("table", "grid");
  const tr = el("tr");
  for (const h of head) tr.append(el("th", null, h));
  const thead = el("thead");
  thead.append(tr);
  const body = el("tbody");
  for (const r of rows) {
    const row = el("tr");
    for (const c of r) {
      const td = el("td");
      if (c instanceof Node) td.append(c); else td.textContent = c === null || c === undefined ? "—" : c;
      row.append(td);
    }
    body.append(row);
  }
  tb.append(thead, body);
  return tb;
}

function stateBadge(state) { return el("span", "state " + state, t(state)); }

function pointOf(dev, quantity) { return dev.points.find((p) => p.quantity === quantity) || null; }

// Sum of the live points with this unit (e.g. every belt scale's t/h), or null.
function sumUnit(live, unit) {
  let sum = null;
  for (const { point } of livePoints(live))
    if (point.unit === unit && point.value !== null) sum = (sum || 0) + point.value;
  return sum;
}

// A chart fed by an API a later module provides: bars or a line of
// {items: [{label, value}]}; "no data yet" while the API is absent or empty.
async function apiSeries(box, path, kind, unit) {
  const data = await getOrNull(path);
  const items = data && Array.isArray(data.items) ? data.items : null;
  if (!items || !items.length) { noData(box, data ? "nodata" : "nodata_api"); return; }
  const c = chart(box);
  if (!c) return;
  c.setOption(baseOption({
    legend: { show: false },
    xAxis: axis({ type: "category", data: items.map((i) => i.label) }),
    yAxis: axis({ type: "value", name: unit || "" }),
    series: [{ type: kind, data: items.map((i) => i.value), itemStyle: { color: "#3ba7ff" } }],
  }));
}

// RPT-1 report of the analytics module: {columns, rows}; null while absent.
async function rpt1(kind, period, fromMs) {
  const data = await getOrNull(`/api/v1/reports/rpt1/${kind}?period=${period}&from=${dayText(fromMs)}&to=${dayText(Date.now() + 86400e3)}`);
  return data && Array.isArray(data.columns) && Array.isArray(data.rows) ? data : null;
}
function column(rep, name) {
  const i = rep.columns.indexOf(name);
  return rep.rows.map((r) => (i < 0 ? null : r[i]));
}
// Bars or a line of one column of an RPT-1 report, labelled by period.
function rptChart(box, rep, name, kind, unit, color) {
  if (!rep) { noData(box, "nodata_api"); return; }
  if (!rep.rows.length) { noData(box, "nodata"); return; }
  const c = chart(box);
  if (!c) return;
  c.setOption(baseOption({
    legend: { show: false },
    xAxis: axis({ type: "category", data: column(rep, "period") }),
    yAxis: axis({ type: "value", name: unit }),
    series: [{ type: kind, data: column(rep, name), showSymbol: false, itemStyle: { color: color || "#3ba7ff" } }],
  }));
}
const SPAN_DAYS = { shift: 3, day: 31, month: 366, year: 5 * 366 };

/* ---- production ------------------------------------------------------------ */

// Active power per gate from every /api/v1/live poll, kept for an hour while
// the dashboard is open, whatever page shows: going back to production shows
// the curve at once. Each time the production page opens (a fresh load of the
// wall screen too) it also fetches the stored last hour of every gate from
// /api/v1/series (QRY-1) and merges it in, so the past hour shows at once and
// gaps (a sleeping tab, a lost connection) fill from the store.
const POWER_KEEP_MS = 3600e3;
const POWER = {}; // device name -> [[ts_ms, kW], ...], ascending, one point per time

// Stored points ([ts_ms, value(, min, max)], ascending) into a gate's curve.
function mergePower(name, points) {
  const byTime = new Map();
  for (const p of points) byTime.set(p[0], [p[0], p[1]]);
  for (const p of POWER[name] || []) byTime.set(p[0], p); // live and stored agree; keep one
  const s = [...byTime.values()].sort((a, b) => a[0] - b[0]);
  const first = s.length ? s[s.length - 1][0] - POWER_KEEP_MS : 0;
  POWER[name] = s.filter((p) => p[0] >= first);
}

// One request per gate with an active power point in this live snapshot.
function preloadPower(live) {
  return Promise.all(live.devices.filter((d) => pointOf(d, "active_power")).map(async (d) => {
    const r = await getOrNull(`/api/v1/series?device=${encodeURIComponent(d.name)}&quantity=active_power`);
    if (r && Array.isArray(r.data) && r.data.length) mergePower(d.name, r.data);
  }));
}

App.feeds.push((live) => {
  const now = Date.parse(live.time);
  for (const d of live.devices) {
    const p = pointOf(d, "active_power");
    if (!p || p.value === null) continue;
    const s = (POWER[d.name] = POWER[d.name] || []);
    const ts = p.ts_ms || now;
    if (!s.length || s[s.length - 1][0] < ts) s.push([ts, p.value]);
    while (s.length && s[0][0] < ts - POWER_KEEP_MS) s.shift();
  }
});

// The live power chart: a time axis labelled HH:mm:ss Beijing time, at least
// a minute wide so the labels are seconds apart, at most the hour kept.
function powerOption() {
  const names = Object.keys(POWER);
  let lo = Infinity, hi = -Infinity;
  for (const n of names) if (POWER[n].length) { lo = Math.min(lo, POWER[n][0][0]); hi = Math.max(hi, POWER[n][POWER[n].length - 1][0]); }
  const clock = (v) => bjText(v, 11, 19);
  return baseOption({
    tooltip: bjTooltip(11, 19, 1),
    xAxis: axis({ type: "time", min: hi > -Infinity ? Math.min(lo, hi - 60e3) : undefined, max: hi > -Infinity ? hi : undefined,
                  minInterval: 1000, axisLabel: { color: "#8fa3bf", hideOverlap: true, formatter: clock } }),
    yAxis: axis({ type: "value", name: "kW" }),
    series: names.map((n) => ({ name: deviceLabel(n), type: "line", showSymbol: POWER[n].length < 2, data: POWER[n] })),
  });
}

// The scale-health tile (GET /api/v1/models/health): the rolling metered /
// implied ratio as the figure, the verdict and the band below it, coloured by
// the verdict.
function scaleHealth(tile, h) {
  const known = h && typeof h.ratio === "number";
  const verdict = h ? t("v_" + h.verdict) : null;
  tile.set(known ? fmt(h.ratio, 3) : "—",
           !h ? t("nodata") : known ? `${verdict} · ${t("sh_band")} ±${fmt(100 * h.band, 1)}% · ${h.window_days} ${t("sh_days")}` : verdict);
  tile.root.dataset.verdict = h ? h.verdict : "";
  tile.root.classList.toggle("alert", !!h && h.verdict === "inconsistent");
  tile.root.classList.toggle("watch", !!h && h.verdict === "watch");
  tile.root.classList.toggle("good", !!h && h.verdict === "consistent");
}

App.pages.production = {
  render(root) {
    const tiles = el("div", "tiles");
    const tl = {
      rate: tile("t_output_rate", "t/h"), speed: tile("t_belt_speed", "m/s"),
      shift: tile("t_shift", "t"), day: tile("t_day", "t"), month: tile("t_month", "t"),
      kwht: tile("t_kwh_t", "kWh/t"), health: tile("t_scale_health", ""),
      online: tile("t_online", ""), alarms: tile("t_alarms", ""),
    };
    for (const k in tl) tiles.append(tl[k].root);
    const gates = el("div", "tiles gates");
    root.append(tiles, gates);
    const power = panel(t("c_power"), "wide");
    const bars = panel(t("c_bars"));
    const curve = panel(t("c_output"));
    const tabs = el("div", "tabs");
    for (const p of ["shift", "day", "month", "year"]) {
      const b = el("button", null, t(p));
      b.type = "button";
      b.addEventListener("click", () => {
        for (const x of tabs.children) x.classList.toggle("on", x === b);
        rpt1("output", p, Date.now() - (SPAN_DAYS[p] - 1) * 86400e3).then((rep) => rptChart(barBox, rep, "tons", "bar", "t"));
      });
      tabs.append(b);
    }
    const barBox = el("div", "chart");
    bars.body.append(tabs, barBox);
    const curveBox = el("div", "chart");
    curve.body.append(curveBox);
    const powerBox = el("div", "chart");
    power.body.append(powerBox);
    root.append(power.root, bars.root, curve.root);
    tabs.children[1].click();
    // Output per shift over the last week: the mine's rhythm at a glance.
    rpt1("output", "shift", Date.now() - 6 * 86400e3).then((rep) => rptChart(curveBox, rep, "tons", "line", "t", "#2ecc71"));
    this.summary(tl);
    this.timer = setInterval(() => this.summary(tl), 60000);
    const c = chart(powerBox);
    const draw = () => { if (c && !c.isDisposed()) c.setOption(powerOption()); };
    if (Object.keys(POWER).length) draw();
    // The stored hour, once the gates are known: from the live snapshot at
    // hand, or on a fresh load from the first poll.
    let preload = null;
    const gateTiles = {};
    App.listeners.push((live) => {
      if (!preload) preload = preloadPower(live).then(draw);
      const rate = sumUnit(live, "t/h"), speed = sumUnit(live, "m/s");
      tl.rate.set(rate === null ? "—" : fmt(rate, 1), rate === null ? t("nodata") : "");
      tl.speed.set(speed === null ? "—" : fmt(speed, 2), speed === null ? t("nodata") : "");
      const online = live.devices.filter((d) => d.comm.state === "online").length;
      tl.online.set(`${online} / ${live.devices.length}`);
      tl.alarms.set(Alarms.known === null ? "—" : String(Alarms.openCount()), Alarms.known === null ? t("nodata") : "");
      tl.alarms.root.classList.toggle("alert", Alarms.openCount() > 0);
      for (const d of live.devices) {
        const p = pointOf(d, "active_power");
        if (!p) continue;
        if (!gateTiles[d.name]) {
          gateTiles[d.name] = tile("t_power", p.unit);
          gateTiles[d.name].root.querySelector(".tile-label").textContent = `${deviceLabel(d.name)} ${t("t_power")}`;
          gates.append(gateTiles[d.name].root);
        }
        gateTiles[d.name].set(fmt(p.value, 1), t(d.comm.state));
      }
      draw();
    });
  },
  // Shift, day and month output (RPT-1), the monthly limit (capacity) and
  // today's kWh per tonne (energy), all from the analytics module.
  async summary(tl) {
    const today = Date.now();
    const [sh, day, mon, cap, en, health] = await Promise.all([
      rpt1("output", "shift", today), rpt1("output", "day", today), rpt1("output", "month", today),
      getOrNull("/api/v1/capacity"), getOrNull(`/api/v1/energy?from=${dayText(today)}`),
      getOrNull("/api/v1/models/health")]);
    const last = (rep) => (rep && rep.rows.length ? column(rep, "tons").pop() : null);
    const set = (tile, v, d) => tile.set(v === null || v === undefined ? "—" : fmt(v, d), v === null || v === undefined ? t("nodata") : "");
    set(tl.shift, last(sh), 1);
    set(tl.day, last(day), 1);
    const m = last(mon);
    const limit = cap && cap.month && typeof cap.month.limit_t === "number" ? cap.month.limit_t
                : cap && typeof cap.approved_tpa === "number" ? cap.approved_tpa / 12 : null;
    // The figure stays one number for the wall screen; the limit and the share go below it.
    tl.month.set(m === null ? "—" : fmt(m, 0),
                 m === null ? t("nodata") : limit === null ? t("no_limit")
                 : `${t("month_limit")} ${fmt(limit, 0)} t · ${fmt(100 * m / limit, 0)}%`);
    set(tl.kwht, en ? en.kwh_per_t_total : null, 2);
    scaleHealth(tl.health, health);
  },
  leave() { clearInterval(this.timer); },
};

/* ---- energy ----------------------------------------------------------------- */

App.pages.energy = {
  render(root) {
    const e = panel(t("c_energy_gate"));
    const eBox = el("div", "chart");
    e.body.append(eBox);
    const pq = panel(t("c_pq"), "wide");
    const tou = panel(t("c_tou"));
    const touBox = el("div", "chart");
    tou.body.append(touBox);
    const kwh = panel(t("c_kwh_t"));
    const kwhBox = el("div", "chart");
    kwh.body.append(kwhBox);
    root.append(e.root, tou.root, kwh.root, pq.root);
    getOrNull(`/api/v1/energy?from=${dayText(Date.now())}`).then((en) => {
      const tou = en && en.time_of_use_kwh;
      if (!tou) { noData(touBox, en ? "nodata" : "nodata_api"); return; }
      const c2 = chart(touBox);
      if (c2) c2.setOption({ animation: false, tooltip: { trigger: "item" }, legend: { textStyle: CHART_TEXT, top: 4 },
        series: [{ type: "pie", radius: ["35%", "65%"], center: ["50%", "56%"], label: { color: "#c9d6e8", formatter: "{b}\n{d}%" },
          data: ["critical", "peak", "flat", "valley"].map((k) => ({ name: t("tou_" + k), value: tou[k] || 0 })),
          color: ["#e74c3c", "#f5a623", "#3ba7ff", "#2ecc71"] }] });
    });
    rpt1("energy", "day", Date.now() - 30 * 86400e3).then((rep) => rptChart(kwhBox, rep, "kwh_per_t_total", "line", "kWh/t", "#f5a623"));
    const c = chart(eBox);
    App.listeners.push((live) => {
      const gates = live.devices.filter((d) => pointOf(d, "energy_import"));
      if (!gates.length) { noData(pq.body, "nodata_wait"); return; }
      if (c) c.setOption(baseOption({
        legend: { show: false },
        xAxis: axis({ type: "category", data: gates.map((d) => deviceLabel(d.name)) }),
        yAxis: axis({ type: "value", name: "kWh" }),
        series: [{ type: "bar", data: gates.map((d) => pointOf(d, "energy_import").value), itemStyle: { color: "#f5a623" } }],
      }));
      const q = (d, k, dg) => { const p = pointOf(d, k); return p ? fmt(p.value, dg) : "—"; };
      pq.body.replaceChildren(table(
        [t("d_name"), "Ua", "Ub", "Uc", "Ia", "Ib", "Ic", t("pq_pf"), t("pq_freq"), "P (kW)", "Q (kvar)"],
        gates.map((d) => [deviceLabel(d.name), q(d, "voltage_a", 1), q(d, "voltage_b", 1), q(d, "voltage_c", 1),
                          q(d, "current_a", 2), q(d, "current_b", 2), q(d, "current_c", 2),
                          q(d, "power_factor", 3), q(d, "frequency", 2), q(d, "active_power", 1),
                          q(d, "reactive_power", 1)])));
    });
  },
};

/* ---- pages whose data comes from intake and analytics ----------------------- */

// A list from an API as a table of chosen columns [key, label key]
// (all plain columns when none are chosen); "no data yet" while the API is
// absent. Returns the rows for the caller's tiles.
async function apiTable(box, path, key, columns) {
  const data = await getOrNull(path);
  const rows = Array.isArray(data) ? data : data && Array.isArray(data[key]) ? data[key] : null;
  if (!rows || !rows.length) { noData(box, data ? "nodata" : "nodata_api"); return rows; }
  const cols = columns || Object.keys(rows[0]).filter((k) => typeof rows[0][k] !== "object").map((k) => [k, k]);
  const cell = (v) => (typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v) ? timeText(v)
                      : typeof v === "number" && !Number.isInteger(v) ? Number(v.toFixed(4)) : v);
  box.classList.add("scroll");
  // A column may carry a third element: how to show its values (e.g. translated words).
  box.replaceChildren(table(cols.map((c) => t(c[1])), rows.map((r) => cols.map((c) => (c[2] || cell)(r[c[0]])))));
  return rows;
}

const TICKET_COLS = [["ticketId", "w_ticket"], ["plate", "w_plate"], ["material", "w_material"], ["direction", "w_direction"],
  ["grossTime", "w_gross_time"], ["gross", "w_gross"], ["tare", "w_tare"], ["net", "w_net"], ["weighbridgeId", "w_bridge"],
  ["contractId", "w_contract"]];
const CAPTURE_COLS = [["captureTime", "a_time"], ["pointId", "w_point"], ["direction", "w_direction"], ["plate", "w_plate"],
  ["load", "w_loaded"], ["state", "a_state"], ["ticketId", "w_ticket"]];
const ESCAPE_COLS = [["captureTime", "a_time"], ["pointId", "w_point"], ["plate", "w_plate"], ["detail", "a_detail"]];

App.pages.sales = {
  render(root) {
    const tiles = el("div", "tiles");
    const tl = { n: tile("w_tickets_n", ""), net: tile("w_net_sum", "t"), exits: tile("w_exits_n", ""), esc: tile("w_escapes_n", "") };
    for (const k in tl) tiles.append(tl[k].root);
    root.append(tiles);
    const day = `from=${dayText(Date.now())}`;
    const lists = [["s_tickets", `/api/v1/weighbridge/tickets?limit=500&${day}`, "tickets", TICKET_COLS, tl.n, tl.net],
                   ["s_exits", `/api/v1/exits/captures?limit=500&${day}`, "captures", CAPTURE_COLS, tl.exits],
                   ["s_escapes", `/api/v1/exits/escapes?limit=500&${day}`, "escapes", ESCAPE_COLS, tl.esc]];
    for (const [key, path, field, cols, countTile, sumTile] of lists) {
      const p = panel(t(key), "wide");
      root.append(p.root);
      apiTable(p.body, path, field, cols).then((rows) => {
        countTile.set(rows ? String(rows.length) : "—", rows ? t("span_1") : t("nodata"));
        if (sumTile) {
          const net = rows ? rows.reduce((s, r) => s + (typeof r.net === "number" ? r.net : 0), 0) : null;
          sumTile.set(net === null ? "—" : fmt(net, 1), rows ? t("span_1") : t("nodata"));
        }
      });
    }
  },
};

// Beijing wall-clock text of a time in ms, whatever the browser's time zone.
function bjText(ms, from, to) { return new Date(ms + 8 * 3600e3).toISOString().slice(from, to).replace("T", " "); }
// An axis tooltip on a time axis headed by the Beijing time (ECharts would use
// the browser's zone): "HH:mm:ss" with (11, 19), "MM-dd HH:mm" with (5, 16).
function bjTooltip(from, to, digits) {
  const enc = (x) => echarts.format.encodeHTML(String(x));
  return { trigger: "axis", axisPointer: { label: { formatter: (p) => bjText(p.value, from, to) } },
    formatter: (ps) => [enc(bjText(ps[0].value[0], from, to)),
      ...ps.map((p) => `${p.marker}${enc(p.seriesName)}: ${fmt(p.value[1], digits)}`)].join("<br>") };
}
// "yyyy-MM-dd HH:mm:ss" Beijing (the analytics API's times) to ms.
function bjParse(s) { return Date.parse(s.replace(" ", "T") + "+08:00"); }

// Metered tonnage against the tonnage the electricity implies, interval by
// interval over two days, and below it the standardised residual z with the
// two CUSUM sums and the alarm threshold ±h the server reports (ANA-1).
async function impliedCharts(gate, impBox, zBox) {
  const now = Date.now();
  const q = (ms) => encodeURIComponent(bjText(ms, 0, 16));
  const data = await getOrNull(`/api/v1/models/implied?gate=${gate}&from=${q(now - 2 * 86400e3)}&to=${q(now)}`);
  for (const b of [impBox, zBox]) { // a gate change redraws: drop the old instances
    const old = window.echarts && echarts.getInstanceByDom(b);
    if (old) { App.charts = App.charts.filter((x) => x !== old); old.dispose(); }
  }
  if (!data || !Array.isArray(data.rows)) { noData(impBox, data ? "nodata" : "k_no_model"); zBox.replaceChildren(); return; }
  if (!data.rows.length) { noData(impBox, "nodata"); zBox.replaceChildren(); return; }
  impBox.replaceChildren();
  zBox.replaceChildren();
  impBox.dataset.gate = gate; // which gate is drawn (the browser test waits on it)
  const col = (name) => { const i = data.columns.indexOf(name); return data.rows.map((r) => [bjParse(r[0]), i < 0 ? null : r[i]]); };
  const timeAxis = axis({ type: "time", axisLabel: { color: "#8fa3bf", hideOverlap: true, formatter: (v) => bjText(v, 5, 16) } });
  const tip = bjTooltip(5, 16, 2);
  const c1 = chart(impBox);
  if (c1) c1.setOption(baseOption({ tooltip: tip, xAxis: timeAxis, yAxis: axis({ type: "value", name: "t" }),
    series: [{ name: t("k_metered"), type: "line", showSymbol: false, data: col("tons"), itemStyle: { color: "#3ba7ff" } },
             { name: t("k_implied_t"), type: "line", showSymbol: false, data: col("implied_t"), itemStyle: { color: "#f5a623" } }] }));
  const h = data.cusum && typeof data.cusum.h === "number" ? data.cusum.h : null;
  const line = h === null ? undefined : { silent: true, symbol: "none", label: { color: "#e74c3c", formatter: "{c}" },
    lineStyle: { color: "#e74c3c", type: "dashed" }, data: [{ yAxis: h, name: t("k_threshold") }, { yAxis: -h, name: t("k_threshold") }] };
  const c2 = chart(zBox);
  if (c2) c2.setOption(baseOption({ tooltip: tip, xAxis: timeAxis,
    yAxis: axis({ type: "value", name: "σ", min: h === null ? undefined : -Math.ceil(h + 1), max: h === null ? undefined : Math.ceil(h + 1) }),
    series: [{ name: t("k_z"), type: "line", showSymbol: false, data: col("z"), itemStyle: { color: "#8fa3bf" }, lineStyle: { width: 1 } },
             { name: t("k_cusum_high"), type: "line", showSymbol: false, data: col("cusum_high"), itemStyle: { color: "#2ecc71" }, markLine: line },
             { name: t("k_cusum_low"), type: "line", showSymbol: false, data: col("cusum_low"), itemStyle: { color: "#e74c3c" } }] }));
}

App.pages.consistency = {
  render(root) {
    const fit = panel(t("k_fit"));
    const fitBox = el("div", "chart");
    fit.body.append(fitBox);
    const res = panel(t("k_episodes"));
    const resBox = el("div", "chart");
    res.body.append(resBox);
    const models = panel(t("k_models"), "wide");
    const implied = panel(t("k_implied"), "wide");
    const gatePick = el("select");
    gatePick.name = "gate";
    for (const g of ["transport", "total"]) {
      const o = el("option", null, t("k_gate_" + g));
      o.value = g;
      gatePick.append(o);
    }
    const impBox = el("div", "chart");
    const zBox = el("div", "chart");
    impBox.id = "k-implied";
    zBox.id = "k-residual";
    implied.body.append(gatePick, impBox, zBox);
    root.append(fit.root, res.root, implied.root, models.root);
    const showImplied = () => impliedCharts(gatePick.value, impBox, zBox);
    gatePick.addEventListener("change", showImplied);
    showImplied();
    // The model in force per gate: E = a·run hours + b·tonnes + c per interval.
    getOrNull("/api/v1/models/current").then((cur) => {
      const gates = cur ? Object.values(cur).filter((m) => m) : [];
      if (!gates.length) { noData(fitBox, cur ? "nodata" : "nodata_api"); return; }
      fitBox.classList.remove("chart");
      fitBox.replaceChildren(table([t("k_gate"), t("k_version"), "a (kWh/h)", "b (kWh/t)", "c (kWh)", "R²", "σ (kWh)", t("k_window"), t("k_fitted")],
        gates.map((m) => [m.gate, m.version, fmt(m.a_kwh_per_run_hour, 2), fmt(m.b_kwh_per_t, 4), fmt(m.c_kwh_per_interval, 2),
                          fmt(m.r2, 3), fmt(m.sigma_kwh, 2), `${m.window_from} — ${m.window_to}`, m.fitted_at])));
    });
    // Episodes where metered tonnage and electricity drifted apart (CUSUM).
    getOrNull(`/api/v1/consistency?from=${dayText(Date.now() - 30 * 86400e3)}`).then((eps) => {
      if (!Array.isArray(eps)) { noData(resBox, "nodata_api"); return; }
      if (!eps.length) { noData(resBox, "k_none"); return; }
      const c = chart(resBox);
      if (c) c.setOption(baseOption({ legend: { show: false },
        xAxis: axis({ type: "category", data: eps.map((e) => `${e.start.slice(5, 16)} ${e.source}`) }),
        yAxis: axis({ type: "value", name: "%" }),
        series: [{ type: "bar", data: eps.map((e) => (e.detail ? e.detail.deviation_pct : null)), itemStyle: { color: "#e74c3c" } }] }));
    });
    apiTable(models.body, "/api/v1/models", "models", [["version", "k_version"], ["gate", "k_gate"], ["a_kwh_per_run_hour", "a"],
      ["b_kwh_per_t", "b"], ["c_kwh_per_interval", "c"], ["r2", "R²"], ["intervals", "k_intervals"], ["outliers", "k_outliers"],
      ["fitted_at", "k_fitted"]]);
  },
};

/* ---- devices ------------------------------------------------------------------ */

// Devices from /api/v1/live (state, serial); a name opens its history from
// the collector's GET /api/v1/devices/{name}/events.
App.pages.devices = {
  render(root) {
    const p = panel(t("nav_devices"), "wide");
    const hist = panel(t("d_history"), "wide");
    root.append(p.root, hist.root);
    noData(hist.body, "d_pick");
    App.listeners.push((live) => {
      if (!live.devices.length) { noData(p.body, "nodata_wait"); return; }
      p.body.replaceChildren(table(
        [t("d_name"), t("d_kind"), t("d_model"), t("d_serial"), t("d_state"), t("d_since"), t("d_last_ok"), t("d_detail")],
        live.devices.map((d) => {
          const a = el("a", "drill", deviceLabel(d.name));
          a.href = "#devices";
          a.addEventListener("click", (ev) => {
            ev.preventDefault();
            hist.root.querySelector("h3").textContent = `${t("d_history")} · ${deviceLabel(d.name)}`;
            apiTable(hist.body, `/api/v1/devices/${encodeURIComponent(d.name)}/events?limit=200`, "events",
                     [["time", "a_time"], ["kind", "d_kind", deviceWord], ["state", "a_state", deviceWord], ["detail", "d_detail"]]);
          });
          return [a, deviceWord(d.kind), d.model, d.serial, stateBadge(d.comm.state), timeText(d.comm.since), timeText(d.comm.last_ok), d.comm.detail];
        })));
    });
  },
};

/* ---- reports: print and CSV ----------------------------------------------------- */

function csvCell(v) {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// UTF-8 with a byte-order mark, so that Excel opens the Chinese right.
function downloadCsv(name, head, rows) {
  const text = "\ufeff" + [head, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
  const a = el("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  a.download = name;
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function readingsReport(live) {
  const head = [t("d_name"), t("point"), t("value"), t("unit"), t("time")];
  const rows = livePoints(live).map(({ device, point }) =>
    [deviceLabel(device.name), quantityLabel(point.quantity, point.name),
     point.value === null ? "" : Number(point.value.toFixed(digitsFor(point.unit))), point.unit, timeText(point.ts)]);
  return { head, rows };
}

// Reports: the live readings from /api/v1/live, and RPT-2 reports from the
// intake module (/api/v1/reports/rpt2/<kind>, JSON {columns, rows}; its CSV
// and Excel come from the server with format=csv and format=xlsx).
const RPT2 = ["output-summary", "output-detail", "material", "outbound", "vehicles"];
const RPT1 = ["rpt1:output", "rpt1:pts", "rpt1:energy"]; // analytics: per shift/day/month/year
// Chinese headings of the report columns the servers name in English.
const COL_ZH = { period: "周期", start: "开始", tons: "产量 (t)", run_hours: "运行时长 (h)", t_per_run_hour: "台时产量 (t/h)",
  vs_previous: "环比", vs_last_year: "同比", output_t: "产量 (t)", truck_sales_t: "汽运销量 (t)", trucks: "车次",
  rail_sales_t: "铁路销量 (t)", inventory_change_t: "库存变化 (t)", balance_diff_t: "产销差 (t)", transport_kwh: "主运输电量 (kWh)",
  total_kwh: "全矿电量 (kWh)", kwh_per_t_total: "吨煤电耗 (kWh/t)", peak_kwh: "峰电量", flat_kwh: "平电量", valley_kwh: "谷电量",
  critical_kwh: "尖峰电量", cost_yuan: "电费 (元)", tce: "折标煤 (t)", co2_t: "CO₂ (t)" };
function colLabel(c) { return (lang === "zh" && COL_ZH[c]) || c; }

App.pages.reports = {
  render(root) {
    const bar = el("div", "report-bar no-print");
    const pick = el("select");
    pick.name = "report";
    for (const k of ["r_readings", ...RPT1, ...RPT2]) {
      const o = el("option", null, k.startsWith("r_") ? t(k) : t("rpt_" + k.replace(":", "_")));
      o.value = k;
      pick.append(o);
    }
    const span = el("select");
    span.name = "span";
    for (const d of [1, 7, 31]) {
      const o = el("option", null, t("span_" + d));
      o.value = String(d);
      span.append(o);
    }
    const period = el("select");
    period.name = "period";
    for (const pr of ["shift", "day", "month", "year"]) {
      const o = el("option", null, t(pr));
      o.value = pr;
      period.append(o);
    }
    period.value = "day";
    const print = el("button", null, t("r_print"));
    const csv = el("button", "primary", t("r_csv"));
    const xlsx = el("button", null, t("r_xlsx")); // the server's workbook, as `coalmon ... --xlsx`
    print.type = csv.type = xlsx.type = "button";
    csv.id = "report-csv";
    xlsx.id = "report-xlsx";
    bar.append(pick, period, span, print, csv, xlsx);
    const p = panel(t("r_title"), "wide report");
    root.append(bar, p.root);
    let current = null;
    // RPT-1 spans follow the period (a year of months...); RPT-2 the span picker.
    const query = () => {
      const now = Date.now();
      const days = pick.value.startsWith("rpt1:") ? SPAN_DAYS[period.value] : Number(span.value);
      const q = `from=${dayText(now - (days - 1) * 86400e3)}&to=${dayText(now + 86400e3)}`;
      return pick.value.startsWith("rpt1:") ? `period=${period.value}&${q}` : q;
    };
    const path = () => (pick.value.startsWith("rpt1:") ? `/api/v1/reports/rpt1/${pick.value.slice(5)}` : `/api/v1/reports/rpt2/${pick.value}`);
    const show = async () => {
      p.root.querySelector("h3").textContent = `${pick.options[pick.selectedIndex].text} · ${timeText(App.live && App.live.time)}`;
      current = null;
      span.hidden = !RPT2.includes(pick.value);
      period.hidden = !pick.value.startsWith("rpt1:");
      xlsx.hidden = pick.value === "r_readings"; // RPT-1/RPT-2 only
      if (pick.value === "r_readings") {
        if (!App.live) { noData(p.body, "nodata_wait"); return; }
        current = readingsReport(App.live);
      } else {
        const data = await getOrNull(`${path()}?${query()}`);
        if (!data || !Array.isArray(data.columns) || !Array.isArray(data.rows)) { noData(p.body, "nodata_api"); return; }
        current = { head: data.columns.map((c) => colLabel(typeof c === "object" ? c.label || c.name : c)),
                    rows: data.rows.map((r) => r.map((v) => (typeof v === "number" && !Number.isInteger(v) ? Number(v.toFixed(3)) : v))),
                    server: true };
        if (!current.rows.length) { noData(p.body, "nodata"); return; }
      }
      p.body.replaceChildren(table(current.head, current.rows));
    };
    pick.addEventListener("change", show);
    span.addEventListener("change", show);
    period.addEventListener("change", show);
    print.addEventListener("click", () => window.print());
    csv.addEventListener("click", () => {
      if (!current) return;
      if (current.server) { location.href = `${path()}?${query()}&format=csv`; return; }
      downloadCsv(`coalmon-readings-${(App.live ? App.live.time : "").slice(0, 10)}.csv`, current.head, current.rows);
    });
    xlsx.addEventListener("click", () => {
      if (current && current.server) location.href = `${path()}?${query()}&format=xlsx`;
    });
    App.listeners.push(() => { if (!current && pick.value === "r_readings") show(); });
    show();
  },
};

/* ---- server health (QRY-3) ------------------------------------------------------ */

App.pages.server = {
  render(root) {
    const gauges = panel(`${t("h_cpu")} · ${t("h_mem")} · ${t("h_disk")}`, "wide");
    const gBox = el("div", "chart gauges");
    gauges.body.append(gBox);
    const hist = panel(t("h_history"), "wide");
    const hBox = el("div", "chart");
    hist.body.append(hBox);
    const info = el("div", "info");
    root.append(gauges.root, info, hist.root);
    const g = chart(gBox), h = chart(hBox);
    const gauge = (name, v, x) => ({
      type: "gauge", name, center: [x, "58%"], radius: "80%", min: 0, max: 100,
      axisLine: { lineStyle: { width: 14, color: [[0.7, "#2ecc71"], [0.9, "#f5a623"], [1, "#e74c3c"]] } },
      pointer: { width: 5 }, axisLabel: { color: "#8fa3bf", fontSize: 10 }, splitLine: { length: 14 },
      title: { color: "#c9d6e8", offsetCenter: [0, "85%"], fontSize: 16 },
      detail: { formatter: v === null ? "—" : "{value}%", color: "#fff", fontSize: 22, offsetCenter: [0, "40%"] },
      data: [{ value: v === null ? 0 : v, name }],
    });
    const load = async () => {
      const s = await getOrNull("/api/v1/server");
      if (!s) { noData(gauges.body, "error"); return; }
      if (g) g.setOption({ animation: false, series: [gauge(t("h_cpu"), s.cpu.used_pct, "17%"), gauge(t("h_mem"), s.memory.used_pct, "50%"),
                                    gauge(t("h_disk"), s.disk.used_pct, "83%")] });
      info.replaceChildren(table([t("h_host"), t("h_cpu"), t("h_load"), t("h_mem"), t("h_disk"), t("h_db"), t("h_uptime")], [[
        s.host, `${s.cpu.cores} ${t("h_cores")}`, (s.cpu.load || []).map((x) => x.toFixed(2)).join(" / "),
        `${fmt(s.memory.available_mb, 0)} MB ${t("h_free")} / ${fmt(s.memory.total_mb, 0)} MB`,
        `${fmt(s.disk.free_gb, 1)} GB ${t("h_free")} / ${fmt(s.disk.total_gb, 1)} GB (${s.disk.path})`,
        s.disk.database_mb === undefined ? "—" : `${fmt(s.disk.database_mb, 1)} MB`,
        `${Math.floor(s.uptime_s / 86400)} d ${Math.floor((s.uptime_s % 86400) / 3600)} h ${Math.floor((s.uptime_s % 3600) / 60)} min`]]));
      if (h) h.setOption(baseOption({
        xAxis: axis({ type: "time" }), yAxis: axis({ type: "value", name: "%", min: 0, max: 100 }),
        series: [["cpu", t("h_cpu")], ["mem", t("h_mem")], ["disk", t("h_disk")]].map(([k, n]) => ({
          name: n, type: "line", showSymbol: false, data: s.history.map((x) => [x.ts_ms, x[k]]) })),
      }));
    };
    load();
    this.timer = setInterval(load, 5000);
  },
  leave() { clearInterval(this.timer); },
};
