"""Issue #4 (ACQ-1): `coalmond --demo` carries the belt-scale station next to
the three meters: the live API shows its flow and cumulative tonnage, and the
station's records turn into output per minute."""
import json
import os
import sqlite3

from harness import BIN, Cleanup, free_port, http, main, run, wait_until


def test_demo_has_the_station():
    with Cleanup() as c:
        data = c.dir()
        port = free_port()
        d = c.proc([f"{BIN}/coalmond", "--demo", "--port", str(port), "--data", data], "coalmond-demo")
        d.wait_output(f"serving http://127.0.0.1:{port}/")

        def station():
            status, body, _ = http("GET", f"http://127.0.0.1:{port}/api/v1/live")
            assert status == 200, body
            st = [x for x in body["devices"] if x["kind"] == "station"]
            if not st or st[0]["comm"]["state"] != "online":
                return None
            pts = {p["name"]: p["value"] for p in st[0]["points"]}
            return (st[0], pts) if pts.get("total") and "flow" in pts and "running" in pts else None

        dev, pts = wait_until(station, timeout=30, what="the demo station online with values")
        assert dev["serial"] == "BS1-DEMO-0001", dev
        # The demo belt follows the simulated mine: it stops for maintenance,
        # stoppages and much of the night, and carries coal only while it runs.
        assert pts["total"] > 1000 and 0 <= pts["flow"] < 2000 and pts["running"] in (0, 1), pts
        assert pts["running"] == 1 or pts["flow"] == 0, pts
        meters = [x for x in http("GET", f"http://127.0.0.1:{port}/api/v1/live")[1]["devices"]
                  if x["kind"] == "meter"]
        assert len(meters) >= 3
        # The registry over HTTP.
        base = f"http://127.0.0.1:{port}/api/v1"
        status, body, _ = http("GET", f"{base}/devices?kind=station")
        assert status == 200 and [x["name"] for x in body["devices"]] == ["station-main-belt"], body
        assert body["devices"][0]["firmware"] == "2.7" and body["devices"][0]["location"] == "主井皮带"
        status, one, _ = http("GET", f"{base}/devices/gate-underground")
        assert status == 200 and one["gate_type"] == "underground", one
        assert any(p["name"] == "ep_imp" and p["value"] for p in one["points"]), one
        status, ev, _ = http("GET", f"{base}/devices/gate-underground/events?kind=comm&limit=5")
        assert status == 200 and ev["events"][0]["state"] == "online", ev
        status, th, _ = http("GET", f"{base}/collector/threads")
        assert status == 200 and sum(t["devices"] for t in th["threads"]) == 4, th
        assert http("GET", f"{base}/devices?kind=belt")[0:2] == (400, {"error": 'kind must be "meter" or "station"', "field": "kind"})
        assert http("GET", f"{base}/devices/nope")[0] == 404
        assert http("GET", f"{base}/devices/gate-total/events?limit=0")[1]["field"] == "limit"
        dbp = os.path.join(data, "coalmon.db")

        def records():
            db = sqlite3.connect(dbp, timeout=10)
            try:
                return db.execute("SELECT count(*) FROM station_record").fetchone()[0] >= 3
            finally:
                db.close()
        wait_until(records, timeout=20, what="station records")
        assert d.stop() == 0, d.output()
        db = sqlite3.connect(dbp)
        # The records turn into output per minute: the minutes hold what the
        # station's cumulative counter rose by. The demo belt may be in a stoppage
        # (the simulated mine's stops last minutes to hours), so the rise may be 0;
        # while it carries coal the counter must rise and the minutes with it.
        t, minutes = db.execute("SELECT total(tonnes), count(*) FROM station_output_minute").fetchone()
        lo, hi, flowing = db.execute("SELECT min(total_t), max(total_t), max(flow_tph) > 0 "
                                     "FROM station_record").fetchone()
        assert minutes >= 1 and abs(t - (hi - lo)) < 0.01, (t, minutes, lo, hi)
        assert not flowing or t > 0, (t, lo, hi)
        gates = dict(db.execute("SELECT name, gate_type FROM device WHERE kind = 'meter'").fetchall())
        assert {"mine_total", "underground", "transport"} <= set(gates.values()), gates
        db.close()
        r = run([f"{BIN}/coalmon", "--db", dbp, "--json", "device", "list"])
        assert r.returncode == 0, r.stderr
        assert any(x["kind"] == "station" and x["firmware"] for x in json.loads(r.stdout))


if __name__ == "__main__":
    main([test_demo_has_the_station])
