"""Issue #4 (ACQ-2, ACQ-11): Modbus RTU over a serial line. socat makes a
pseudo-terminal pair; the simulator serves three meters (unit ids 1..3) on one
end, and the collector polls them in turn, as one bus, on the other. The CLI
probe reads one of them over RTU too, and the registry lists them."""
import json
import os
import re
import shutil
import socket
import sqlite3

from harness import BIN, SOURCE, Cleanup, free_port, http, main, pty_pair, run, wait_until


def test_rtu_bus_of_three_meters():
    assert shutil.which("socat"), "socat is missing (scripts/deps.txt)"
    with Cleanup() as c:
        d = c.dir()
        sim_end, col_end = pty_pair(c, d)
        sim = c.proc([f"{BIN}/coalmon-sim", "meter", "--rtu", sim_end, "--baud", "19200",
                      "--parity", "E", "--units", "3", "--model", "eastron-sdm630",
                      "--control", "0"], "sim-rtu")
        sim.wait_output("serving RTU on")
        cport = int(re.search(r"control on 127\.0\.0\.1:(\d+)", sim.output()).group(1))

        # The commissioning probe over RTU.
        r = run([f"{BIN}/coalmon", "--json", "meter", "read", "--model", "eastron-sdm630",
                 "--rtu", col_end, "--baud", "19200", "--parity", "E", "--unit", "2"])
        assert r.returncode == 0, r.stderr
        probe = {p["name"]: p["value"] for p in json.loads(r.stdout)["points"]}
        assert 200 < probe["ua"] < 260 and probe["thd_ia"] > 0 and probe["ep_imp"] > 0, probe
        # A unit nobody answers for: a clear failure, exit 1.
        r = run([f"{BIN}/coalmon", "meter", "read", "--model", "eastron-sdm630", "--rtu", col_end,
                 "--baud", "19200", "--parity", "E", "--unit", "7", "--timeout", "200"])
        assert r.returncode == 1 and "unit 7" in r.stderr, (r.returncode, r.stderr)

        port = free_port()
        conf = {
            "role": "mine", "data_dir": d, "http": {"host": "127.0.0.1", "port": port},
            "collector": {
                "meter_maps": os.path.join(SOURCE, "conf/meters"),
                "buses": [{"name": "rs485-1", "device": col_end, "baud": 19200,
                           "framing": "8E1", "frame_delay_ms": 5}],
                "devices": [{"name": f"gate-{u}", "model": "eastron-sdm630", "transport": "rtu",
                             "bus": "rs485-1", "unit": u, "poll_ms": 300, "timeout_ms": 300,
                             "serial": f"SDM-{u:04d}", "gate_type": t}
                            for u, t in ((1, "mine_total"), (2, "underground"), (3, "transport"))],
            },
        }
        cpath = os.path.join(d, "coalmond.json")
        with open(cpath, "w") as f:
            json.dump(conf, f)
        daemon = c.proc([f"{BIN}/coalmond", "-c", cpath], "coalmond-rtu")
        daemon.wait_output(f"serving http://127.0.0.1:{port}/")

        def all_online():
            status, body, _ = http("GET", f"http://127.0.0.1:{port}/api/v1/live")
            assert status == 200, body
            devs = {x["name"]: x for x in body["devices"]}
            ok = all(devs.get(f"gate-{u}", {}).get("comm", {}).get("state") == "online"
                     for u in (1, 2, 3))
            return devs if ok else None

        devs = wait_until(all_online, timeout=30, what="three RTU meters online")
        for u in (1, 2, 3):
            pts = {p["name"]: p["value"] for p in devs[f"gate-{u}"]["points"]}
            wait_until(lambda: pts["freq"] is not None, timeout=5)
            assert 49 < pts["freq"] < 51, pts
        # A unit that falls silent, then one that answers garbage: the line is
        # flushed, the others on the bus stay online, and both come back.
        for fault in ("@2 silent 3", "@3 garbage 3"):
            unit = fault[1]
            with socket.create_connection(("127.0.0.1", cport), timeout=5) as s:
                s.sendall((fault + "\n").encode())
                assert s.makefile().readline().strip() == "ok"

            def state_of(name):
                body = http("GET", f"http://127.0.0.1:{port}/api/v1/live")[1]
                return {x["name"]: x["comm"]["state"] for x in body["devices"]}[name]
            wait_until(lambda: state_of(f"gate-{unit}") == "offline", timeout=15, what=f"unit {unit} offline")
            assert state_of("gate-1") == "online"
            wait_until(lambda: state_of(f"gate-{unit}") == "online", timeout=20, what=f"unit {unit} back")
        # Each unit is its own meter: their energy counters differ (1000 kWh apart).
        r = run([f"{BIN}/coalmon", "--db", os.path.join(d, "coalmon.db"), "--json", "device", "list"])
        assert r.returncode == 0, r.stderr
        listed = {x["name"]: x for x in json.loads(r.stdout)}
        assert listed["gate-2"]["serial"] == "SDM-0002" and listed["gate-2"]["gate_type"] == "underground"
        assert daemon.stop() == 0, daemon.output()
        db = sqlite3.connect(os.path.join(d, "coalmon.db"))
        e = dict(db.execute("SELECT d.name, max(r.value) FROM reading r JOIN point p ON p.id = r.point_id"
                            " JOIN device d ON d.id = p.device_id WHERE p.name = 'ep_imp'"
                            " GROUP BY d.name").fetchall())
        assert 900 < e["gate-2"] - e["gate-1"] < 1100, e
        db.close()


if __name__ == "__main__":
    main([test_rtu_bus_of_three_meters])
