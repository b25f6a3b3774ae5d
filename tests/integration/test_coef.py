"""ACQ-4: conversion coefficients with history and reason from the command
line; every change audited (ALM-5); bad usage exits 2 and stores nothing."""
import json
import os
import sqlite3

from harness import BIN, Cleanup, main, run


def test_coefficient_history_and_audit():
    with Cleanup() as c:
        db = os.path.join(c.dir(), "c.db")
        cli = [f"{BIN}/coalmon", "--db", db]
        r = run(cli + ["coef", "set", "raw_to_gross", "0.92", "--reason", "annual calibration",
                       "--from", "2026-01-01 00:00:00"])
        assert r.returncode == 0, r.stderr
        r = run(cli + ["coef", "set", "raw_to_gross", "0.95", "--reason", "washing plant survey",
                       "--from", "2026-06-01 00:00:00"])
        assert r.returncode == 0, r.stderr
        r = run(cli + ["--json", "coef", "history", "raw_to_gross"])
        assert r.returncode == 0, r.stderr
        hist = json.loads(r.stdout)
        assert [h["value"] for h in hist] == [0.95, 0.92], hist
        assert hist[1]["validFrom"] == "2026-01-01 00:00:00" and hist[1]["reason"] == "annual calibration"
        r = run(cli + ["--json", "coef", "show"])
        assert json.loads(r.stdout)[0]["value"] == 0.95, r.stdout
        # bad usage: exit 2, nothing stored
        for bad in (["coef", "set", "raw_to_gross", "-1", "--reason", "x"],
                    ["coef", "set", "raw_to_gross", "0.9"],
                    ["coef", "set", "Bad Name", "0.9", "--reason", "x"],
                    ["coef", "set", "raw_to_gross", "0.9", "--reason", "x", "--from", "2026-13-01"]):
            r = run(cli + bad)
            assert r.returncode == 2, (bad, r)
        assert run(cli + ["coef", "history", "no_such"]).returncode == 1
        con = sqlite3.connect(db)
        rows = con.execute("SELECT action, target, old_value, new_value, reason FROM audit_log"
                           " ORDER BY id").fetchall()
        assert rows == [("coef.set", "raw_to_gross", None, "0.92", "annual calibration"),
                        ("coef.set", "raw_to_gross", "0.92", "0.95", "washing plant survey")], rows
        assert con.execute("SELECT count(*) FROM coefficient").fetchone()[0] == 2
        con.close()


if __name__ == "__main__":
    main([test_coefficient_history_and_audit])
