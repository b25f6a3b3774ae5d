// Live page: polls /api/v1/live and renders one card per device. zh-CN first.
"use strict";
const I18N = {
  zh: { title: "煤矿产量监测 · 实时数据", updated: "更新时间", switch: "English",
        online: "在线", degraded: "通信不稳", offline: "离线", unknown: "未知",
        serial: "序列号", model: "型号", since: "状态自", nodata: "暂无数据",
        error: "无法连接服务器" },
  en: { title: "Coal output monitoring · live", updated: "Updated", switch: "中文",
        online: "online", degraded: "degraded", offline: "offline", unknown: "unknown",
        serial: "Serial", model: "Model", since: "since", nodata: "no data yet",
        error: "cannot reach the server" },
};
const LABELS = {
  zh: { voltage_a: "A相电压", voltage_b: "B相电压", voltage_c: "C相电压", voltage_ab: "AB线电压",
        voltage_bc: "BC线电压", voltage_ca: "CA线电压", current_a: "A相电流", current_b: "B相电流",
        current_c: "C相电流", active_power: "有功功率", active_power_a: "A相有功",
        active_power_b: "B相有功", active_power_c: "C相有功", reactive_power: "无功功率",
        power_factor: "功率因数", frequency: "频率", energy_import: "正向有功电能",
        energy_export: "反向有功电能", energy_reactive: "无功电能" },
};
const DEVICE_NAMES = { zh: { "gate-total": "全矿总开关", "gate-underground": "井下供电开关",
                             "gate-transport": "主运输设备开关" } };
let lang = localStorage.getItem("coalmon.lang") || "zh";

function t(key) { return I18N[lang][key] || key; }
function label(q, name) { return (LABELS[lang] && LABELS[lang][q]) || name; }
function deviceName(n) { return (DEVICE_NAMES[lang] && DEVICE_NAMES[lang][n]) || n; }

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmt(v, unit) {
  if (v === null || v === undefined) return "—";
  const digits = unit === "kWh" || unit === "kvarh" ? 1 : unit === "" ? 3 : 2;
  return v.toLocaleString(lang === "zh" ? "zh-CN" : "en-US",
                          { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function render(data) {
  const root = document.getElementById("devices");
  root.replaceChildren();
  for (const d of data.devices) {
    const card = el("section", "device");
    card.dataset.device = d.name;
    const h = el("h2", null, deviceName(d.name));
    h.append(el("span", "state " + d.comm.state, t(d.comm.state)));
    card.append(h);
    const table = el("table");
    for (const p of d.points) {
      const tr = el("tr");
      tr.dataset.point = p.name;
      tr.append(el("td", "n", label(p.quantity, p.name)), el("td", "v", fmt(p.value, p.unit)),
                el("td", "u", p.unit));
      table.append(tr);
    }
    card.append(table);
    card.append(el("div", "meta", `${t("model")} ${d.model || "—"} · ${t("serial")} ${d.serial || "—"}` +
                                  (d.comm.since ? ` · ${t("since")} ${d.comm.since.slice(0, 19).replace("T", " ")}` : "")));
    root.append(card);
  }
  document.getElementById("updated").textContent = data.time.slice(0, 19).replace("T", " ");
}

async function refresh() {
  try {
    const r = await fetch("/api/v1/live", { cache: "no-store" });
    if (!r.ok) throw new Error(r.status);
    render(await r.json());
  } catch (e) {
    document.getElementById("updated").textContent = t("error");
  }
}

function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  document.getElementById("lang").textContent = t("switch");
}

document.getElementById("lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("coalmon.lang", lang);
  applyLang();
  refresh();
});
setInterval(() => { document.getElementById("clock").textContent = new Date().toLocaleString("zh-CN", { hour12: false }); }, 1000);
applyLang();
refresh();
setInterval(refresh, 2000);
