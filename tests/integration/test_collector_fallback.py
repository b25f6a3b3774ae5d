"""Issue #15: a meter that refuses a planned block read. pymodbus (an
independent implementation) holds exactly the registers of the Acrel ADL400
map and answers exception 02 for any read that covers a register between
them — as a real meter does for undocumented registers inside a gap the
planner reads over. Before: 0 of 21 points stored. Now the collector splits
the refused blocks (gap-free runs, then one point per request), remembers
that per device, stores every point, and marks a point the meter refuses
outright with its quality; the probe names what failed."""
import json
import os
import re
import shutil
import sqlite3

from harness import BIN, SOURCE, Cleanup, free_port, http, main, peer_argv, run, wait_until

MAP = os.path.join(SOURCE, "conf/meters/acrel-adl400.json")


def close(a, b):
    return a is not None and abs(a - b) <= 1e-6 * max(1.0, abs(b))


def peer(c, map_path, *extra):
    port = free_port()
    p = c.proc(peer_argv("pymodbus_tcp_map.py", map_path, port, *extra), f"pymodbus-{port}")
    p.wait_output("values ")
    values = json.loads(re.search(r"^values (.*)$", p.output(), re.M).group(1))
    return port, values


def probe(port, maps, model, *opts):
    return run([f"{BIN}/coalmon", "--json", "meter", "read", "--maps", maps, "--model", model,
                "--tcp", f"127.0.0.1:{port}", *opts])


def test_refused_blocks_fall_back_and_every_point_is_stored():
    with Cleanup() as c:
        d = c.dir()
        port, want = peer(c, MAP)
        # A second map: the same meter with one point it does not have.
        maps = os.path.join(d, "meters")
        os.makedirs(maps)
        with open(MAP, encoding="utf-8") as f:
            text = f.read().replace('"acrel-adl400"', '"acrel-adl400-thd"', 1)
        text = text.replace('"points": [', '"points": [\n    {"name": "thd_ua", "quantity": '
                            '"thd_voltage_a", "address": "0x0100", "type": "u16", "scale": 0.01},', 1)
        with open(os.path.join(maps, "acrel-adl400-thd.json"), "w", encoding="utf-8") as f:
            f.write(text)
        shutil.copy(MAP, maps)

        # The probe reads every point (after splitting) and says it split.
        wait_until(lambda: probe(port, maps, "acrel-adl400").returncode == 0, timeout=20,
                   what="the pymodbus server")
        r = probe(port, maps, "acrel-adl400")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        got = {p["name"]: p["value"] for p in out["points"]}
        assert all(close(got[n], v) for n, v in want.items()), (got, want)
        assert out["splits"] >= 1 and out["refused"] == 0, out
        # One request per point: as many requests as points.
        r = probe(port, maps, "acrel-adl400", "--one-per-point")
        assert r.returncode == 0 and json.loads(r.stdout)["requests"] == len(want), r.stdout
        # The point the meter does not have is named, the others read.
        r = run([f"{BIN}/coalmon", "meter", "read", "--maps", maps, "--model", "acrel-adl400-thd",
                 "--tcp", f"127.0.0.1:{port}"])
        assert r.returncode == 0, r.stderr
        assert re.search(r"thd_ua .*refused: exception 02", r.stdout), r.stdout
        assert "1 points refused by the meter" in r.stdout, r.stdout

        hport = free_port()
        conf = {
            "role": "mine", "data_dir": d, "http": {"host": "127.0.0.1", "port": hport},
            "collector": {
                "meter_maps": maps,
                "devices": [
                    {"name": "gate-adl", "model": "acrel-adl400", "host": "127.0.0.1",
                     "port": port, "unit": 1, "poll_ms": 200},
                    {"name": "gate-thd", "model": "acrel-adl400-thd", "host": "127.0.0.1",
                     "port": port, "unit": 2, "poll_ms": 200},
                ],
            },
        }
        cpath = os.path.join(d, "coalmond.json")
        with open(cpath, "w") as f:
            json.dump(conf, f)
        daemon = c.proc([f"{BIN}/coalmond", "-c", cpath], "coalmond-fallback")
        daemon.wait_output(f"serving http://127.0.0.1:{hport}/")
        db = sqlite3.connect(os.path.join(d, "coalmon.db"))

        def latest(dev):
            rows = db.execute("SELECT p.name, l.value, l.quality FROM point_latest l"
                              " JOIN point p ON p.id = l.point_id JOIN device d ON d.id = p.device_id"
                              " WHERE d.name = ?", (dev,)).fetchall()
            return {n: (v, q) for n, v, q in rows}

        wait_until(lambda: len(latest("gate-adl")) == len(want) and len(latest("gate-thd")) == len(want) + 1,
                   timeout=30, what="every point of both meters stored")
        adl = latest("gate-adl")
        assert all(q == 0 and close(v, want[n]) for n, (v, q) in adl.items()), adl
        thd = latest("gate-thd")
        assert thd["thd_ua"][1] == 1, thd["thd_ua"]  # refused by the meter
        assert all(q == 0 and close(v, want[n]) for n, (v, q) in thd.items() if n != "thd_ua"), thd
        # A meter with a point it refuses is degraded, and says why.
        devs = {x["name"]: x for x in http("GET", f"http://127.0.0.1:{hport}/api/v1/live")[1]["devices"]}
        assert devs["gate-adl"]["comm"]["state"] == "online", devs["gate-adl"]["comm"]
        assert devs["gate-thd"]["comm"]["state"] == "degraded", devs["gate-thd"]["comm"]
        assert "1 points refused" in devs["gate-thd"]["comm"]["detail"], devs["gate-thd"]["comm"]
        db.close()
        assert daemon.stop() == 0, daemon.output()
        # The refined plan is remembered: the split is logged once per block, not per poll.
        assert daemon.output().count("unit 1 refused") == 2, daemon.output()


if __name__ == "__main__":
    main([test_refused_blocks_fall_back_and_every_point_is_stored])
