"""Issue #4 (ACQ-1, ACQ-8, ACQ-10): the belt-scale station's record buffer is
fetched from the breakpoint on, across a link outage during which coalmond
itself is restarted: no gap, no duplicate, and the tonnage per minute adds up
to the rise of the station's cumulative counter. Faults are switched on the
simulator's control socket; the registry CLI shows the resulting history."""
import json
import os
import re
import socket
import sqlite3
import struct
import time

from harness import BIN, Cleanup, free_port, main, run, wait_until


def control(port, line):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((line + "\n").encode())
        reply = s.makefile().readline().strip()
    assert reply == "ok", (line, reply)


def newest_seq(port):
    """Read the station's newest record number (0x0202, u32) over Modbus TCP ourselves."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, 0x0202, 2))
        data = b""
        while len(data) < 13:
            chunk = s.recv(64)
            assert chunk, "station closed the connection"
            data += chunk
    return struct.unpack(">I", data[9:13])[0]


def db_figures(path):
    db = sqlite3.connect(path, timeout=10)
    try:
        n, lo, hi = db.execute("SELECT count(*), min(seq), max(seq) FROM station_record").fetchone()
        rise = db.execute("SELECT (SELECT total_t FROM station_record ORDER BY seq DESC LIMIT 1)"
                          " - (SELECT total_t FROM station_record ORDER BY seq LIMIT 1)").fetchone()[0]
        out = db.execute("SELECT coalesce(sum(tonnes), 0) FROM station_output_minute").fetchone()[0]
        back = db.execute("SELECT count(*) FROM station_record WHERE backfilled = 1").fetchone()[0]
        return {"n": n, "lo": lo or 0, "hi": hi or 0, "rise": rise or 0, "out": out, "back": back}
    finally:
        db.close()


def test_backfill_across_outage_and_daemon_restart():
    with Cleanup() as c:
        d = c.dir()
        sim = c.proc([f"{BIN}/coalmon-sim", "station", "--port", "0", "--control", "0",
                      "--record-ms", "200", "--serial", "BS1-IT-0007"], "sim-station")
        sim.wait_output("listening on")
        out = sim.output()
        mport = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", out).group(1))
        cport = int(re.search(r"control on 127\.0\.0\.1:(\d+)", out).group(1))
        http_port = free_port()
        conf = {"role": "mine", "data_dir": d, "http": {"host": "127.0.0.1", "port": http_port},
                "collector": {"devices": [{
                    "name": "station-1", "kind": "station", "serial": "BS1-IT-0007",
                    "location": "主斜井", "install_date": "2025-06-01", "host": "127.0.0.1",
                    "port": mport, "poll_ms": 300, "timeout_ms": 300, "offline_after": 2,
                    "backoff_max_ms": 500, "record_batch": 8}]}}
        cpath = os.path.join(d, "coalmond.json")
        with open(cpath, "w") as f:
            json.dump(conf, f)
        dbp = os.path.join(d, "coalmon.db")

        def start():
            p = c.proc([f"{BIN}/coalmond", "-c", cpath], "coalmond-station")
            p.wait_output(f"serving http://127.0.0.1:{http_port}/")
            return p

        daemon = start()
        wait_until(lambda: db_figures(dbp)["n"] >= 5, timeout=20, what="first records")

        # Link down for 4 s; coalmond is restarted in the middle of it.
        control(cport, "outage 4")
        time.sleep(1)
        assert daemon.stop() == 0, daemon.output()
        before = db_figures(dbp)
        daemon = start()
        time.sleep(4)
        target = newest_seq(mport)
        assert target >= before["hi"] + 15, (target, before)
        wait_until(lambda: db_figures(dbp)["hi"] >= target, timeout=30, what="backfill to the newest")

        fig = db_figures(dbp)
        assert fig["n"] == fig["hi"] - fig["lo"] + 1, fig          # no gap (and the key forbids duplicates)
        assert fig["back"] >= 10, fig                              # fetched after the outage
        assert abs(fig["out"] - fig["rise"]) < 1e-6 and fig["rise"] > 0, fig

        # Faults through the control socket become device events.
        control(cport, "battery on")
        control(cport, "fault 1 on")
        db = sqlite3.connect(dbp, timeout=10)

        def kinds():
            rows = db.execute("SELECT kind, state FROM device_event").fetchall()
            return set(rows) >= {("power", "battery"), ("fault", "raised"), ("backfill", "done"),
                                 ("comm", "offline")}
        wait_until(kinds, timeout=15, what="power, fault, backfill and comm events")
        db.close()
        assert daemon.stop() == 0, daemon.output()

        r = run([f"{BIN}/coalmon", "--db", dbp, "--json", "device", "history", "station-1"])
        assert r.returncode == 0, r.stderr
        hist = json.loads(r.stdout)
        assert any(e["kind"] == "fault" and "speed_sensor" in e["detail"] for e in hist), hist
        r = run([f"{BIN}/coalmon", "--db", dbp, "--json", "device", "show", "station-1"])
        dev = json.loads(r.stdout)
        assert dev["serial"] == "BS1-IT-0007" and dev["firmware"] == "2.7" and dev["location"] == "主斜井"
        r = run([f"{BIN}/coalmon", "--db", dbp, "device", "show", "no-such"])
        assert r.returncode == 1 and "no device named" in r.stderr


if __name__ == "__main__":
    main([test_backfill_across_outage_and_daemon_restart])
