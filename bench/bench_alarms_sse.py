"""bench_alarms_sse: how soon a browser learns of an alarm (issue #7, ALM-10).
Against a running coalmond (built tree, ASan or release, whichever COALMON_BIN
names): the baseline is a plain GET round trip in the same run; then the time
from a condition arriving to its "raised" event on /api/v1/events, (a) through
the condition API (evaluated at once) and (b) written straight into a producer
table by another process (found by the 500 ms evaluation timer: the figure is
at most one tick; this loop happens to insert right after a tick)."""
import json
import os
import sqlite3
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import BIN, Cleanup, free_port, http, wait_until  # noqa: E402
from test_alarms_e2e import Session, Sse, add_user  # noqa: E402

N = 20


def arrival(sse, source, timeout=10):
    found = wait_until(lambda: sse.find(lambda e: e[1] == "alarm" and e[2]["kind"] == "raised"
                                        and e[2]["alarm"]["source"] == source),
                       timeout=timeout, interval=0.002, what=f"the raising of {source}")
    return found[0][0]


def main():
    with Cleanup() as c:
        data = c.dir()
        port = free_port()
        cfg = os.path.join(data, "coalmond.json")
        with open(cfg, "w") as f:
            json.dump({"role": "mine", "data_dir": data, "http": {"host": "127.0.0.1", "port": port},
                       "alarms": {"types": {"escaping_vehicle": {"holdoff_s": 0}}}}, f)
        db = os.path.join(data, "coalmon.db")
        add_user(db, "eng", "engineer")
        d = c.proc([f"{BIN}/coalmond", "-c", cfg], "coalmond")
        d.wait_output(f"serving http://127.0.0.1:{port}/", timeout=60)
        base = f"http://127.0.0.1:{port}"
        eng = Session(base, "eng")
        sse = Sse(base + "/api/v1/events?live=0")
        wait_until(lambda: sse.find(lambda e: e[1] == "hello"), timeout=10)

        rtt = []
        for _ in range(N):
            t0 = time.time()
            http("GET", base + "/api/v1/health")
            rtt.append(time.time() - t0)
        api = []
        for i in range(N):
            t0 = time.time()
            st, body, _ = eng.call("POST", "/api/v1/alarms/conditions",
                                   {"type": "escaping_vehicle", "source": f"api-{i}", "state": "event"})
            assert st == 202, body
            api.append(arrival(sse, f"api-{i}") - t0)
        table = []
        con = sqlite3.connect(db, timeout=10)
        for i in range(N):
            t0 = time.time()
            con.execute("INSERT INTO alarm_input(ts_ms, type, source, state) VALUES (?, 9, ?, 'event')",
                        (int(t0 * 1000), f"table-{i}"))
            con.commit()
            table.append(arrival(sse, f"table-{i}") - t0)
        con.close()
        sse.close()
        d.stop()
        b = statistics.median(rtt)
        print(f"GET round trip (baseline):                   median {b * 1000:7.1f} ms")
        for name, xs in (("condition API -> stream", api), ("producer table -> stream", table)):
            m = statistics.median(xs)
            print(f"{name:<28} ({N}):  median {m * 1000:7.1f} ms  max {max(xs) * 1000:7.1f} ms"
                  f"  ({m / b:.1f}x baseline)")


if __name__ == "__main__":
    main()
