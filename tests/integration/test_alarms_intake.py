"""Issue #7, ALM-9 live with intake: a loaded truck leaves through an exit
without a weighbridge ticket -> intake writes an escape event -> the alarm
engine raises "escaping vehicle" within a minute, queued for upload; the
ticket turning up late resolves the event and the alarm clears by itself."""
import json
import os
import sqlite3

from harness import BIN, Cleanup, free_port, http, main, run, wait_until
from test_intake_api import KEY, bj, ticket


def test_escape_raises_within_a_minute_and_a_late_ticket_clears_it():
    with Cleanup() as c:
        data = c.dir()
        port = free_port()
        cfg = os.path.join(data, "coalmond.json")
        with open(cfg, "w") as f:
            json.dump({"role": "mine", "data_dir": data, "http": {"host": "127.0.0.1", "port": port},
                       "intake": {"api_keys": [{"name": "weighbridge-1", "key": KEY}],
                                  "weighbridges": [{"id": "WB1", "min_t": 1, "max_t": 100}],
                                  "matching": {"decide_after_s": 1, "interval_s": 1}},
                       "alarms": {"tick_ms": 200}}, f)
        r = run([f"{BIN}/coalmon", "-c", cfg, "exit-point", "add", "E1", "--name", "主井口出口"])
        assert r.returncode == 0, r.stderr
        d = c.proc([f"{BIN}/coalmond", "-c", cfg], "coalmond")
        d.wait_output(f"serving http://127.0.0.1:{port}/", timeout=60)
        base = f"http://127.0.0.1:{port}/api/v1"
        st, body, _ = http("POST", base + "/exits/captures",
                           {"pointId": "E1", "plate": "陕H77777", "captureTime": bj(-5), "load": "loaded",
                            "captureId": "ESC-1"}, headers={"X-Api-Key": KEY})
        assert st == 200, body

        def escape_alarm():
            st, body, _ = http("GET", base + "/alarms?state=all&type=escaping_vehicle")
            return body["alarms"][0] if body["alarms"] else None
        a = wait_until(escape_alarm, timeout=60, what="ALM-9 within a minute")
        assert a["source"] == "陕H77777@E1" and a["level"] == "serious" and a["state"] == "raised", a
        assert "无匹配的出场过磅单" in a["detail"], a

        # The ticket arrives late: intake resolves the event, the alarm clears.
        st, body, _ = http("POST", base + "/weighbridge/tickets", ticket("LATE-1", plate="陕H77777", gross_ago=120),
                           headers={"X-Api-Key": KEY})
        assert st == 200, body
        wait_until(lambda: escape_alarm()["state"] == "cleared", timeout=30, what="the alarm cleared by the late ticket")
        assert d.stop() == 0, d.output()
        db = sqlite3.connect(os.path.join(data, "coalmon.db"))
        rec = json.loads(db.execute("SELECT body FROM outbox_record WHERE record_type = 'alarm' AND record_id = ?",
                                    (str(a["id"]),)).fetchone()[0])
        db.close()
        assert rec["alarmType"] == 9 and rec["level"] == 3 and "clearedAt" in rec, rec


if __name__ == "__main__":
    main([test_escape_raises_within_a_minute_and_a_late_ticket_clears_it])
