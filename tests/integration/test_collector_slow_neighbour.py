"""Issue #15: a slow meter on an RS485 bus must not take down its neighbours.
Three slaves served by pymodbus (an independent implementation) on a socat
pseudo-terminal pair; unit 2 answers 700 ms after each request, beyond the
collector's 500 ms timeout. Its late answers arrive while the collector is
already asking the next unit: they must be discarded (flush, quiet line),
never read as unit 3's answer. Units 1 and 3 stay online the whole time and
read their own values (231, 233); only unit 2 degrades."""
import json
import os
import shutil
import sqlite3

from harness import BIN, SOURCE, Cleanup, http, free_port, main, peer_argv, pty_pair, wait_until

def test_slow_unit_does_not_take_down_its_neighbours():
    assert shutil.which("socat"), "socat is missing (scripts/deps.txt)"
    with Cleanup() as c:
        d = c.dir()
        sim_end, col_end = pty_pair(c, d)
        peer = c.proc(peer_argv("pymodbus_rtu_slaves.py", sim_end, 19200, 2, 0.7), "pymodbus")
        peer.wait_output("pymodbus serving")
        port = free_port()
        conf = {
            "role": "mine", "data_dir": d, "http": {"host": "127.0.0.1", "port": port},
            "collector": {
                "meter_maps": os.path.join(SOURCE, "conf/meters"),
                "buses": [{"name": "rs485-1", "device": col_end, "baud": 19200,
                           "framing": "8N1", "frame_delay_ms": 5}],
                # The slow unit is retried often (short back-off), so its late
                # answers meet its neighbours' requests many times.
                "devices": [{"name": f"gate-{u}", "model": "eastron-sdm630", "transport": "rtu",
                             "bus": "rs485-1", "unit": u, "poll_ms": 250, "timeout_ms": 500,
                             "backoff_max_ms": 500} for u in (1, 2, 3)],
            },
        }
        cpath = os.path.join(d, "coalmond.json")
        with open(cpath, "w") as f:
            json.dump(conf, f)
        daemon = c.proc([f"{BIN}/coalmond", "-c", cpath], "coalmond-slow")
        daemon.wait_output(f"serving http://127.0.0.1:{port}/")

        def live():
            body = http("GET", f"http://127.0.0.1:{port}/api/v1/live")[1]
            return {x["name"]: x for x in body["devices"]}

        def ua(dev):
            return {p["name"]: p["value"] for p in dev["points"]}.get("ua")

        wait_until(lambda: live()["gate-2"]["comm"]["state"] == "offline", timeout=30,
                   what="the slow unit offline")
        db = sqlite3.connect(os.path.join(d, "coalmon.db"))

        def readings(name):
            return db.execute("SELECT count(*) FROM reading r JOIN point p ON p.id = r.point_id"
                              " JOIN device d ON d.id = p.device_id WHERE d.name = ?"
                              " AND p.name = 'ua'", (name,)).fetchone()[0]

        # Twenty more polls of each neighbour while the slow unit keeps being retried.
        base = {n: readings(n) for n in ("gate-1", "gate-3")}
        tries = wait_until(lambda: all(readings(n) >= base[n] + 20 for n in base), timeout=60,
                           what="twenty more polls of units 1 and 3")
        assert tries
        devs = live()
        assert ua(devs["gate-1"]) == 231 and ua(devs["gate-3"]) == 233, (ua(devs["gate-1"]), ua(devs["gate-3"]))
        # Not one value of another unit stored under a neighbour.
        for name, want in (("gate-1", 231), ("gate-3", 233)):
            wrong = db.execute("SELECT count(*) FROM reading r JOIN point p ON p.id = r.point_id"
                               " JOIN device d ON d.id = p.device_id WHERE d.name = ?"
                               " AND p.name = 'ua' AND r.value != ?", (name, want)).fetchone()[0]
            assert wrong == 0, (name, wrong)
        # The neighbours never left online: their only comm event is the first "online".
        for name in ("gate-1", "gate-3"):
            events = http("GET", f"http://127.0.0.1:{port}/api/v1/devices/{name}/events?kind=comm")[1]
            states = [e["state"] for e in events["events"]]
            assert states == ["online"], (name, states, daemon.output()[-3000:])
        db.close()
        assert daemon.stop() == 0, daemon.output()


if __name__ == "__main__":
    main([test_slow_unit_does_not_take_down_its_neighbours])
