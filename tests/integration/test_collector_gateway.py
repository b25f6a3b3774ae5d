"""Issue #15: gateways as devices. Sixteen meters behind one RS485-to-Ethernet
gateway (one simulator serving unit ids 1..16 on one TCP port). When the
gateway goes down (an outage: connections refused), the collector reports
one gateway device offline and the alarms module raises one comm_interrupted
alarm for the gateway — not sixteen, one per meter. When it comes back, every
meter is read again within the connect back-off ceiling (5 s) plus a poll,
and the alarm clears."""
import json
import os
import re
import socket

from harness import BIN, SOURCE, Cleanup, free_port, http, main, wait_until

UNITS = 16


def test_one_alarm_for_a_gateway_of_sixteen_meters():
    with Cleanup() as c:
        d = c.dir()
        sim = c.proc([f"{BIN}/coalmon-sim", "meter", "--port", "0", "--units", str(UNITS),
                      "--control", "0"], "sim-gateway")
        sim.wait_output("control on")
        out = sim.output()
        mport = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", out).group(1))
        cport = int(re.search(r"control on 127\.0\.0\.1:(\d+)", out).group(1))
        port = free_port()
        conf = {
            "role": "mine", "data_dir": d, "http": {"host": "127.0.0.1", "port": port},
            "collector": {
                "meter_maps": os.path.join(SOURCE, "conf/meters"),
                "devices": [{"name": f"gate-{u}", "model": "chint-dtsu666", "host": "127.0.0.1",
                             "port": mport, "unit": u, "poll_ms": 500, "timeout_ms": 300,
                             "gateway": "gw-substation"} for u in range(1, UNITS + 1)],
            },
            "alarms": {"tick_ms": 200,
                       "types": {"comm_interrupted": {"holdoff_s": 2, "clear_after_s": 2}}},
        }
        cpath = os.path.join(d, "coalmond.json")
        with open(cpath, "w") as f:
            json.dump(conf, f)
        daemon = c.proc([f"{BIN}/coalmond", "-c", cpath], "coalmond-gateway")
        daemon.wait_output(f"serving http://127.0.0.1:{port}/")
        base = f"http://127.0.0.1:{port}"

        def states():
            return {x["name"]: x["comm"]["state"] for x in http("GET", f"{base}/api/v1/live")[1]["devices"]}

        def all_state(want):
            s = states()
            return all(s.get(f"gate-{u}") == want for u in range(1, UNITS + 1)) and s.get("gw-substation") == want

        wait_until(lambda: all_state("online"), timeout=30, what="16 meters and their gateway online")
        devs = http("GET", f"{base}/api/v1/devices")[1]["devices"]
        gw = next(x for x in devs if x["name"] == "gw-substation")
        assert gw["kind"] == "gateway", gw

        with socket.create_connection(("127.0.0.1", cport), timeout=5) as s:
            s.sendall(b"outage 12\n")
            assert s.makefile().readline().strip() == "ok"
        wait_until(lambda: all_state("offline"), timeout=20, what="the gateway and its meters offline")

        def comm_alarms():
            body = http("GET", f"{base}/api/v1/alarms?state=active&type=comm_interrupted")[1]
            return [a["source"] for a in body["alarms"]]

        wait_until(lambda: comm_alarms() == ["gw-substation"], timeout=15, what="the gateway's alarm")
        # Hold-off and several ticks later, still the one alarm: none per meter.
        pending = http("GET", f"{base}/api/v1/alarms/pending")[1]
        assert comm_alarms() == ["gw-substation"], (comm_alarms(), pending)

        # Back: every meter read again, the gateway's alarm cleared.
        wait_until(lambda: all_state("online"), timeout=40, what="all back online after the outage")
        wait_until(lambda: comm_alarms() == [], timeout=20, what="the gateway's alarm cleared")
        body = http("GET", f"{base}/api/v1/alarms?state=all&type=comm_interrupted")[1]
        assert [a["source"] for a in body["alarms"]] == ["gw-substation"], body
        # Per-device communication figures: the outage shows as failed requests.
        stats = {x["name"]: x.get("stats") for x in http("GET", f"{base}/api/v1/devices")[1]["devices"]}
        st = stats["gate-3"]
        assert st["answers"] > 0 and st["requests"] > st["answers"], st
        rt = st["response_ms"]
        assert rt["samples"] > 0 and 0 <= rt["p50"] <= rt["p99"] <= rt["max"] < 300, st
        assert daemon.stop() == 0, daemon.output()


if __name__ == "__main__":
    main([test_one_alarm_for_a_gateway_of_sixteen_meters])
