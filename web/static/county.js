// The county screen (platform role): every enterprise on one page — output
// today and month to date against capacity, alarms, silent enterprises, the
// gaps each still owes — and one enterprise in detail. Also the uplink
// status of this server's own destinations. Data: the uplink module's
// GET /api/v1/enterprises and GET /api/v1/uplink/status.
"use strict";

function ratioBar(r) {
  const box = el("div", "ratio");
  if (typeof r !== "number") { box.textContent = "—"; return box; }
  const bar = el("span", r >= 1 ? "over" : r >= 0.9 ? "near" : "");
  bar.style.width = `${Math.min(100, r * 100).toFixed(0)}%`;
  box.append(bar, el("b", null, `${(r * 100).toFixed(1)}%`));
  return box;
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
  // One enterprise: its figures, the gaps it owes, and the records received.
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
    const recBox = el("div");
    b.replaceChildren(facts, el("h4", null, t("e_gaps")), gaps, el("h4", null, t("e_records")), recBox);
    apiTable(recBox, `/api/v1/enterprises/${encodeURIComponent(e.code)}/records?limit=200`, "records");
  },
  leave() { clearInterval(this.timer); this.current = null; },
};
