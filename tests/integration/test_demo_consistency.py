"""Issue #13: the demo is physically consistent. Its live meters, belt-scale
station and weighbridge and its pre-generated history come from one simulated
mine, so `coalmond --demo` raises no 产量与用电不符 (output_power, ALM-3) and
no 产量与销售库存不符 (output_sales, ALM-4); the live transport power is what
the model fitted on the history implies for the belt's flow; the scale-health
figure says 一致.

The daemon evaluates a second after start and then every 5 minutes. The CI
run checks the first evaluation and the live figures (about a minute);
COALMON_DEMO_MINUTES=N keeps the demo running N minutes and checks after
every evaluation (docs/analytics.md, "The demo")."""
import os
import time

from harness import BIN, Cleanup, free_port, http, main, wait_until

CONSISTENCY = {"output_power", "output_power_total", "output_sales"}
ALARM_TYPES = {3, 4}  # output inconsistent with power / with sales and inventory


def no_inconsistency(base):
    status, conds, _ = http("GET", f"{base}/conditions")
    assert status == 200, conds
    bad = [c for c in conds if c["type"] in CONSISTENCY]
    assert not bad, bad
    status, alarms, _ = http("GET", f"{base}/alarms")
    assert status == 200, alarms
    bad = [a for a in alarms["alarms"] if a["type"] in ALARM_TYPES]
    assert not bad, bad


def live_sample(base, last_ms):
    """(ts_ms, transport kW, belt running, flow t/h) once both reads are newer than last_ms."""
    status, live, _ = http("GET", f"{base}/live")
    assert status == 200, live
    dev = {d["name"]: {p["quantity"]: p for p in d["points"]} for d in live["devices"]}
    p, st = dev["gate-transport"].get("active_power"), dev["station-main-belt"]
    flow, running = st.get("flow"), st.get("running")
    if not p or not flow or not running or min(p["ts_ms"], flow["ts_ms"]) <= last_ms:
        return None
    return min(p["ts_ms"], flow["ts_ms"]), p["value"], running["value"] == 1, flow["value"]


def test_demo_raises_no_consistency_alarm():
    with Cleanup() as c:
        data = c.dir()
        port = free_port()
        d = c.proc([f"{BIN}/coalmond", "--demo", "--port", str(port), "--data", data,
                    "--log-level", "debug"], "coalmond-demo")
        d.wait_output(f"serving http://127.0.0.1:{port}/", timeout=90)
        d.wait_output("demo user viewer", timeout=90)  # the accounts are hashed before the loop runs
        base = f"http://127.0.0.1:{port}/api/v1"
        d.wait_output("evaluation took", timeout=60)  # the first evaluation, on the history
        status, models, _ = http("GET", f"{base}/models/current")
        assert status == 200 and models["transport"], models
        m = models["transport"]
        a, b, c_iv = m["a_kwh_per_run_hour"], m["b_kwh_per_t"], m["c_kwh_per_interval"]
        per_h = 3600 / m["interval_s"]
        # The demo mine draws about 1.85 MW at the total gate and some hundred kW
        # on the belt: the model fitted on its history says so.
        assert 60 < a < 200 and 0.2 < b < 1.0, m

        # Live transport power against what the model implies for the flow the
        # station reads at the same moment (within its residual scale, the
        # energy noise and the season's no-load change).
        within, samples, last = 0, [], 0
        for _ in range(6):
            ts, kw, running, flow = wait_until(lambda: live_sample(base, last), timeout=30,
                                               what="fresh live values")
            last = ts
            expect = (a if running else 0) + b * flow + c_iv * per_h
            tol = max(0.12 * expect, 4 * m["sigma_run_kwh"] * per_h)
            samples.append((round(kw, 1), round(expect, 1), running, round(flow, 1)))
            within += abs(kw - expect) <= tol
        assert within >= 5, samples  # a minute's edge may fall between the two reads

        no_inconsistency(base)
        status, h, _ = http("GET", f"{base}/models/health")
        assert status == 200, h
        tr = next(g for g in h["gates"] if g["gate"] == "transport")
        assert tr["verdict"] == "consistent" and tr["verdict_zh"] == "一致", tr
        assert abs(tr["ratio"] - 1) <= tr["band"] and tr["intervals"] > 100, tr

        # Long run (off in CI): every evaluation stays clean.
        minutes = float(os.environ.get("COALMON_DEMO_MINUTES", "0"))
        deadline, seen = time.monotonic() + minutes * 60, d.output().count("evaluation took")
        while time.monotonic() + 330 <= deadline:  # one more evaluation (every 300 s) fits
            wait_until(lambda: d.output().count("evaluation took") > seen, timeout=400,
                       what="an evaluation")
            seen = d.output().count("evaluation took")
            no_inconsistency(base)
            print(f"evaluation {seen}: clean; health", http("GET", f"{base}/models/health")[1]["verdict"],
                  flush=True)
        assert d.stop() == 0, d.output()


if __name__ == "__main__":
    main([test_demo_raises_no_consistency_alarm])
