"""QRY-1: GET /api/v1/series serves a point's stored values as curves.

A real coalmond polls two simulated meters for a few seconds with anonymous
reads off; the series of their active power must be what the store holds (raw
rows and minute aggregates read straight from the database), end with the value
/api/v1/live shows, choose raw or minute by itself, stop at 20 000 rows and say
so, and refuse bad requests with a message naming the parameter.
"""
import json
import math
import os
import sqlite3
import time
import urllib.parse

from harness import BIN, SOURCE, Cleanup, free_port, http, main, run, wait_until

MAX_ROWS = 20000


class Viewer:
    def __init__(self, base, name, password):
        st, body, h = http("POST", base + "/api/v1/session", {"name": name, "password": password})
        assert st == 200, body
        self.base, self.cookie = base, h.get("Set-Cookie").split(";")[0]

    def series(self, **params):
        q = urllib.parse.urlencode(params)
        return http("GET", f"{self.base}/api/v1/series?{q}", headers={"Cookie": self.cookie})[:2]

    def live(self):
        st, body, _ = http("GET", self.base + "/api/v1/live", headers={"Cookie": self.cookie})
        assert st == 200, body
        return body


def write_config(path, data, port, meter_port):
    meter = {"model": "chint-dtsu666", "host": "127.0.0.1", "port": meter_port, "poll_ms": 250,
             "timeout_ms": 500}
    cfg = {
        "role": "mine", "data_dir": data,
        "http": {"host": "127.0.0.1", "port": port, "anonymous_read": False},
        "collector": {"meter_maps": os.path.join(SOURCE, "conf/meters"), "devices": [
            dict(meter, name="gate-total", serial="S-1", gate_type="mine_total", unit=1),
            dict(meter, name="gate-transport", serial="S-2", gate_type="transport", unit=2),
        ]},
    }
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)


def same(a, b):
    """Rows equal, values to cJSON's printing (15 digits, the last bit may go)."""
    return len(a) == len(b) and all(
        len(x) == len(y) and x[0] == y[0] and all(math.isclose(p, q, rel_tol=1e-14) for p, q in zip(x[1:], y[1:]))
        for x, y in zip(a, b))


def db_rows(dbp, sql, args):
    db = sqlite3.connect(dbp, timeout=10)
    try:
        return [list(r) for r in db.execute(sql, args).fetchall()]
    finally:
        db.close()


def db_write(dbp, sql, rows):
    db = sqlite3.connect(dbp, timeout=10)
    try:
        db.executemany(sql, rows)
        db.commit()
    finally:
        db.close()


def check_errors(v):
    def err(status, field, needle, **params):
        st, body = v.series(**params)
        assert st == status and body["field"] == field and needle in body["error"], (params, st, body)

    ap = {"quantity": "active_power"}
    err(404, "device", 'unknown device "nope"', device="nope", **ap)
    err(400, "device", "device name is required", **ap)
    err(400, "device", "device name is required", device="", **ap)
    err(400, "quantity", "either quantity", device="gate-total")
    err(400, "quantity", "either quantity", device="gate-total", point=1, **ap)
    err(400, "quantity", 'no point of quantity "power_of_ten"', device="gate-total", quantity="power_of_ten")
    err(400, "point", "expected a point id", device="gate-total", point="p")
    err(400, "point", "expected a point id", device="gate-total", point="-3")
    err(400, "step", "step must be", device="gate-total", step="hour", **ap)
    err(400, "from", "from: expected", device="gate-total", **ap, **{"from": "2026-02-30"})
    err(400, "to", "to: expected", device="gate-total", to="yesterday", **ap)
    err(400, "to", "to: expected", device="gate-total", to="2026-11-23T10:00:00Z", **ap)
    err(400, "from", "from must not be after to", device="gate-total", to="2026-01-01",
        **ap, **{"from": "2026-01-02"})


def test_series_matches_store_and_live():
    with Cleanup() as c:
        data = c.dir()
        dbp = os.path.join(data, "coalmon.db")
        port, mport = free_port(), free_port()
        c.proc([f"{BIN}/coalmon-sim", "meter", "--port", str(mport), "--units", "2"],
               "sim-meters").wait_output("listening on")
        cfg = os.path.join(data, "coalmond.json")
        write_config(cfg, data, port, mport)
        r = run([f"{BIN}/coalmon", "--db", dbp, "user", "add", "wall", "--role", "viewer"],
                input="Wall-screen-2026\n")
        assert r.returncode == 0, r.stderr
        d = c.proc([f"{BIN}/coalmond", "-c", cfg], "coalmond-series")
        d.wait_output(f"serving http://127.0.0.1:{port}/", timeout=60)
        base = f"http://127.0.0.1:{port}"

        # Reads need a viewer here, the series like every other read.
        st, body, _ = http("GET", base + "/api/v1/series?device=gate-total&quantity=active_power")
        assert st == 401, (st, body)
        v = Viewer(base, "wall", "Wall-screen-2026")

        def committed():  # every reading up to 2 s ago is in the store
            return int(time.time() * 1000) - 2000

        def collected():
            st, body = v.series(device="gate-total", quantity="active_power", to=committed())
            return body if st == 200 and body["count"] >= 12 else None
        wait_until(collected, timeout=30, what="a dozen stored active power readings")

        # Raw rows (the default hour is short enough), exactly as stored.
        to = committed()
        st, s = v.series(device="gate-total", quantity="active_power", to=to)
        assert st == 200, s
        assert (s["device"], s["quantity"], s["unit"], s["step"]) == ("gate-total", "active_power", "kW", "raw"), s
        assert s["to_ms"] == to and s["from_ms"] == to - 3600 * 1000 and s["truncated"] is False, s
        assert s["columns"] == ["ts_ms", "value"] and s["count"] == len(s["data"]) >= 8, s
        ts = [p[0] for p in s["data"]]
        assert ts == sorted(set(ts)) and s["from_ms"] <= ts[0] and ts[-1] <= to, ts
        assert all(0 < p[1] < 5000 for p in s["data"]), s["data"]
        pid = s["point"]
        stored = db_rows(dbp, "SELECT ts_ms, value FROM reading WHERE point_id = ? AND ts_ms BETWEEN ? AND ?"
                         " AND quality = 0 ORDER BY ts_ms", (pid, to - 3600 * 1000, to))
        assert same(s["data"], stored), (s["data"], stored)
        # The same by point id, and by a Beijing-time window in the API's own ISO form.
        assert same(v.series(device="gate-total", point=pid, to=to)[1]["data"], stored)
        st, w = v.series(device="gate-total", quantity="active_power", to=s["to"],
                         **{"from": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts[0] / 1000 + 8 * 3600))})
        assert st == 200 and w["to_ms"] == to, w
        assert same(w["data"], [p for p in stored if p[0] >= ts[0] // 1000 * 1000]), w
        # The other meter's point is not gate-total's.
        st, other = v.series(device="gate-transport", quantity="active_power")
        assert st == 200 and other["point"] != pid and other["data"], other
        st, body = v.series(device="gate-total", point=other["point"])
        assert st == 400 and body["field"] == "point" and "not a point of device" in body["error"], body

        # It ends with the value the live view shows.
        lp = next(p for dv in v.live()["devices"] if dv["name"] == "gate-total"
                  for p in dv["points"] if p["quantity"] == "active_power")
        st, s = v.series(device="gate-total", quantity="active_power", to=lp["ts_ms"])
        assert st == 200 and s["data"][-1] == [lp["ts_ms"], lp["value"]], (lp, s["data"][-3:])

        # Minute averages with min and max, from the minute aggregates.
        to = committed()
        st, m = v.series(device="gate-total", quantity="active_power", step="minute", to=to)
        assert st == 200 and m["step"] == "minute" and m["columns"] == ["ts_ms", "value", "min", "max"], m
        assert m["data"] and all(p[0] % 60000 == 0 and p[2] <= p[1] <= p[3] for p in m["data"]), m
        # The last minute may have grown since (its readings after `to` count in it too).
        raw = db_rows(dbp, "SELECT ts_ms, value FROM reading WHERE point_id = ? AND quality = 0", (pid,))
        for t0, avg, lo, hi in m["data"]:
            minute = [(t, x) for t, x in raw if t0 <= t < t0 + 60000]
            e = 1e-9  # cJSON's printing
            assert all(lo - e <= x <= hi + e for t, x in minute if t <= to), (t0, lo, hi, minute)
            assert min(x for _, x in minute) <= lo + e and hi - e <= max(x for _, x in minute), (t0, lo, hi, minute)

        # Minutes only (no raw rows): auto takes them; they come as stored.
        p_ms = (to // 60000 - 3 * 1440) * 60000  # three days ago, on a minute
        rows = [(pid, p_ms // 1000 + 60 * k, 4, 10.0 + k, 30.0 + k, 80.0 + 4 * k, 20.0 + k, p_ms + 60000 * k + 59000)
                for k in range(90)]
        db_write(dbp, "INSERT INTO agg_minute(point_id, minute, n, vmin, vmax, vsum, vlast, last_ts_ms)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        win = {"from": p_ms + 30 * 1000, "to": p_ms + 60 * 60000}  # an hour, starting mid-minute
        st, a = v.series(device="gate-total", quantity="active_power", step="auto", **win)
        assert st == 200 and a["step"] == "minute", a
        assert a["data"] == [[p_ms + 60000 * k, 20.0 + k, 10.0 + k, 30.0 + k] for k in range(61)], a["data"][:3]
        st, r = v.series(device="gate-total", quantity="active_power", step="raw", **win)
        assert st == 200 and r["step"] == "raw" and r["data"] == [], r

        # More rows than one reply holds: the first 20 000, ascending, and it says so.
        old = p_ms - 7 * 86400 * 1000
        db_write(dbp, "INSERT INTO reading(point_id, ts_ms, value, quality) VALUES (?, ?, ?, 0)",
                 [(pid, old + 1000 * k, float(k)) for k in range(MAX_ROWS + 50)])
        big = {"from": old, "to": old + 1000 * (MAX_ROWS + 100)}
        st, t = v.series(device="gate-total", quantity="active_power", step="raw", **big)
        assert st == 200 and t["truncated"] is True and t["limit"] == MAX_ROWS and t["count"] == MAX_ROWS, \
            {k: t[k] for k in t if k != "data"}
        assert t["data"][0] == [old, 0.0] and t["data"][-1] == [old + 1000 * (MAX_ROWS - 1), MAX_ROWS - 1.0]
        # auto on a span over 2 h takes the minutes (none stored for that week).
        st, t = v.series(device="gate-total", quantity="active_power", step="auto", **big)
        assert st == 200 and t["step"] == "minute" and t["truncated"] is False, t

        check_errors(v)
        assert d.stop() == 0, d.output()


if __name__ == "__main__":
    main([test_series_matches_store_and_live])
