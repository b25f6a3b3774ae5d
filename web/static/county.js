// The county screen (platform role): every enterprise on one page — output
// today and month to date against capacity, alarms, silent enterprises, the
// gaps each still owes — and one enterprise in detail. Also the uplink
// status of this server's own destinations. Data: the uplink module's
// GET /api/v1/enterprises, /api/v1/enterprises/{code}[/records] and
// GET /api/v1/uplink/status.
"use strict";

function ratioBar(r) {
  const box = el("div", "ratio");
  if (typeof r !== "number") { box.textContent = "—"; return box; }
  const bar = el("span", r >= 1 ? "over" : r >= 0.9 ? "near" : "");
  bar.style.width = `${Math.min(100, r * 100).toFixed(0)}%`;
  box.append(bar, el("b", null, `${(r * 100).toFixed(1)}%`));
  return box;
}

// The record type's Chinese (or English) name where the dashboard knows it;
// the contract's own name otherwise (e.g. the scyf risk types).
function recordTypeName(type) {
  return I18N.zh["rt_" + type] ? `${t("rt_" + type)} ${type}` : type;
}

App.pages.county = {
  render(root) {
    const tiles = el("div", "tiles");
    const tl = { n: tile("e_count", ""), silent: tile("e_silent", ""), alarms: tile("t_alarms", ""),
                 month: tile("e_month", "t"), owed: tile("e_owed", "h") };
    for (const k in tl) tiles.append(tl[k].root);
    const list = panel(t("e_list"), "wide");
    const chartP = panel(t("e_chart"), "wide");
    const box = el("div", "chart");
    chartP.body.append(box);
    this.detail = panel(t("e_detail"), "wide");
    noData(this.detail.body, "e_pick");
    const up = panel(t("u_status"), "wide");
    root.append(tiles, list.root, chartP.root, this.detail.root, up.root);
    const c = chart(box);
    const load = async () => {
      const data = await getOrNull("/api/v1/enterprises?days=7");
      const es = data && Array.isArray(data.enterprises) ? data.enterprises : null;
      if (!es || !es.length) {
        noData(list.body, es ? "nodata" : "nodata_api");
        for (const k in tl) tl[k].set("—", t("nodata"));
        return;
      }
      const silent = es.filter((e) => e.silent).length;
      tl.n.set(String(es.length));
      tl.silent.set(String(silent));
      tl.silent.root.classList.toggle("alert", silent > 0);
      const alarms = es.reduce((n, e) => n + (e.open_alarms || 0), 0);
      tl.alarms.set(String(alarms));
      tl.alarms.root.classList.toggle("alert", alarms > 0);
      tl.month.set(fmt(es.reduce((n, e) => n + ((e.month_to_date && e.month_to_date.tons) || 0), 0), 1));
      tl.owed.set(fmt(es.reduce((n, e) => n + (e.gaps_seconds || 0), 0) / 3600, 1), `${data.days} ${t("e_days")}`);
      list.body.replaceChildren(table(
        [t("e_code"), t("e_name"), t("e_contact"), t("d_state"), t("e_latest"), t("e_month"), t("e_limit"), t("e_ratio"), t("t_alarms"), t("e_owed")],
        es.map((e) => {
          const m = e.month_to_date || {};
          const name = el("a", "drill", e.name);
          name.href = "#county";
          name.addEventListener("click", (ev) => { ev.preventDefault(); this.show(e); });
          return [e.code, name, e.last_contact, stateBadge(e.silent ? "offline" : "online"),
                  e.latest_output ? `${fmt(e.latest_output.tons, 1)} t` : "—", fmt(m.tons, 1),
                  m.month_limit_t === null || m.month_limit_t === undefined ? t("no_limit") : fmt(m.month_limit_t, 0),
                  ratioBar(m.ratio), e.open_alarms, fmt((e.gaps_seconds || 0) / 3600, 1)];
        })));
      for (const row of list.body.querySelectorAll("tbody tr")) {
        const st = row.querySelector(".state");
        if (st && st.classList.contains("offline")) { st.textContent = t("e_silent_one"); row.classList.add("silent"); }
      }
      if (c) c.setOption(baseOption({
        xAxis: axis({ type: "category", data: es.map((e) => e.name) }), yAxis: axis({ type: "value", name: "t" }),
        series: [{ name: t("e_month"), type: "bar", data: es.map((e) => (e.month_to_date ? e.month_to_date.tons : null)), itemStyle: { color: "#3ba7ff" } },
                 { name: t("e_limit"), type: "bar", data: es.map((e) => (e.month_to_date ? e.month_to_date.month_limit_t : null)), itemStyle: { color: "#5b6b80" } }],
      }));
      if (this.current) { const again = es.find((e) => e.code === this.current); if (again) this.show(again); }
    };
    const loadUplink = async () => {
      const s = await getOrNull("/api/v1/uplink/status");
      const ds = s && Array.isArray(s.destinations) ? s.destinations : null;
      if (!ds || !ds.length) { noData(up.body, s ? "nodata" : "nodata_api"); return; }
      up.body.replaceChildren(table([t("u_dest"), t("u_pending"), t("u_oldest"), t("u_delivered"), t("u_aside"), t("u_last")],
        ds.map((d) => [d.destination, d.pending, d.oldest_age_s === null ? "—" : `${d.oldest_age_s} s`, d.delivered, d.aside,
                       d.last_attempt ? `${d.last_attempt.time} · ${d.last_attempt.code} ${d.last_attempt.message || ""}` : "—"])));
    };
    load();
    loadUplink();
    this.timer = setInterval(() => { load(); loadUplink(); }, 10000);
  },
  // One enterprise: its figures, the gaps it owes, and the records received
  // (GET /api/v1/enterprises/{code} for the counts per type,
  // .../records for the list), with a type filter and, for the interval
  // types, tons or kWh over time.
  async show(e) {
    this.current = e.code;
    const b = this.detail.body;
    this.detail.root.querySelector("h3").textContent = `${t("e_detail")} · ${e.name} (${e.code})`;
    const m = e.month_to_date || {};
    const facts = table([t("e_contact"), t("e_latest"), t("e_month"), t("e_limit"), t("e_ratio"), t("t_alarms")],
      [[e.last_contact, e.latest_output ? `${fmt(e.latest_output.tons, 1)} t (${e.latest_output.startTime || ""} — ${e.latest_output.endTime || ""})` : "—",
        fmt(m.tons, 1), m.month_limit_t === null || m.month_limit_t === undefined ? t("no_limit") : fmt(m.month_limit_t, 0),
        ratioBar(m.ratio), e.open_alarms]]);
    const gaps = (e.gaps || []).length
      ? table([t("e_series"), t("e_type"), t("e_from"), t("e_to"), t("e_hours")],
              e.gaps.map((g) => [g.series, g.record_type, g.from, g.to, fmt(g.seconds / 3600, 2)]))
      : el("div", "nodata", t("e_nogaps"));
    const pick = el("select");
    pick.name = "rtype";
    const note = el("span", "note");
    const chartBox = el("div", "chart");
    chartBox.id = "e-rchart";
    chartBox.hidden = true;
    const recBox = el("div", "records scroll");
    const bar = el("div", "filters");
    bar.append(el("label", null, t("e_type") + " "), pick, note);
    b.replaceChildren(facts, el("h4", null, t("e_gaps")), gaps, el("h4", null, t("e_records")), bar, chartBox, recBox);
    const one = await getOrNull(`/api/v1/enterprises/${encodeURIComponent(e.code)}?days=7`);
    if (this.current !== e.code || !b.contains(pick)) return; // another enterprise was picked meanwhile
    const counts = (one && one.counts_total) || {};
    const opts = [["", `${t("e_all_types")} (${(one && one.records_total) || 0})`]]
      .concat(Object.keys(counts).map((k) => [k, `${recordTypeName(k)} (${counts[k]})`]));
    for (const [v, label] of opts) {
      const o = el("option", null, label);
      o.value = v;
      pick.append(o);
    }
    if (this.rtype && counts[this.rtype]) pick.value = this.rtype;
    const load = () => { this.rtype = pick.value; this.records(e.code, pick.value, recBox, chartBox, note); };
    pick.addEventListener("change", load);
    load();
  },
  async records(code, type, box, chartBox, note) {
    const q = `limit=500${type ? `&type=${encodeURIComponent(type)}` : ""}`;
    const data = await getOrNull(`/api/v1/enterprises/${encodeURIComponent(code)}/records?${q}`);
    const rs = data && Array.isArray(data.records) ? data.records : null;
    note.textContent = rs ? ` ${t("e_shown")} ${rs.length} / ${data.total}` : "";
    this.recordChart(type, rs || [], chartBox);
    if (!rs || !rs.length) { noData(box, rs ? "nodata" : "nodata_api"); return; }
    const body = (r) => {
      const text = typeof r.body === "string" ? r.body : JSON.stringify(r.body);
      const c = el("code", null, text.length > 160 ? text.slice(0, 160) + "…" : text);
      c.title = text;
      return c;
    };
    const value = (r) => (r.body && typeof r.body.tons === "number" ? `${fmt(r.body.tons, 3)} t`
      : r.body && typeof r.body.kwh === "number" ? `${fmt(r.body.kwh, 1)} kWh` : "—");
    box.replaceChildren(table([t("e_received"), t("e_type"), t("e_record_id"), t("e_revisions"), t("e_period"), t("e_value"), t("e_body")],
      rs.map((r) => [r.received, recordTypeName(r.type), r.id, r.revisions,
                     r.start ? `${r.start} — ${r.end}` : "—", value(r), body(r)])));
  },
  // Interval types: one line per station or gate, by the interval's start.
  recordChart(type, rs, box) {
    if (this.rchart) { this.rchart.dispose(); App.charts = App.charts.filter((c) => c !== this.rchart); this.rchart = null; }
    const key = type === "coalOutput" ? "tons" : type === "powerGate" ? "kwh" : null;
    box.hidden = !key || !rs.length;
    if (box.hidden) return;
    const bySeries = {};
    for (const r of rs) {
      if (!r.start || !r.body || typeof r.body[key] !== "number") continue;
      (bySeries[r.series || "—"] = bySeries[r.series || "—"] || []).push([r.start.replace(" ", "T") + "+08:00", r.body[key]]);
    }
    this.rchart = chart(box);
    if (!this.rchart) return;
    this.rchart.setOption(baseOption({
      xAxis: axis({ type: "time" }), yAxis: axis({ type: "value", name: key === "tons" ? "t" : "kWh" }),
      series: Object.keys(bySeries).map((s) => ({ name: s, type: "line", step: "start", showSymbol: false,
        data: bySeries[s].sort((x, y) => (x[0] < y[0] ? -1 : 1)) })),
    }));
  },
  leave() { clearInterval(this.timer); this.current = null; this.rchart = null; },
};
