"""Issue #3, bad input: a config with a wrong type, a missing file, an unknown
meter model, a meter that does not answer. Each gives a clear message and a
non-zero exit, or "offline" in /api/v1/live, never a crash."""
import json
import os

from harness import BIN, Cleanup, SOURCE, free_port, http, main, run, wait_until


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def config(data, port, devices, extra=""):
    return ("// test configuration\n{\n"
            f'  "data_dir": {json.dumps(data)},\n'
            f'  "http": {{"host": "127.0.0.1", "port": {port}}},\n{extra}'
            f'  "collector": {{"meter_maps": {json.dumps(SOURCE + "/conf/meters")},\n'
            f'    "devices": {json.dumps(devices, indent=2)}}}\n}}\n')


def test_missing_config_file():
    r = run([f"{BIN}/coalmond", "-c", "/nonexistent/coalmond.json"])
    assert r.returncode == 1, r
    assert "/nonexistent/coalmond.json: cannot open" in r.stderr, r.stderr


def test_wrong_type_names_file_line_and_key():
    with Cleanup() as c:
        d = c.dir()
        path = os.path.join(d, "c.json")
        write(path, config(d, free_port(), [], extra='  "log": {"level": "info", "syslog": "yes"},\n'))
        r = run([f"{BIN}/coalmond", "-c", path])
        assert r.returncode == 1, r
        assert f"{path}:5: log.syslog: expected true or false" in r.stderr, r.stderr


def test_wrong_port_type_in_a_device():
    with Cleanup() as c:
        d = c.dir()
        path = os.path.join(d, "c.json")
        dev = [{"name": "m", "model": "chint-dtsu666", "host": "127.0.0.1", "port": "502"}]
        write(path, config(d, free_port(), dev))
        r = run([f"{BIN}/coalmond", "-c", path])
        assert r.returncode == 1, r
        assert "collector.devices[0].port: expected an integer in 1..65535" in r.stderr, r.stderr
        assert f"{path}:" in r.stderr


def test_unknown_meter_model():
    with Cleanup() as c:
        d = c.dir()
        path = os.path.join(d, "c.json")
        dev = [{"name": "m", "model": "acme-9000", "host": "127.0.0.1", "port": 502}]
        write(path, config(d, free_port(), dev))
        r = run([f"{BIN}/coalmond", "-c", path])
        assert r.returncode == 1, r
        assert "collector.devices[0].model: unknown meter model 'acme-9000'" in r.stderr, r.stderr
        assert "chint-dtsu666" in r.stderr  # the message lists the models that exist


def test_meter_that_does_not_answer_is_offline():
    with Cleanup() as c:
        d = c.dir()
        path = os.path.join(d, "c.json")
        port = free_port()
        dead = free_port()  # nothing listens here
        dev = [{"name": "dead-meter", "model": "chint-dtsu666", "host": "127.0.0.1", "port": dead,
                "poll_ms": 100, "timeout_ms": 100, "offline_after": 2}]
        write(path, config(d, port, dev))
        p = c.proc([f"{BIN}/coalmond", "-c", path], "coalmond-dead-meter")
        p.wait_output(f"serving http://127.0.0.1:{port}/")

        def offline():
            status, body, _ = http("GET", f"http://127.0.0.1:{port}/api/v1/live")
            assert status == 200
            dev = body["devices"][0]
            return dev if dev["comm"]["state"] == "offline" else None

        dev = wait_until(offline, timeout=20, what="the dead meter to be offline")
        assert dev["name"] == "dead-meter"
        assert "cannot connect" in (dev["comm"]["detail"] or ""), dev
        assert all(p["value"] is None for p in dev["points"])
        assert p.stop() == 0, p.output()


def test_cli_meter_read_against_the_simulator_and_a_dead_port():
    with Cleanup() as c:
        sim = c.proc([f"{BIN}/coalmon-sim", "meter", "--port", "0", "--unit", "3"], "sim-meter")
        sim.wait_output("listening on")
        port = int(sim.output().split("listening on 127.0.0.1:")[1].split()[0])
        r = run([f"{BIN}/coalmon", "meter", "read", "--model", "chint-dtsu666", "--tcp",
                 f"127.0.0.1:{port}", "--unit", "3", "--json"])
        assert r.returncode == 0, r.stderr
        body = json.loads(r.stdout)
        values = {p["name"]: (p["value"], p["unit"]) for p in body["points"]}
        assert 200 < values["ua"][0] < 260 and values["ua"][1] == "V", values["ua"]
        assert 49.5 < values["freq"][0] < 50.5 and values["freq"][1] == "Hz"
        assert values["ep_imp"][0] > 100000 and values["ep_imp"][1] == "kWh"
        # a human-readable table too
        r = run([f"{BIN}/coalmon", "meter", "read", "--model", "chint-dtsu666", "--tcp",
                 f"127.0.0.1:{port}", "--unit", "3"])
        assert r.returncode == 0 and "ep_imp" in r.stdout and "kWh" in r.stdout, r
        # another unit id behind the same address stays silent: a timeout, exit 1
        r = run([f"{BIN}/coalmon", "meter", "read", "--model", "chint-dtsu666", "--tcp",
                 f"127.0.0.1:{port}", "--unit", "4", "--timeout", "200"])
        assert r.returncode == 1 and "timed out" in r.stderr.lower(), r
        # nothing listening: exit 1 with the address in the message
        dead = free_port()
        r = run([f"{BIN}/coalmon", "meter", "read", "--model", "chint-dtsu666", "--tcp",
                 f"127.0.0.1:{dead}"])
        assert r.returncode == 1 and f"127.0.0.1:{dead}" in r.stderr, r
        # bad usage: exit 2
        r = run([f"{BIN}/coalmon", "meter", "read", "--model", "chint-dtsu666", "--tcp", "nohost"])
        assert r.returncode == 2, r
        r = run([f"{BIN}/coalmon", "meter", "read", "--model", "acme-9000", "--tcp", "127.0.0.1:1"])
        assert r.returncode == 1 and "unknown meter model" in r.stderr, r


if __name__ == "__main__":
    main([test_missing_config_file, test_wrong_type_names_file_line_and_key,
          test_wrong_port_type_in_a_device, test_unknown_meter_model,
          test_meter_that_does_not_answer_is_offline,
          test_cli_meter_read_against_the_simulator_and_a_dead_port])
