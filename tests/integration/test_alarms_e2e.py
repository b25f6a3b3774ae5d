"""Issue #7 (ALM-1..10): from a simulated fault to people who act, on real
processes. A meter simulator is stopped -> the collector marks the meter
offline -> "communication interrupted" is raised, streamed over
/api/v1/events, acknowledged by a dispatcher, cleared when the meter is back,
and queued for upload as an `alarm` record; a command hook and a webhook are
told. The belt-scale station's fault switches raise device fault and power
loss the same way."""
import datetime
import http.server as hserver
import json
import os
import re
import socket
import sqlite3
import threading
import time
import urllib.request

from harness import BIN, SOURCE, Cleanup, free_port, http, main, run, wait_until


class Sse:
    """Reads /api/v1/events on a thread; keeps (arrival monotonic time, event, data)."""

    def __init__(self, url, headers=None):
        self.events, self.lock = [], threading.Lock()
        self.resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=60)
        assert self.resp.headers["Content-Type"].startswith("text/event-stream")
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        name, data = None, []
        try:
            for raw in self.resp:
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and name:
                    with self.lock:
                        self.events.append((time.time(), name, json.loads("\n".join(data))))
                    name, data = None, []
        except (OSError, ValueError, AttributeError):  # closed under the reader
            pass

    def find(self, pred):
        with self.lock:
            return [e for e in self.events if pred(e)]

    def close(self):
        # Unblock the reader first: close() waits for it, and an idle stream
        # only speaks every 15 s.
        try:
            self.resp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass
        self.resp.close()


class Hook(hserver.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def control(port, line):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((line + "\n").encode())
        return s.recv(200).decode()


def add_user(db, name, role):
    r = run([f"{BIN}/coalmon", "--db", db, "user", "add", name, "--role", role], input="pass-" + name + "-123\n")
    assert r.returncode == 0, r.stderr


class Session:
    def __init__(self, base, name):
        st, body, h = http("POST", base + "/api/v1/session", {"name": name, "password": "pass-" + name + "-123"})
        assert st == 200, body
        self.base, self.cookie, self.csrf = base, h.get("Set-Cookie").split(";")[0], body["csrf"]

    def call(self, method, path, body=None):
        return http(method, self.base + path, body, {"Cookie": self.cookie, "X-CSRF-Token": self.csrf})


def write_config(path, data, port, meter_port, station_port, hook_file, hook_port, extra_holdoff=1):
    cfg = {
        "role": "mine", "data_dir": data,
        "http": {"host": "127.0.0.1", "port": port},
        "collector": {"meter_maps": os.path.join(SOURCE, "conf/meters"), "devices": [
            {"name": "gate-total", "model": "chint-dtsu666", "serial": "M-1", "gate_type": "mine_total",
             "host": "127.0.0.1", "port": meter_port, "unit": 1, "poll_ms": 300, "timeout_ms": 300,
             "offline_after": 2, "backoff_max_ms": 500},
            {"name": "station-main-belt", "kind": "station", "serial": "BS1-SIM-0001",
             "host": "127.0.0.1", "port": station_port, "poll_ms": 300},
        ]},
        "alarms": {
            "tick_ms": 200,
            "types": {"comm_interrupted": {"holdoff_s": extra_holdoff, "clear_after_s": 2},
                      "device_fault": {"holdoff_s": 0, "clear_after_s": 2},
                      "power_loss": {"holdoff_s": 0, "clear_after_s": 2}},
            "hooks": [
                {"min_level": "warning", "events": ["raised", "cleared"],
                 "command": ["/bin/sh", "-c", 'echo "$COALMON_ALARM_EVENT $COALMON_ALARM_TYPE $COALMON_ALARM_SOURCE" >> "$0"', hook_file]},
                {"min_level": "warning", "webhook": f"http://127.0.0.1:{hook_port}/alarm"},
            ],
        },
    }
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)


def alarm_of(base, type_name, source, state="all"):
    st, body, _ = http("GET", f"{base}/api/v1/alarms?state={state}&type={type_name}&source={source}")
    assert st == 200, body
    return body["alarms"][0] if body["alarms"] else None


def test_meter_stopped_alarm_raised_streamed_acked_cleared_uploaded():
    with Cleanup() as c:
        data = c.dir()
        db = os.path.join(data, "coalmon.db")
        port, mport, sport, cport, hport = (free_port() for _ in range(5))
        hook_file = os.path.join(data, "hook.log")
        Hook.received = []
        hook_srv = hserver.HTTPServer(("127.0.0.1", hport), Hook)
        threading.Thread(target=hook_srv.serve_forever, daemon=True).start()
        meter = c.proc([f"{BIN}/coalmon-sim", "meter", "--port", str(mport)], "sim-meter")
        meter.wait_output("listening on")
        station = c.proc([f"{BIN}/coalmon-sim", "station", "--port", str(sport), "--control", str(cport)],
                         "sim-station")
        station.wait_output("control on")
        cfg = os.path.join(data, "coalmond.json")
        write_config(cfg, data, port, mport, sport, hook_file, hport)
        add_user(db, "disp", "dispatcher")
        d = c.proc([f"{BIN}/coalmond", "-c", cfg], "coalmond")
        d.wait_output(f"serving http://127.0.0.1:{port}/", timeout=60)
        base = f"http://127.0.0.1:{port}"

        def online():
            st, body, _ = http("GET", base + "/api/v1/live")
            return all(dev["comm"]["state"] == "online" for dev in body["devices"]) and len(body["devices"]) == 2
        wait_until(online, timeout=30, what="both devices online")
        sse = Sse(base + "/api/v1/events")
        wait_until(lambda: sse.find(lambda e: e[1] == "hello"), timeout=10, what="the stream's hello")
        wait_until(lambda: sse.find(lambda e: e[1] == "live"), timeout=10, what="live values on the stream")

        # The fault: the meter stops answering.
        meter.kill()
        a = wait_until(lambda: alarm_of(base, "comm_interrupted", "gate-total", "active"), timeout=30,
                       what="communication interrupted raised")
        assert a["state"] == "raised" and a["level"] == "warning" and a["label"] == "通信中断", a
        ev = wait_until(lambda: sse.find(lambda e: e[1] == "alarm" and e[2]["kind"] == "raised"
                                         and e[2]["alarm_id"] == a["id"]), timeout=10,
                        what="the raising on the event stream")
        raised = datetime.datetime.fromisoformat(a["raised_at"]).timestamp()
        print(f"  the stream delivered the raising {ev[0][0] - raised:.3f} s after it was committed")
        # One alarm, however many polls fail.
        time.sleep(1.5)
        st, body, _ = http("GET", f"{base}/api/v1/alarms?state=all&type=comm_interrupted")
        assert body["total"] == 1, body

        # Acknowledge: anonymous refused, the dispatcher's session accepted.
        st, body, _ = http("POST", f"{base}/api/v1/alarms/{a['id']}/ack", {"comment": "x"})
        assert st in (401, 403), (st, body)
        disp = Session(base, "disp")
        st, body, _ = disp.call("POST", f"/api/v1/alarms/{a['id']}/ack", {"comment": "已派人检查电表"})
        assert st == 200 and body["state"] == "acknowledged", (st, body)
        assert body["ack"]["by"] == "disp" and body["ack"]["comment"] == "已派人检查电表", body
        st, body, _ = disp.call("POST", f"/api/v1/alarms/{a['id']}/ack", {})
        assert st == 409, (st, body)
        st, body, _ = disp.call("POST", f"/api/v1/alarms/{a['id']}/clear", {"reason": "x"})
        assert st == 409 and "clear only when" in body["error"], (st, body)  # comm: not by hand
        wait_until(lambda: sse.find(lambda e: e[1] == "alarm" and e[2]["kind"] == "acknowledged"),
                   timeout=10, what="the acknowledgement on the stream")

        # The meter comes back: the alarm clears after its hysteresis, by itself.
        c.proc([f"{BIN}/coalmon-sim", "meter", "--port", str(mport)], "sim-meter-2").wait_output("listening on")
        wait_until(lambda: (alarm_of(base, "comm_interrupted", "gate-total") or {}).get("state") == "cleared",
                   timeout=40, what="the alarm cleared")
        wait_until(lambda: sse.find(lambda e: e[1] == "alarm" and e[2]["kind"] == "cleared"
                                    and e[2]["alarm_id"] == a["id"]), timeout=10, what="clearing streamed")

        # Station fault switches: a fault bit and the loss of mains power.
        assert control(cport, "fault 0 on").startswith("ok")
        assert control(cport, "battery on").startswith("ok")
        fault = wait_until(lambda: next((x for x in http("GET", base + "/api/v1/alarms?type=device_fault")[1]["alarms"]
                                         if x["source"].startswith("station-main-belt")), None),
                           timeout=30, what="device fault raised")
        power = wait_until(lambda: alarm_of(base, "power_loss", "station-main-belt", "active"), timeout=30,
                           what="power loss raised")
        assert power["level"] == "serious", power
        assert control(cport, "fault 0 off").startswith("ok") and control(cport, "battery off").startswith("ok")
        wait_until(lambda: alarm_of(base, "power_loss", "station-main-belt")["state"] == "cleared",
                   timeout=30, what="power loss cleared")
        st, one, _ = http("GET", f"{base}/api/v1/alarms/{fault['id']}")
        wait_until(lambda: http("GET", f"{base}/api/v1/alarms/{fault['id']}")[1]["state"] == "cleared",
                   timeout=30, what="device fault cleared")

        # History by the CLI while the daemon runs.
        r = run([f"{BIN}/coalmon", "--db", db, "alarm", "history", "--type", "comm_interrupted", "--json"])
        assert r.returncode == 0, r.stderr
        hist = json.loads(r.stdout)
        assert hist["total"] == 1 and hist["alarms"][0]["state"] == "cleared", hist
        r = run([f"{BIN}/coalmon", "--db", db, "alarm", "show", str(a["id"]), "--json"])
        kinds = [e["kind"] for e in json.loads(r.stdout)["events"]]
        assert kinds == ["raised", "acknowledged", "cleared"], kinds

        # Hooks: the command and the webhook were told of raising and clearing.
        wait_until(lambda: os.path.exists(hook_file) and "cleared comm_interrupted gate-total" in open(hook_file).read(),
                   timeout=15, what="the command hook")
        assert "raised comm_interrupted gate-total" in open(hook_file).read()
        wait_until(lambda: any(h["type_name"] == "power_loss" and h["event"] == "raised" for h in Hook.received),
                   timeout=15, what="the webhook")
        sse.close()
        assert d.stop() == 0, d.output()
        hook_srv.shutdown()

        # Queued for upload, in the uplink.md §3 shape, with its clearing time.
        con = sqlite3.connect(db)
        rows = con.execute("SELECT body FROM outbox_record WHERE record_type = 'alarm' AND record_id = ?",
                           (str(a["id"]),)).fetchall()
        con.close()
        assert len(rows) == 1, rows
        rec = json.loads(rows[0][0])
        assert rec["alarmType"] == 8 and rec["level"] == 2 and rec["source"] == "gate-total", rec
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", rec["raisedAt"]) and rec["clearedAt"] >= rec["raisedAt"], rec


def test_station_reported_firmware_change_raises_parameter_modified():
    """ALM-5 from a station: the firmware it reports differs from what it
    reported before (set back in the database between two starts)."""
    with Cleanup() as c:
        data = c.dir()
        db = os.path.join(data, "coalmon.db")
        port, mport, sport, cport = (free_port() for _ in range(4))
        station = c.proc([f"{BIN}/coalmon-sim", "station", "--port", str(sport), "--control", str(cport)],
                         "sim-station")
        station.wait_output("control on")
        cfg = os.path.join(data, "coalmond.json")
        write_config(cfg, data, port, mport, sport, os.path.join(data, "hook.log"), free_port())
        base = f"http://127.0.0.1:{port}"
        for round in range(2):
            d = c.proc([f"{BIN}/coalmond", "-c", cfg], f"coalmond-{round}")
            d.wait_output(f"serving http://127.0.0.1:{port}/", timeout=60)
            con = sqlite3.connect(db)
            wait_until(lambda: con.execute("SELECT firmware FROM device WHERE name = 'station-main-belt'"
                                           " AND firmware IS NOT NULL AND firmware <> '0.9'").fetchone(),
                       timeout=30, what="the station's identity read")
            con.close()
            if round == 0:
                assert d.stop() == 0, d.output()
                con = sqlite3.connect(db)
                con.execute("UPDATE device SET firmware = '0.9' WHERE name = 'station-main-belt'")
                con.commit()
                con.close()
        a = wait_until(lambda: alarm_of(base, "parameter_modified", "device:station-main-belt", "active"),
                       timeout=15, what="ALM-5 from the station")
        assert a["level"] == "serious" and "device.firmware" in a["detail"] and "0.9" in a["detail"], a
        assert d.stop() == 0, d.output()


if __name__ == "__main__":
    main([test_meter_stopped_alarm_raised_streamed_acked_cleared_uploaded,
          test_station_reported_firmware_change_raises_parameter_modified])
