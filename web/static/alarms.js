// The alarm screen (ALM-10): the list with filters and acknowledgement, and
// for every new alarm a pop-up, a sound and a spoken Chinese sentence.
// Alarms come from GET /api/v1/alarms (alarms module, alarm_list_json shape)
// polled every 5 s, and at once from the SSE stream /api/v1/events when the
// server offers it. Starts the app (this is the last script).
"use strict";

const LEVEL_ZH = { notice: "提示", warning: "警告", serious: "严重" };
const STATE_KEY = { raised: "a_active", acknowledged: "a_acked", cleared: "a_cleared", shelved: "a_acked" };

const Alarms = {
  known: null,        // id -> alarm of the last answer; null while the API is absent
  soundOn: localStorage.getItem("coalmon.sound") === "1",
  audio: null,
  source: null,
  seenIds: new Set(), // every id announced already, so one alarm pops up once

  openCount() {
    if (!this.known) return 0;
    return [...this.known.values()].filter((a) => a.state === "raised").length;
  },

  async poll() {
    const data = await getOrNull("/api/v1/alarms?state=active&limit=200");
    if (!data || !Array.isArray(data.alarms)) {
      this.known = null;
      this.showCount();
      return;
    }
    const first = this.known === null && this.seenIds.size === 0;
    this.known = new Map(data.alarms.map((a) => [a.id, a]));
    for (const a of data.alarms) {
      // Alarms already open when the page loads are listed, not announced.
      if (!this.seenIds.has(a.id) && !first && a.state === "raised") this.announce(a);
      this.seenIds.add(a.id);
    }
    this.showCount();
    if (App.page === App.pages.alarms) App.pages.alarms.refresh();
  },

  showCount() {
    const n = this.openCount();
    document.getElementById("alarm-count").textContent = this.known === null ? "—" : String(n);
    document.getElementById("alarm-bell").classList.toggle("ringing", n > 0);
  },

  text(a) {
    const who = a.device ? deviceLabel(a.device) : a.source || "";
    return `${a.label || a.type_name}${who ? " · " + who : ""}${a.detail ? " · " + a.detail : ""}`;
  },

  announce(a) {
    document.getElementById("alarm-pop-text").textContent = this.text(a);
    document.getElementById("alarm-pop-meta").textContent =
      `${lang === "zh" ? LEVEL_ZH[a.level] || a.level : a.level} · ${timeText(a.raised_at)}`;
    const pop = document.getElementById("alarm-pop");
    pop.dataset.level = a.level;
    // Someone typing a login or an acknowledgement is not interrupted: the
    // pop-up waits until that dialog closes (sound and voice come now).
    const busy = [...document.querySelectorAll("#login-dlg[open], #ack-dlg[open]")];
    if (busy.length) busy.forEach((d) => d.addEventListener("close", () => { if (!pop.open) pop.showModal(); }, { once: true }));
    else if (!pop.open) pop.showModal();
    if (!this.soundOn) return;
    this.beep(a.level === "serious" ? 3 : 2);
    if ("speechSynthesis" in window) {
      const who = a.device ? deviceLabel(a.device) : "";
      const u = new SpeechSynthesisUtterance(`${LEVEL_ZH[a.level] || ""}报警。${a.label || ""}。${who}。${a.detail || ""}`);
      u.lang = "zh-CN";
      u.rate = 0.95;
      speechSynthesis.speak(u);
    }
  },

  // Two or three short tones from WebAudio: no sound file to ship.
  beep(n) {
    try {
      this.audio = this.audio || new AudioContext();
      const ctx = this.audio;
      for (let i = 0; i < n; i++) {
        const o = ctx.createOscillator(), g = ctx.createGain();
        o.frequency.value = 880;
        o.connect(g);
        g.connect(ctx.destination);
        const t0 = ctx.currentTime + i * 0.35;
        g.gain.setValueAtTime(0.3, t0);
        g.gain.setValueAtTime(0, t0 + 0.2);
        o.start(t0);
        o.stop(t0 + 0.22);
      }
    } catch (e) { /* no audio device on this screen */ }
  },

  toggleSound() {
    this.soundOn = !this.soundOn;
    localStorage.setItem("coalmon.sound", this.soundOn ? "1" : "0");
    if (this.soundOn) this.beep(1); // a click is the gesture browsers want before playing
    applyLang();
  },

  // The SSE stream: an "alarm" event triggers a poll at once. Without the
  // stream (404) the 5 s poll carries on alone; it is retried every minute.
  listen() {
    if (!window.EventSource || this.source) return;
    const s = new EventSource("/api/v1/events");
    this.source = s;
    s.addEventListener("alarm", () => this.poll());
    s.addEventListener("live", () => refreshLive());
    s.onerror = () => {
      if (s.readyState === EventSource.CLOSED || !this.sseOk) {
        s.close();
        this.source = null;
        setTimeout(() => this.listen(), 60000);
      }
    };
    s.onopen = () => { this.sseOk = true; };
  },
};

/* ---- acknowledge ------------------------------------------------------------ */

function openAck(a) {
  if (!hasRole("dispatcher")) {
    alert(t("ack_need_login"));
    openLogin();
    return;
  }
  const dlg = document.getElementById("ack-dlg");
  dlg.dataset.id = a.id;
  document.getElementById("ack-what").textContent = Alarms.text(a);
  document.getElementById("ack-err").textContent = "";
  dlg.querySelector("textarea").value = "";
  dlg.showModal();
}

async function submitAck(ev) {
  ev.preventDefault();
  const dlg = document.getElementById("ack-dlg");
  const comment = dlg.querySelector("textarea").value.trim();
  if (!comment) { document.getElementById("ack-err").textContent = t("ack_need_comment"); return; }
  const r = await api("POST", `/api/v1/alarms/${dlg.dataset.id}/ack`, { comment });
  if (r.status === 200) {
    dlg.close();
    Alarms.poll();
  } else {
    document.getElementById("ack-err").textContent = (r.body && r.body.error) || String(r.status);
  }
}

/* ---- the alarms page ------------------------------------------------------------ */

App.pages.alarms = {
  filters: { state: "active", type: "", level: "" },
  render(root) {
    const bar = el("div", "filters");
    const mk = (key, options) => {
      const s = el("select");
      s.name = key;
      for (const [v, label] of options) {
        const o = el("option", null, label);
        o.value = v;
        s.append(o);
      }
      s.value = this.filters[key];
      s.addEventListener("change", () => { this.filters[key] = s.value; this.refresh(); });
      bar.append(el("label", null, t(key === "state" ? "a_state" : key === "type" ? "a_type" : "a_level")), s);
    };
    mk("state", [["active", t("a_active")], ["acknowledged", t("a_acked")], ["cleared", t("a_cleared")], ["all", t("a_all")]]);
    mk("level", [["", t("a_all")], ["notice", t("level_1")], ["warning", t("level_2")], ["serious", t("level_3")]]);
    // Types and their Chinese names come from the alarm settings.
    const types = (this.types || []).map((x) => [x.name, lang === "zh" ? x.label : x.name.replace(/_/g, " ")]);
    mk("type", [["", t("a_all")], ...types]);
    if (!this.types) getOrNull("/api/v1/alarms/settings").then((d) => {
      if (d && Array.isArray(d.settings) && d.settings.length) { this.types = d.settings; if (App.page === this) route(); }
    });
    this.list = panel(t("nav_alarms"), "wide");
    root.append(bar, this.list.root);
    this.refresh();
  },
  async refresh() {
    if (!this.list) return;
    const q = new URLSearchParams({ state: this.filters.state, limit: "200" });
    if (this.filters.type) q.set("type", this.filters.type);
    if (this.filters.level) q.set("level", this.filters.level);
    const data = await getOrNull(`/api/v1/alarms?${q}`);
    if (!data || !Array.isArray(data.alarms)) { noData(this.list.body, data ? "nodata" : "nodata_api"); return; }
    if (!data.alarms.length) { noData(this.list.body, "nodata"); return; }
    const rows = data.alarms.map((a) => {
      let action = a.ack ? `${a.ack.by}: ${a.ack.comment || ""}` : "";
      if (!a.ack && a.state === "raised") {
        action = el("button", "ack-btn", t("ack"));
        action.type = "button";
        action.dataset.alarm = a.id;
        action.addEventListener("click", () => openAck(a));
      }
      const lvl = el("span", "level " + a.level, lang === "zh" ? LEVEL_ZH[a.level] || a.level : a.level);
      return [timeText(a.raised_at), lvl, a.label || a.type_name, a.device ? deviceLabel(a.device) : a.source,
              a.detail, t(STATE_KEY[a.state] || a.state), action];
    });
    this.list.body.replaceChildren(table([t("a_time"), t("a_level"), t("a_type"), t("a_target"), t("a_detail"),
                                          t("a_state"), t("ack")], rows));
  },
  leave() { this.list = null; },
};

document.getElementById("alarm-bell").addEventListener("click", () => { location.hash = "#alarms"; });
document.getElementById("sound").addEventListener("click", () => Alarms.toggleSound());
document.getElementById("alarm-pop-close").addEventListener("click", () => document.getElementById("alarm-pop").close());
document.getElementById("alarm-pop-go").addEventListener("click", () => {
  document.getElementById("alarm-pop").close();
  location.hash = "#alarms";
});
document.getElementById("ack-form").addEventListener("submit", submitAck);
document.getElementById("ack-cancel").addEventListener("click", () => document.getElementById("ack-dlg").close());

start().then(() => {
  Alarms.poll();
  setInterval(() => Alarms.poll(), 5000);
  Alarms.listen();
});
