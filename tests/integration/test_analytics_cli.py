"""Issue #6 (ANA-1, ANA-4, RPT-1, ALM-1, ALM-3): interval history imported
from CSV (bad rows named by line), a model fitted on the clean weeks, the
consistency check finding a scale that under-reports by 6 % from a known
time, capacity with history, RPT-1 reports as CSV and over the API."""
import csv
import datetime
import io
import json
import math
import os
import random

from harness import BIN, Cleanup, free_port, http, main, run, wait_until

START = "2026-01-01 00:00"  # Beijing time; intervals of 15 min
DAYS = 35
FAULT_DAY = 30              # the scale reads 6 % low from 2026-01-31 03:00


def simulate():
    """Rows of the history CSV: energy = 90 kWh/h running + 0.45 kWh/t + 2."""
    rnd = random.Random(7)
    rows, tons_by_day = [], {}
    for i in range(DAYS * 96):
        day, minute = divmod(i * 15, 1440)
        hour = minute // 60
        run = 0.0 if 6 <= hour < 8 else (0.0 if rnd.random() < 0.05 else (rnd.random() if rnd.random() < 0.1 else 1.0))
        run_h = run * 0.25
        tons = 600 * run_h * (0.6 + 0.5 * rnd.random())
        kwh = (90 * run_h + 0.45 * tons + 2) * (1 + 0.03 * rnd.gauss(0, 1))
        metered = tons * (0.94 if (day > FAULT_DAY or (day == FAULT_DAY and hour >= 3)) else 1.0)
        total = (kwh + 375 * (1 + 0.05 * rnd.gauss(0, 1))) / 0.96
        t = f"2026-{1 + (day >= 31):02d}-{day % 31 + 1:02d} {hour:02d}:{minute % 60:02d}"
        rows.append([t, f"{metered:.3f}", f"{kwh:.3f}", f"{total:.3f}", f"{run * 15:.2f}"])
        tons_by_day.setdefault(t[:10], 0.0)
        tons_by_day[t[:10]] += round(metered, 3)
    return rows, tons_by_day


def test_history_model_consistency_reports():
    with Cleanup() as c:
        d = c.dir()
        db = os.path.join(d, "coalmon.db")
        cli = [f"{BIN}/coalmon", "-c", os.path.join(d, "none.json"), "--db", db]
        rows, tons_by_day = simulate()
        path = os.path.join(d, "history.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["time", "tons", "transport_kwh", "total_kwh", "run_min"])
            w.writerows(rows[:100])
            w.writerow(["2026-01-02 25:00", "1", "1", "1", "1"])   # line 102: bad time
            w.writerow(["2026-01-02 01:00", "x", "1", "1", "1"])   # line 103: bad tons
            w.writerows(rows[100:])

        r = run(cli + ["import", "history", path])
        assert r.returncode == 1, r
        assert "line 102: time" in r.stderr and "line 103: tons" in r.stderr, r.stderr
        r = run(cli + ["model", "list", "--json"])
        assert r.returncode == 0 and json.loads(r.stdout) == [], r  # nothing stored half-way
        r = run(cli + ["--json", "import", "history", path, "--allow-bad"])
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == {"stored": DAYS * 96, "bad_rows": 2}

        # Fit on the four clean weeks: the coefficients come back.
        r = run(cli + ["--json", "model", "fit", "--to", "2026-01-29"])
        assert r.returncode == 0, r.stderr
        m = json.loads(r.stdout)
        assert abs(m["b_kwh_per_t"] - 0.45) < 0.02 and abs(m["a_kwh_per_run_hour"] - 90) < 6, m
        assert m["window_to"] == "2026-01-29 00:00:00" and m["intervals"] > 2000, m
        r = run(cli + ["model", "fit", "--gate", "nonsense"])
        assert r.returncode == 2, r

        # The check over the last week finds the under-reporting, after the fault, within a day.
        r = run(cli + ["--json", "consistency", "check", "--from", "2026-01-29", "--to", "2026-02-05"])
        assert r.returncode == 0, r.stderr
        conds = [x for x in json.loads(r.stdout) if x["type"] == "output_power"]
        assert conds, r.stdout
        first = min(conds, key=lambda x: x["start"])
        assert first["start"] >= "2026-01-31 00:00:00", first
        assert first["detail"]["direction"] == "under" and first["detail"]["detected"] <= "2026-02-01 03:00:00", first
        assert -0.09 < first["value"] < -0.03, first
        print(f"    under-reporting detected at {first['detail']['detected']} (fault from 2026-01-31 03:00), "
              f"deviation {first['value'] * 100:+.1f}%")
        r = run(cli + ["--json", "consistency", "check", "--from", "2026-01-29", "--to", "2026-01-31"])
        assert [x for x in json.loads(r.stdout) if x["type"] == "output_power"] == [], r.stdout
        # Implied tonnage interval by interval: about 6 % above what the scale says after the fault.
        r = run(cli + ["model", "implied", "--from", "2026-01-31", "--to", "2026-02-01"])
        assert r.returncode == 0, r.stderr
        table = list(csv.DictReader(io.StringIO(r.stdout.lstrip("\ufeff"))))
        assert len(table) == 96, len(table)
        after = [float(x["deviation"]) for x in table if x["time"] >= "2026-01-31 03:00" and x["deviation"]]
        before = [float(x["deviation"]) for x in table if x["time"] < "2026-01-31 03:00" and x["deviation"]]
        assert len(after) > 40 and -0.08 < sum(after) / len(after) < -0.04, sum(after) / len(after)
        assert abs(sum(before) / len(before)) < 0.03, before
        r = run(cli + ["model", "implied", "--from", "2026-01-31"])
        assert r.returncode == 2, r
        r = run(cli + ["consistency", "check", "--from", "2026-02-30", "--to", "2026-03-01"])
        assert r.returncode == 2 and "--from" in r.stderr, r

        # Capacity with history; the change is audited.
        assert run(cli + ["capacity", "set", "900000", "--from", "2025-01-01"]).returncode == 0
        r = run(cli + ["capacity", "set", "1200000", "--from", "2026-01-01", "--reason", "扩能批复"])
        assert r.returncode == 0, r.stderr
        assert run(cli + ["capacity", "set", "-5"]).returncode == 2
        r = run(cli + ["--json", "capacity", "show", "--at", "2026-01-20 12:00"])
        cap = json.loads(r.stdout)
        assert cap["approved_tpa"] == 1200000 and len(cap["history"]) == 2, cap
        assert cap["month"]["limit_t"] == 120000 and cap["year"]["limit_t"] == 1320000, cap
        import sqlite3
        con = sqlite3.connect(db)
        audits = con.execute("SELECT count(*) FROM audit_log WHERE action = 'capacity.set'").fetchone()[0]
        fits = con.execute("SELECT count(*), min(actor), min(channel) FROM audit_log WHERE action = 'model.fit'").fetchone()
        con.close()
        assert audits == 2, audits
        assert fits[0] == 1 and fits[2] == "cli", fits  # the fit asked for on the command line

        # RPT-1 output per day as CSV: the day sums are the CSV's (minus the two bad rows).
        r = run(cli + ["report", "output", "--period", "day", "--from", "2026-01-03", "--to", "2026-01-10", "--csv"])
        assert r.returncode == 0, r.stderr
        table = list(csv.reader(io.StringIO(r.stdout.lstrip("\ufeff"))))
        assert table[0][:3] == ["period", "start", "tons"], table[0]
        assert len(table) == 1 + 7, table
        for row in table[1:]:
            assert math.isclose(float(row[2]), tons_by_day[row[0]], rel_tol=1e-6), (row, tons_by_day[row[0]])
        r = run(cli + ["report", "energy", "--period", "month", "--from", "2026-01-01", "--to", "2026-02-01", "--json"])
        rep = json.loads(r.stdout)
        assert len(rep["rows"]) == 1 and rep["rows"][0][0] == "2026-01", rep
        assert run(cli + ["report", "output", "--period", "week", "--from", "2026-01-01", "--to", "2026-01-02"]).returncode == 2
        # Without --from/--to: the period under way, one row; one bound alone is a usage error.
        r = run(cli + ["report", "output", "--period", "month", "--json"])
        assert r.returncode == 0, r.stderr
        rows = json.loads(r.stdout)["rows"]
        this_month = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).strftime("%Y-%m")
        assert len(rows) == 1 and rows[0][0] == this_month, rows
        r = run(cli + ["report", "output", "--period", "day", "--from", "2026-01-03"])
        assert r.returncode == 2 and "give --from and --to, or neither" in r.stderr, r.stderr

        # A capacity cut from November: the year so far is over 110 % of it.
        r = run(cli + ["capacity", "set", "200000", "--from", "2026-11-01", "--reason", "减产核定"])
        assert r.returncode == 0, r.stderr

        # The daemon serves the same objects.
        port = free_port()
        conf = os.path.join(d, "coalmond.json")
        with open(conf, "w") as f:
            json.dump({"role": "mine", "data_dir": d, "http": {"host": "127.0.0.1", "port": port},
                       "analytics": {"interval_min": 15}}, f)
        p = c.proc([f"{BIN}/coalmond", "-c", conf], "coalmond-analytics")
        p.wait_output(f"serving http://127.0.0.1:{port}/")
        base = f"http://127.0.0.1:{port}/api/v1"
        s, body, _ = http("GET", f"{base}/models/current")
        assert s == 200 and body["transport"]["version"] >= 1, body
        s, body, _ = http("GET", f"{base}/reports/rpt1/output?period=day&from=2026-01-03&to=2026-01-10")
        assert s == 200 and body["columns"][2] == "tons" and len(body["rows"]) == 7, body
        assert [row[2] for row in body["rows"]] == [float(x[2]) for x in table[1:]], body
        s, body, _ = http("GET", f"{base}/reports/rpt1/output?period=week")
        assert s == 400 and body["field"] == "period", body
        s, body, _ = http("GET", f"{base}/consistency?from=2026-01-29&to=2026-02-05")
        assert s == 200 and any(x["type"] == "output_power" for x in body), body
        s, body, _ = http("GET", f"{base}/models/implied?gate=transport&from=2026-01-31&to=2026-02-01")
        assert s == 200 and len(body["rows"]) == 96 and body["columns"][4] == "implied_t", body
        assert body["model"]["window_to"] == "2026-01-29 00:00:00", body["model"]
        s, body, _ = http("GET", f"{base}/models/implied?gate=nonsense")
        assert s == 400 and body["field"] == "gate", body
        s, body, _ = http("GET", f"{base}/energy?from=2026-01-29%2000:00&to=2026-01-30")
        assert s == 200 and body["tons"] > 0 and body["kwh_per_t_transport"] > 0.45, body
        s, body, _ = http("GET", f"{base}/capacity")
        assert s == 200 and body["approved_tpa"] == 200000 and len(body["history"]) == 3, body
        assert body["year"]["output_t"] > body["year"]["limit_t"] == 220000, body["year"]
        # The evaluation thread raises the over-production condition for the alarms engine.
        def over():
            s, body, _ = http("GET", f"{base}/conditions?from=2026-01-01")
            assert s == 200, body
            return [c for c in body if c["type"] == "over_production" and c["source"] == "year"]
        conds = wait_until(over, timeout=30, what="an over_production condition")
        assert conds[0]["level"] == 3 and conds[0]["ongoing"] and conds[0]["threshold"] == 220000, conds
        assert conds[0]["detail"]["share"] > 1, conds
        assert p.stop() == 0, p.output()


if __name__ == "__main__":
    main([test_history_model_consistency_reports])
