"""Issue #3: the demo starts on free ports, /api/v1/live shows changing meter
readings, Ctrl-C stops it cleanly, and the database holds the readings."""
import os
import sqlite3

from harness import BIN, Cleanup, http, main, wait_until, free_port


def test_demo_live_end_to_end():
    with Cleanup() as c:
        data = c.dir()
        port = free_port()
        d = c.proc([f"{BIN}/coalmond", "--demo", "--port", str(port), "--data", data], "coalmond-demo")
        d.wait_output(f"serving http://127.0.0.1:{port}/")
        url = f"http://127.0.0.1:{port}/api/v1/live"

        def energy_values():
            status, body, _ = http("GET", url)
            assert status == 200, body
            out = {}
            for dev in body["devices"]:
                assert dev["comm"]["state"] in ("online", "unknown", "degraded"), dev
                for p in dev["points"]:
                    if p["name"] == "ep_imp" and p["value"] is not None:
                        out[dev["name"]] = (p["value"], p["ts_ms"])
            return out if len(out) == 3 else None

        first = wait_until(energy_values, timeout=30, what="a reading of every demo meter")
        # The energy counter only grows, and a later poll carries a later time stamp.
        second = wait_until(lambda: (lambda v: v if v and all(v[k][1] > first[k][1] for k in v) else None)(energy_values()),
                            timeout=15, what="a second poll")
        for name in first:
            assert second[name][0] >= first[name][0], (name, first[name], second[name])
        status, body, _ = http("GET", url)
        dev = body["devices"][0]
        assert dev["comm"]["state"] == "online"
        units = {p["name"]: p["unit"] for p in dev["points"]}
        assert units["ua"] == "V" and units["p"] == "kW" and units["ep_imp"] == "kWh"
        assert body["time"].endswith("+08:00")

        status, page, _ = http("GET", f"http://127.0.0.1:{port}/")
        assert status == 200 and "煤矿产量监测" in page
        status, metrics, _ = http("GET", f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and 'coalmon_device_online{device="gate-total"} 1' in metrics

        assert d.stop() == 0, d.output()
        db = sqlite3.connect(os.path.join(data, "coalmon.db"))
        raw = db.execute("SELECT count(*) FROM reading").fetchone()[0]
        agg = db.execute("SELECT count(*), sum(n) FROM agg_minute").fetchone()
        assert raw >= 3 * 19 * 2, raw  # three meters, 19 points, at least two polls
        assert agg[0] > 0 and agg[1] == raw, (agg, raw)  # every good reading is in a minute aggregate
        db.close()


if __name__ == "__main__":
    main([test_demo_live_end_to_end])
