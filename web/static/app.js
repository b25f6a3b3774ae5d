// The dashboard shell: API calls with the session's CSRF token, login, the
// page router, live polling of /api/v1/live, the clock and the language switch.
// Pages live in pages.js, the alarm screen in alarms.js. Nothing loads from
// outside this server: the mine's network has no internet.
"use strict";

const App = {
  session: { user: null, role: null, csrf: null },
  live: null,          // last /api/v1/live
  page: null,          // the current page object {render, update, leave}
  pages: {},           // name -> page, filled by pages.js and alarms.js
  charts: [],          // ECharts instances of the current page
  listeners: [],       // functions called with each new live snapshot
  feeds: [],           // the same, kept across page changes (histories a page shows when it opens)
};
const ROLES = ["viewer", "dispatcher", "engineer", "admin"];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function fmt(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  return Number(v).toLocaleString(lang === "zh" ? "zh-CN" : "en-US",
                                  { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
function digitsFor(unit) { return unit === "kWh" || unit === "kvarh" ? 1 : unit === "" ? 3 : 2; }
function timeText(iso) { return iso ? iso.slice(0, 19).replace("T", " ") : "—"; }
function hasRole(role) {
  return App.session.role && ROLES.indexOf(App.session.role) >= ROLES.indexOf(role);
}

// fetch JSON; a change carries the CSRF token. Returns {status, body}.
async function api(method, path, body) {
  const opts = { method, cache: "no-store", credentials: "same-origin", headers: {} };
  if (method !== "GET") {
    if (App.session.csrf) opts.headers["X-CSRF-Token"] = App.session.csrf;
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  return { status: r.status, body: data };
}

// A page's API that has not landed answers 404: the page says "no data yet".
async function getOrNull(path) {
  try {
    const r = await api("GET", path);
    return r.status === 200 ? r.body : null;
  } catch (e) {
    return null;
  }
}

/* ---- session ------------------------------------------------------------- */

async function loadSession() {
  const r = await api("GET", "/api/v1/session").catch(() => null);
  App.session = r && r.body && r.body.user ? r.body : { user: null, role: null, csrf: null };
  showSession();
}

function showSession() {
  const s = App.session;
  document.getElementById("who").textContent = s.user ? `${s.user} · ${s.role}` : "";
  document.getElementById("login-btn").hidden = !!s.user;
  document.getElementById("logout-btn").hidden = !s.user;
  document.body.dataset.role = s.role || "anonymous";
}

function openLogin() {
  const dlg = document.getElementById("login-dlg");
  document.getElementById("login-err").textContent = "";
  dlg.showModal();
  dlg.querySelector("input[name=name]").focus();
}

async function submitLogin(ev) {
  ev.preventDefault();
  const f = ev.target;
  const r = await api("POST", "/api/v1/session", { name: f.name.value, password: f.password.value });
  if (r.status === 200) {
    App.session = r.body;
    f.password.value = "";
    document.getElementById("login-dlg").close();
    showSession();
    route();
  } else {
    document.getElementById("login-err").textContent = r.status === 429 ? t("login_limited") : t("login_failed");
  }
}

async function logout() {
  await api("DELETE", "/api/v1/session").catch(() => null);
  App.session = { user: null, role: null, csrf: null };
  showSession();
  route();
}

/* ---- charts -------------------------------------------------------------- */

// An ECharts instance in box, disposed when the page changes. Without the
// library (npm unavailable at build) the box says so instead.
function chart(box) {
  if (!window.echarts) {
    box.append(el("div", "nodata", t("charts_missing")));
    return null;
  }
  const c = echarts.init(box, null, { renderer: "canvas" });
  App.charts.push(c);
  return c;
}

const CHART_TEXT = { color: "#c9d6e8" };
function baseOption(extra) {
  return Object.assign({
    backgroundColor: "transparent", textStyle: CHART_TEXT, animation: false,
    grid: { left: 56, right: 24, top: 36, bottom: 32 },
    tooltip: { trigger: "axis" },
    legend: { textStyle: CHART_TEXT, top: 4 },
  }, extra);
}
// Dim grid lines: the data, not the ruling, should stand out on a wall screen.
const AXIS = { axisLine: { lineStyle: { color: "#3a5576" } }, splitLine: { lineStyle: { color: "#1f3554" } },
               axisLabel: { color: "#8fa3bf" } };
function axis(o) { return Object.assign({}, AXIS, o);
}

// A panel: a titled box; body() is where content goes.
function panel(title, cls) {
  const p = el("section", "panel " + (cls || ""));
  p.append(el("h3", null, title));
  const body = el("div", "panel-body");
  p.append(body);
  return { root: p, body };
}

function noData(box, key) {
  box.replaceChildren(el("div", "nodata", t(key || "nodata_api")));
}

/* ---- router and live ---------------------------------------------------- */

function route() {
  const name = (location.hash || "#production").slice(1).split("?")[0];
  const page = App.pages[name] || App.pages.production;
  if (App.page && App.page.leave) App.page.leave();
  for (const c of App.charts) c.dispose();
  App.charts = [];
  App.listeners = [];
  for (const a of document.querySelectorAll("#nav a"))
    a.classList.toggle("active", a.dataset.page === (App.pages[name] ? name : "production"));
  const root = document.getElementById("page");
  root.replaceChildren();
  root.dataset.page = name;
  App.page = page;
  if (page) page.render(root);
  if (App.live) for (const f of App.listeners) f(App.live);
}

async function refreshLive() {
  try {
    const r = await api("GET", "/api/v1/live");
    if (r.status === 401) { // http.anonymous_read is false: reads need a login
      setConn(true);
      if (!App.session.user && !document.getElementById("login-dlg").open) openLogin();
      return;
    }
    if (r.status !== 200) throw new Error(r.status);
    App.live = r.body;
    setConn(true);
    document.getElementById("updated").textContent = timeText(r.body.time);
    for (const f of App.feeds) f(r.body);
    for (const f of App.listeners) f(r.body);
  } catch (e) {
    setConn(false);
  }
}

function setConn(ok) {
  const c = document.getElementById("conn");
  c.className = "conn " + (ok ? "ok" : "lost");
  c.textContent = t(ok ? "conn_ok" : "conn_lost");
}

// Every point of every device, flattened: [{device, point}].
function livePoints(live) {
  const out = [];
  for (const d of (live && live.devices) || []) for (const p of d.points) out.push({ device: d, point: p });
  return out;
}

function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  document.getElementById("lang").textContent = t("switch");
  document.getElementById("sound").textContent = t(Alarms && Alarms.soundOn ? "sound_off" : "sound_on");
  setConn(document.getElementById("conn").classList.contains("ok"));
}

function tick() {
  document.getElementById("clock").textContent =
    new Date().toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
}

async function start() {
  document.getElementById("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("coalmon.lang", lang);
    applyLang();
    route();
  });
  document.getElementById("login-btn").addEventListener("click", openLogin);
  document.getElementById("logout-btn").addEventListener("click", logout);
  document.getElementById("login-form").addEventListener("submit", submitLogin);
  document.getElementById("login-cancel").addEventListener("click", () => document.getElementById("login-dlg").close());
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", () => { for (const c of App.charts) c.resize(); });
  applyLang();
  tick();
  setInterval(tick, 1000);
  const h = await getOrNull("/api/v1/health");
  if (h) document.getElementById("version").textContent = `${h.version} · ${h.role}`;
  // A county or city platform has no meters of its own: its screen is the enterprises.
  App.role = h ? h.role : "mine";
  if (App.role === "platform") {
    for (const p of ["production", "energy", "sales", "consistency", "devices"])
      document.querySelector(`#nav a[data-page=${p}]`).hidden = true;
    if (!location.hash) location.hash = "#county";
  }
  await loadSession();
  route();
  await refreshLive();
  setInterval(refreshLive, 2000);
}
