"""Issue #9 from the command line and the simulator: `coalmon import tickets`
with line-numbered errors (nothing stored), Chinese column names, idempotent
re-imports and progress on a large file; `coalmon-sim weighbridge` with its
mistakes switched on against a real coalmond, every escape it made found and
nothing else; and `coalmond --demo` having tickets of its own."""
import urllib.parse
import json
import os
import re
import sqlite3

from harness import BIN, Cleanup, bj, free_port, http, main, run, wait_until


def coalmon(db, *args):
    return run([f"{BIN}/coalmon", "--db", db, *args], timeout=240)


HEADER = "ticketId,plate,material,direction,tareTime,grossTime,gross,tare,net,weighbridgeId,operator\n"


def row(tid, plate="晋A12345", net="35.20", gross="50.20", tare="15.00", ago=3600, operator="王强"):
    return f'{tid},{plate},原煤,out,{bj(-ago - 1800)},{bj(-ago)},{gross},{tare},{net},WB1,"{operator}"\n'


def test_import_errors_chinese_columns_reimport():
    with Cleanup() as c:
        d = c.dir()
        db = os.path.join(d, "coalmon.db")
        bad = os.path.join(d, "bad.csv")
        with open(bad, "w") as f:
            f.write(HEADER + row("C1") + row("C2", net="36.00") + row("C3", plate="晋A1234") + row("C4", operator="李, 四"))
        r = coalmon(db, "import", "tickets", bad)
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"{bad}:3: net:" in r.stderr and f"{bad}:4: plate:" in r.stderr, r.stderr
        assert "2 line(s) wrong; nothing stored" in r.stderr, r.stderr
        r = coalmon(db, "--json", "ticket", "list")
        assert r.returncode == 0 and json.loads(r.stdout) == [], r.stdout + r.stderr
        r = coalmon(db, "--json", "import", "tickets", bad)
        rep = json.loads(r.stdout)
        assert r.returncode == 1 and rep["stored"] is False and rep["valid"] == 2, rep
        assert [(p["line"], p["field"]) for p in rep["problems"]] == [(3, "net"), (4, "plate")], rep

        unknown = os.path.join(d, "unknown.csv")
        with open(unknown, "w") as f:
            f.write("ticketId,colour\nX,red\n")
        r = coalmon(db, "import", "tickets", unknown)
        assert r.returncode == 1 and f"{unknown}:1: colour: unknown column 'colour'" in r.stderr, r.stderr

        # The weighbridge software's own export: Chinese headers, BOM, CRLF, 出/入.
        cn = os.path.join(d, "cn.csv")
        with open(cn, "w", encoding="utf-8-sig", newline="") as f:
            f.write("磅单号,车牌号,货物名称,方向,皮重时间,毛重时间,毛重,皮重,净重,磅号\r\n")
            f.write(f"Z1,晋K·1234挂,块煤,出,{bj(-5400)},{bj(-3600)},49.60,15.40,34.20,WB1\r\n")
            f.write(f"Z2,晋KD12345,原煤,出厂,{bj(-5300)},{bj(-3500)},48.00,15.00,33.00,WB1\r\n")
        r = coalmon(db, "import", "tickets", cn)
        assert r.returncode == 0 and "2 tickets stored: 2 new, 0 corrected, 0 unchanged" in r.stdout, r.stdout + r.stderr
        r = coalmon(db, "import", "tickets", cn)
        assert r.returncode == 0 and "0 new, 0 corrected, 2 unchanged" in r.stdout, r.stdout
        r = coalmon(db, "--json", "ticket", "show", "Z1")
        t = json.loads(r.stdout)
        assert t["plate"] == "晋K1234挂" and t["material"] == "lump" and t["version"] == 1, t
        r = coalmon(db, "import", "tickets", "/nonexistent.csv")
        assert r.returncode == 1 and "No such file" in r.stderr, r.stderr
        assert coalmon(db, "import", "tickets").returncode == 2
        assert coalmon(db, "import", "nonsense").returncode == 2


def test_large_import_shows_progress():
    with Cleanup() as c:
        d = c.dir()
        db = os.path.join(d, "coalmon.db")
        big = os.path.join(d, "big.csv")
        n = 24000
        with open(big, "w") as f:
            f.write(HEADER)
            for i in range(n):
                f.write(row(f"B{i:06d}", ago=3600 + i * 5, operator="司磅员王强" * 3))
        assert os.path.getsize(big) > (1 << 20)
        r = coalmon(db, "import", "tickets", big)
        assert r.returncode == 0, r.stderr[-2000:]
        assert f"{n} tickets stored: {n} new" in r.stdout, r.stdout
        checked = re.findall(r"checked (\d+)%", r.stderr)
        stored = re.findall(r"stored (\d+)%", r.stderr)
        assert checked and checked[-1] == "100" and len(checked) >= 5, r.stderr
        assert stored and stored[-1] == "100", r.stderr
        con = sqlite3.connect(db)
        assert con.execute("SELECT count(*) FROM weigh_ticket").fetchone()[0] == n
        con.close()


def test_simulator_mistakes_against_daemon():
    with Cleanup() as c:
        data = c.dir()
        port = free_port()
        cfg = os.path.join(data, "coalmond.json")
        with open(cfg, "w") as f:
            json.dump({"role": "mine", "data_dir": data, "http": {"host": "127.0.0.1", "port": port},
                       "intake": {"matching": {"decide_after_s": 1, "interval_s": 1}}}, f)
        db = os.path.join(data, "coalmon.db")
        assert coalmon(db, "exit-point", "add", "E1", "--name", "主井口出口").returncode == 0
        r = coalmon(db, "--json", "intake-key", "add", "sim")
        key = json.loads(r.stdout)["key"]
        d = c.proc([f"{BIN}/coalmond", "-c", cfg], "coalmond")
        d.wait_output(f"serving http://127.0.0.1:{port}/")
        r = run([f"{BIN}/coalmon-sim", "weighbridge", "--key", key, "--port", str(port), "--count", "40",
                 "--backfill-hours", "24", "--rate", "20", "--seed", "7",
                 "--mistakes", "ocr=0.3,escape=0.15,badnet=0.2,dup=0.2,correct=0.1,empty=0.1"], timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        s = json.loads(r.stdout.split("summary ", 1)[1])
        assert s["trucks"] == 40 and s["errors"] == 0, s
        assert min(s["escapes"], s["ocr"], s["rejected"], s["duplicates"], s["corrections"], s["empty"]) >= 1, s
        con = sqlite3.connect(db)

        def decided():
            n = con.execute("SELECT count(*) FROM exit_capture WHERE state = 'pending'").fetchone()[0]
            return n == 0

        wait_until(decided, timeout=30, what="every capture decided")
        q = lambda sql: con.execute(sql).fetchone()[0]
        assert q("SELECT count(*) FROM weigh_ticket_current") == s["tickets"], s
        assert q("SELECT count(*) FROM weigh_ticket WHERE version > 1") == s["corrections"], s
        assert q("SELECT count(*) FROM exit_capture") == s["captures"], s
        # Every escape the simulator made is found; every misread plate still matched.
        assert q("SELECT count(*) FROM escape_event") == s["escapes"], s
        assert q("SELECT count(*) FROM exit_capture WHERE state = 'empty'") == s["empty"], s
        assert q("SELECT count(*) FROM exit_capture WHERE state = 'matched'") == s["captures"] - s["escapes"] - s["empty"], s
        assert q("SELECT count(*) FROM exit_capture WHERE state = 'matched' AND confidence < 1") >= 1, s
        con.close()
        r = run([f"{BIN}/coalmon-sim", "weighbridge", "--key", "wrong", "--port", str(port), "--count", "1"])
        assert r.returncode == 0 and '"errors":2' in r.stdout, r.stdout  # ticket and capture refused (401)
        assert d.stop() == 0, d.output()


def test_demo_has_tickets_and_captures():
    with Cleanup() as c:
        data = c.dir()
        port = free_port()
        d = c.proc([f"{BIN}/coalmond", "--demo", "--port", str(port), "--data", data], "coalmond-demo")
        d.wait_output(f"serving http://127.0.0.1:{port}/", timeout=60)
        url = f"http://127.0.0.1:{port}/api/v1"
        # The demo's trucks haul what its belt produced since the production day
        # began: just after midnight (a night shift that mostly idles) there may
        # be too little coal for five loads yet — then the day's output says so.
        def some_tickets():
            b = http("GET", url + "/weighbridge/tickets")[1]
            if isinstance(b, list) and len(b) >= 5:
                return b
            day = http("GET", url + "/sales/figures")[1]["day"]
            # five loads of at most 50 t, and the interval under way that the
            # demo's history already holds (up to 15 min at 600 t/h)
            return "idle" if (day["outputRaw"] or 0) < 5 * 50 + 150 else None
        tickets = wait_until(some_tickets, timeout=60, what="demo tickets")
        if tickets == "idle":
            assert d.stop() == 0, d.output()
            return
        assert all(t["direction"] == "out" and 30 <= t["net"] <= 50 for t in tickets), tickets[:3]
        caps = wait_until(lambda: (lambda b: b if isinstance(b, list) and any(x["state"] == "matched" for x in b)
                                   else None)(http("GET", url + "/exits/captures")[1]), timeout=60, what="matched exits")
        # The figures of the day a posted truck crossed the bridge count it (asked
        # for that day, not today: just after midnight today has no truck yet).
        at = urllib.parse.quote(max(t["grossTime"] for t in tickets))
        status, fig = http("GET", url + f"/sales/figures?at={at}")[:2]
        assert status == 200 and fig["day"]["truckSales"] > 0, fig
        assert d.stop() == 0, d.output()


if __name__ == "__main__":
    main([test_import_errors_chinese_columns_reimport, test_large_import_shows_progress,
          test_simulator_mistakes_against_daemon, test_demo_has_tickets_and_captures])
