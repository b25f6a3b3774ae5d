"""Issue #7: the alarm API and the audited path on the real daemon.
ALM-5 from each channel: `coalmon threshold set` (cli), PUT
/api/v1/alarms/settings/{type} (api, engineers only), and the configuration
edited between two starts (config); the generic condition API; shelving and
clearing by hand over HTTP; bad input answered 400 naming the field."""
import json
import os
import sqlite3
import time

from harness import BIN, SOURCE, Cleanup, free_port, http, main, run, wait_until
from test_alarms_e2e import Session, Sse, add_user


def write_config(path, data, port, meter_port):
    cfg = {"role": "mine", "data_dir": data, "http": {"host": "127.0.0.1", "port": port},
           "collector": {"meter_maps": os.path.join(SOURCE, "conf/meters"),
                         "devices": [{"name": "gate-total", "model": "chint-dtsu666", "host": "127.0.0.1",
                                      "port": meter_port, "poll_ms": 1000}]},
           "alarms": {"tick_ms": 200}}
    with open(path, "w") as f:
        json.dump(cfg, f)


def start(c, cfg, port):
    d = c.proc([f"{BIN}/coalmond", "-c", cfg], "coalmond")
    d.wait_output(f"serving http://127.0.0.1:{port}/", timeout=60)
    return d


def param_alarm(base, source):
    st, body, _ = http("GET", f"{base}/api/v1/alarms?type=parameter_modified&source={source}")
    assert st == 200, body
    return body["alarms"][0] if body["alarms"] else None


def test_parameter_changes_from_every_channel_and_the_api():
    with Cleanup() as c:
        data = c.dir()
        db = os.path.join(data, "coalmon.db")
        port = free_port()
        cfg = os.path.join(data, "coalmond.json")
        write_config(cfg, data, port, free_port())  # nobody listens: the meter is offline
        add_user(db, "eng", "engineer")
        add_user(db, "disp", "dispatcher")
        d = start(c, cfg, port)
        base = f"http://127.0.0.1:{port}"

        # cli: a threshold changed with the daemon running.
        r = run([f"{BIN}/coalmon", "--db", db, "threshold", "set", "power_quality", "--holdoff", "30",
                 "--reason", "夜班谐波误报"])
        assert r.returncode == 0, r.stderr
        a = wait_until(lambda: param_alarm(base, "alarm.power_quality"), timeout=15, what="ALM-5 from the CLI")
        assert "夜班谐波误报" in a["detail"] and "alarm.setting" in a["detail"], a

        # api: engineers only, with a reason; the field of bad input is named.
        eng, disp = Session(base, "eng"), Session(base, "disp")
        st, body, _ = disp.call("PUT", "/api/v1/alarms/settings/motor_vibration", {"holdoff_s": 20, "reason": "x"})
        assert st == 403, (st, body)
        st, body, _ = eng.call("PUT", "/api/v1/alarms/settings/motor_vibration", {"holdoff_s": 20})
        assert st == 400 and body["field"] == "reason", (st, body)
        st, body, _ = eng.call("PUT", "/api/v1/alarms/settings/motor_vibration", {"holdoff_s": -1, "reason": "x"})
        assert st == 400 and body["field"] == "holdoff_s", (st, body)
        st, body, _ = eng.call("PUT", "/api/v1/alarms/settings/motor_vibration", {"hold": 1, "reason": "x"})
        assert st == 400 and body["field"] == "hold", (st, body)
        st, body, _ = eng.call("PUT", "/api/v1/alarms/settings/fire", {"holdoff_s": 1, "reason": "x"})
        assert st == 404, (st, body)
        st, body, _ = eng.call("PUT", "/api/v1/alarms/settings/motor_vibration",
                               {"holdoff_s": 20, "level": "serious", "reason": "新电机"})
        assert st == 200 and body["changed"] and body["holdoff_s"] == 20 and body["level"] == "serious", body
        a = wait_until(lambda: param_alarm(base, "alarm.motor_vibration"), timeout=15, what="ALM-5 from the API")
        assert "eng" in a["detail"] and "api" in a["detail"], a
        st, body, _ = http("GET", base + "/api/v1/alarms/settings")
        assert [s for s in body["settings"] if s["name"] == "motor_vibration"][0]["holdoff_s"] == 20

        # The generic condition API: engineers feed a condition; a dispatcher shelves and clears.
        st, body, _ = disp.call("POST", "/api/v1/alarms/conditions", {"type": 9, "source": "x"})
        assert st == 403, (st, body)
        for bad, field in (({"source": "E1"}, "type"), ({"type": 9}, "source"),
                           ({"type": 9, "source": "E1", "level": 7}, "level")):
            st, body, _ = eng.call("POST", "/api/v1/alarms/conditions", bad)
            assert st == 400 and body["field"] == field, (bad, st, body)
        st, body, _ = eng.call("POST", "/api/v1/alarms/conditions",
                               {"type": "escaping_vehicle", "source": "晋A12345@E1", "state": "event",
                                "detail": "重车无磅单出矿"})
        assert st == 202, (st, body)
        esc = wait_until(lambda: http("GET", base + "/api/v1/alarms?type=9")[1]["alarms"], timeout=10,
                         what="the escaping vehicle alarm")[0]
        st, body, _ = disp.call("POST", f"/api/v1/alarms/{esc['id']}/shelve", {"duration_s": 0, "reason": "x"})
        assert st == 400 and body["field"] == "duration_s", (st, body)
        st, body, _ = disp.call("POST", f"/api/v1/alarms/{esc['id']}/shelve", {"duration_s": 600})
        assert st == 400 and body["field"] == "reason", (st, body)
        st, body, _ = disp.call("POST", f"/api/v1/alarms/{esc['id']}/shelve",
                                {"duration_s": 600, "reason": "保卫科已在追查"})
        assert st == 200 and body["shelved"]["reason"] == "保卫科已在追查", (st, body)
        st, body, _ = http("GET", base + "/api/v1/alarms?type=9")
        assert body["total"] == 0, body  # shelved alarms leave the active list...
        st, body, _ = http("GET", base + "/api/v1/alarms?type=9&state=shelved")
        assert body["total"] == 1, body  # ...for the shelved one
        st, body, _ = disp.call("POST", f"/api/v1/alarms/{esc['id']}/clear", {"reason": "车辆已返回过磅"})
        assert st == 200 and body["state"] == "cleared" and body["cleared"]["by"] == "disp", (st, body)
        # A browser that reconnects (Last-Event-ID, or ?since=) first gets what it missed, in order.
        missed = Sse(base + "/api/v1/events?since=0&live=0")
        kinds = lambda stream: [e[2]["kind"] for e in stream.find(lambda e: e[1] == "alarm" and e[2]["alarm_id"] == esc["id"])]
        wait_until(lambda: kinds(missed) == ["raised", "shelved", "cleared"], timeout=10, what="the missed transitions")
        ids = [e[2]["id"] for e in missed.find(lambda e: e[1] == "alarm")]
        assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
        assert not missed.find(lambda e: e[1] == "live")  # live=0
        missed.close()
        shelved_id = [e[2]["id"] for e in missed.find(lambda e: e[1] == "alarm" and e[2]["kind"] == "shelved")][0]
        resumed = Sse(base + "/api/v1/events?live=0", headers={"Last-Event-ID": str(shelved_id)})
        wait_until(lambda: kinds(resumed) == ["cleared"], timeout=10, what="only what came after the last id")
        resumed.close()
        st, body, _ = http("GET", base + "/api/v1/events?since=x")
        assert st == 400 and body["field"] == "since", (st, body)

        st, body, _ = disp.call("POST", "/api/v1/alarms/999999/ack", {})
        assert st == 404, (st, body)
        st, body, _ = http("GET", base + "/api/v1/alarms?level=urgent")
        assert st == 400 and body["field"] == "level", body

        # The meter nobody answers for: its communication alarm, and the pending list says why.
        wait_until(lambda: http("GET", base + "/api/v1/alarms?type=comm_interrupted")[1]["total"] == 1,
                   timeout=40, what="the offline meter's alarm")
        assert d.stop() == 0, d.output()

        # config: the device's settings edited between two starts.
        with open(cfg) as f:
            conf = json.load(f)
        conf["collector"]["devices"][0]["poll_ms"] = 2000
        with open(cfg, "w") as f:
            json.dump(conf, f)
        d = start(c, cfg, port)
        a = wait_until(lambda: param_alarm(base, "device:gate-total"), timeout=15,
                       what="ALM-5 from the configuration")
        assert "device.config" in a["detail"] and "2000" in a["detail"], a
        r = run([f"{BIN}/coalmon", "--db", db, "alarm", "list", "--type", "parameter_modified", "--json"])
        sources = sorted(x["source"] for x in json.loads(r.stdout)["alarms"])
        assert sources == ["alarm.motor_vibration", "alarm.power_quality", "device:gate-total"], sources
        assert d.stop() == 0, d.output()


def test_many_kicks_do_not_push_the_evaluation_timer_away():
    """Regression: activating the persistent evaluation timer by hand (one per
    condition posted) moved its next run a period later each time, so 60
    conditions through the API left rows written by other processes unseen
    for half a minute. The timer must still run every tick."""
    with Cleanup() as c:
        data = c.dir()
        db = os.path.join(data, "coalmon.db")
        port = free_port()
        cfg = os.path.join(data, "coalmond.json")
        with open(cfg, "w") as f:
            json.dump({"role": "mine", "data_dir": data, "http": {"host": "127.0.0.1", "port": port}}, f)
        add_user(db, "eng", "engineer")
        d = start(c, cfg, port)
        base = f"http://127.0.0.1:{port}"
        eng = Session(base, "eng")
        for i in range(60):
            st, body, _ = eng.call("POST", "/api/v1/alarms/conditions",
                                   {"type": 9, "source": f"api-{i}", "state": "event"})
            assert st == 202, body
        con = sqlite3.connect(db, timeout=10)
        con.execute("INSERT INTO alarm_input(ts_ms, type, source, state) VALUES (?, 9, 'by-table', 'event')",
                    (int(time.time() * 1000),))
        con.commit()
        con.close()
        # Half a minute with the bug; a tick (0.5 s) without. 10 s leaves room for a loaded machine.
        wait_until(lambda: http("GET", base + "/api/v1/alarms?source=by-table")[1]["total"] == 1,
                   timeout=10, what="the row another process wrote, raised by the timer")
        assert d.stop() == 0, d.output()


if __name__ == "__main__":
    main([test_parameter_changes_from_every_channel_and_the_api,
          test_many_kicks_do_not_push_the_evaluation_timer_away])
