"""ACQ-5: calibration and maintenance records over the API — engineers add,
dispatchers may not, bad fields are named, everyone who reads sees them, and
each is queued for upload as a `calibration` record."""
import os
import sqlite3

from harness import BIN, Cleanup, free_port, http, main, wait_until
from test_dashboard_auth import Client, demo_passwords


def test_calibration_records_over_the_api():
    with Cleanup() as c:
        data = c.dir()
        port = free_port()
        d = c.proc([f"{BIN}/coalmond", "--demo", "--port", str(port), "--data", data], "coalmond-cal")
        d.wait_output(f"serving http://127.0.0.1:{port}/")
        pw = demo_passwords(d)
        base = f"http://127.0.0.1:{port}"
        record = {"device": "station-main-belt", "kind": "calibration", "operator": "张工",
                  "time": "2026-11-20 09:30:00", "before": "k=1.000", "after": "k=1.043",
                  "note": "实物标定 3 次"}

        status, _, _ = http("POST", base + "/api/v1/calibrations", record)
        assert status == 401, status
        dispatcher = Client(base)
        assert dispatcher.login("dispatcher", pw["dispatcher"])[0] == 200
        assert dispatcher.call("POST", "/api/v1/calibrations", record)[0] == 403

        engineer = Client(base)
        assert engineer.login("engineer", pw["engineer"])[0] == 200
        status, body, _ = engineer.call("POST", "/api/v1/calibrations", dict(record, kind="repair"))
        assert status == 400 and body["field"] == "kind", body
        status, body, _ = engineer.call("POST", "/api/v1/calibrations", dict(record, time="2099-01-01 00:00"))
        assert status == 400 and body["field"] == "time", body
        status, body, _ = engineer.call("POST", "/api/v1/calibrations", record)
        assert status == 201, body

        status, body, _ = http("GET", base + "/api/v1/calibrations?device=station-main-belt")
        assert status == 200
        assert len(body["calibrations"]) == 1, body
        got = body["calibrations"][0]
        assert got["after"] == "k=1.043" and got["recordedBy"] == "engineer", got
        status, body, _ = http("GET", base + "/api/v1/calibrations?from=bad")
        assert status == 400 and body["field"] == "from"

        db = sqlite3.connect(os.path.join(data, "coalmon.db"))
        rows = db.execute("SELECT count(*) FROM outbox_record WHERE record_type = 'calibration'").fetchone()
        assert rows[0] == 1
        audit = db.execute("SELECT actor, channel FROM audit_log WHERE action = 'calibration.add'").fetchall()
        assert audit == [("engineer", "api")], audit
        db.close()
        # ALM-5: the change shows as a parameter-modified alarm
        wait_until(lambda: any(a["type_name"] == "parameter_modified" and "calibration" in a["detail"]
                               for a in http("GET", base + "/api/v1/alarms?state=active")[1]["alarms"]),
                   timeout=20, what="the parameter-modified alarm")
        assert d.stop() == 0


if __name__ == "__main__":
    main([test_calibration_records_over_the_api])
