"""Issue #13 (ANA-1, ALM-3): a realistic history written by the simulator
(`coalmon backtest --sim --write-csv`, a scale reading 5 % low from day 30)
goes through `coalmon import history`; an engineer fits the model on the
first three weeks (declared trusted); `coalmon backtest` over the stored
history and `coalmon consistency check` then agree on what the daemon
raises on the transport gate: one step, under, from the fault on, still
open at the end. A pinned model survives `model fit` proposals only by
being pinned: the pin is audited and shown."""
import json
import os

from harness import BIN, Cleanup, main, run

FAULT = "2026-01-31 10:00"  # --fault-day 30 of a history starting 2026-01-01: 10:00 that day


def bj_minutes(s):
    """Minutes of a 'yyyy-MM-dd HH:mm[:ss]' Beijing time since 2026-01-01 00:00 (same month math)."""
    date, time = s.split(" ")
    y, mo, d = (int(x) for x in date.split("-"))
    h, mi = (int(x) for x in time.split(":")[:2])
    days = (mo - 1) * 31 + (d - 1)  # January and February only
    return days * 1440 + h * 60 + mi


def transport_episodes(conditions):
    return [c for c in conditions if c["type"] == "output_power" and c["source"] == "transport"]


def test_import_backtest_and_check_agree():
    with Cleanup() as c:
        d = c.dir()
        db = os.path.join(d, "coalmon.db")
        cli = [f"{BIN}/coalmon", "-c", os.path.join(d, "none.json"), "--db", db]
        csv = os.path.join(d, "history.csv")
        r = run(cli + ["--json", "backtest", "--sim", "--days", "45", "--seed", "4", "--fault",
                       "step", "--size", "-5", "--fault-day", "30", "--write-csv", csv])
        assert r.returncode == 0, r
        sim = json.loads(r.stdout)
        assert sim["fault_from"].startswith(FAULT), sim
        r = run(cli + ["import", "history", csv])
        assert r.returncode == 0, r
        for gate in ("transport", "total"):
            r = run(cli + ["--json", "model", "fit", "--gate", gate, "--from", "2026-01-01",
                           "--to", "2026-01-22"])
            assert r.returncode == 0, r
            m = json.loads(r.stdout)
            assert m["status"] == "in_force" and m["basis"] == "engineer", m
            assert m["valid_from"].startswith("2026-01-01"), m

        # the replay over the stored history finds what it found on the simulated one
        r = run(cli + ["--json", "backtest", "--from", "2026-01-01", "--to", "2026-02-15",
                       "--fault-from", FAULT])
        assert r.returncode == 0, r
        bt = json.loads(r.stdout)
        tr = bt["gates"]["transport"]
        assert tr["false_alarms"] == 0, tr
        assert tr["shape"] == "step" and tr["delay_running_h"] <= 8, tr
        assert tr["flagged_share"] >= 0.95, tr
        assert tr == sim["gates"]["transport"], (tr, sim["gates"]["transport"])
        eps = [e for e in tr["episodes"]]
        assert len(eps) == 1 and eps[0]["direction"] == "under" and eps[0]["end"] is None, eps
        assert bt["baseline_daily_ols"]["delay_h"] > tr["delay_h"], bt

        # the consistency check replays the same detector with the models in force
        r = run(cli + ["--json", "consistency", "check", "--from", "2026-01-22", "--to",
                       "2026-02-15"])
        assert r.returncode == 0, r
        ck = transport_episodes(json.loads(r.stdout))
        assert len(ck) == 1, ck
        e = ck[0]
        assert e["ongoing"] and e["value"] < -0.03, e
        assert e["detail"]["shape"] == "step" and e["detail"]["direction"] == "under", e
        # same change point and detection (to the interval) as the backtest
        assert abs(bj_minutes(e["start"]) - bj_minutes(eps[0]["start"])) <= 15, (e, eps)
        assert abs(bj_minutes(e["detail"]["detected"]) - bj_minutes(eps[0]["detected"])) <= 15

        # a pinned model: audited, shown, and the version stays in force
        r = run(cli + ["--json", "model", "list"])
        v = [m for m in json.loads(r.stdout) if m["gate"] == "transport"][0]["version"]
        r = run(cli + ["--json", "model", "pin", str(v), "--reason", "trusted after calibration"])
        assert r.returncode == 0 and json.loads(r.stdout)["pinned"] is True, r
        r = run(cli + ["--json", "model", "show", "--gate", "transport"])
        assert json.loads(r.stdout)["pinned"] is True, r
        r = run(cli + ["--json", "model", "unpin", str(v)])
        assert r.returncode == 0 and json.loads(r.stdout)["pinned"] is False, r
        r = run(cli + ["model", "pin", "x"])
        assert r.returncode == 2, r


if __name__ == "__main__":
    main([test_import_backtest_and_check_agree])
