"""Issue #4: interoperability with a Modbus implementation nobody here wrote.
mbpoll (Debian's independent Modbus master) and our collector's probe read the
same frozen simulated meters; every compared value must be equal (to mbpoll's
six printed digits). Covers float32 input and holding registers, scaled u16
and u32 counters, so our planner, byte orders and scales agree with a third
party's reading of the wire."""
import json
import re
import shutil

from harness import BIN, Cleanup, main, run


def mbpoll(port, table, ref, count=1):
    r = run(["mbpoll", "-m", "tcp", "-p", str(port), "-a", "1", "-0", "-1", "-B", "-t", table,
             "-r", str(ref), "-c", str(count), "127.0.0.1"], timeout=20)
    assert r.returncode == 0, r.stdout + r.stderr
    return [float(v) for v in re.findall(r"^\[\d+\]:\s+(\S+)$", r.stdout, re.M)]


def ours(port, model):
    r = run([f"{BIN}/coalmon", "--json", "meter", "read", "--model", model,
             "--tcp", f"127.0.0.1:{port}"])
    assert r.returncode == 0, r.stderr
    return {p["name"]: p["value"] for p in json.loads(r.stdout)["points"]}


def close(a, b):
    return abs(a - b) <= 1e-5 * max(1.0, abs(a), abs(b))


def serve(c, model):
    p = c.proc([f"{BIN}/coalmon-sim", "meter", "--port", "0", "--model", model, "--frozen", "1"],
               f"sim-{model}")
    p.wait_output("listening on")
    return int(re.search(r"listening on 127\.0\.0\.1:(\d+)", p.output()).group(1))


def test_mbpoll_and_coalmon_read_the_same_values():
    assert shutil.which("mbpoll"), "mbpoll is missing (scripts/deps.txt)"
    with Cleanup() as c:
        # Eastron SDM630: float32 ABCD input registers.
        port = serve(c, "eastron-sdm630")
        v = ours(port, "eastron-sdm630")
        theirs = mbpoll(port, "3:float", 0, 6)  # ua ub uc ia ib ic at 0,2,..,10
        assert len(theirs) == 6, theirs
        for name, t in zip(("ua", "ub", "uc", "ia", "ib", "ic"), theirs):
            assert close(v[name], t), (name, v[name], t)
        (energy,) = mbpoll(port, "3:float", 0x48)
        assert close(v["ep_imp"], energy), (v["ep_imp"], energy)
        (thd,) = mbpoll(port, "3:float", 0xF0)
        assert close(v["thd_ia"], thd), (v["thd_ia"], thd)

        # Acrel ADL400: scaled u16 holding registers and u32 energy (0.01 kWh).
        port = serve(c, "acrel-adl400")
        v = ours(port, "acrel-adl400")
        ua, ub, uc, ia = mbpoll(port, "4", 0x61, 4)
        assert close(v["ua"], ua * 0.1) and close(v["ub"], ub * 0.1) and close(v["uc"], uc * 0.1)
        assert close(v["ia"], ia * 0.01), (v["ia"], ia)
        (raw,) = mbpoll(port, "4:int", 0x0A)
        assert close(v["ep_imp"], raw * 0.01), (v["ep_imp"], raw)

        # CHINT DTSU666: float32 holding registers with scales.
        port = serve(c, "chint-dtsu666")
        v = ours(port, "chint-dtsu666")
        (ua,) = mbpoll(port, "4:float", 0x2006)
        (freq,) = mbpoll(port, "4:float", 0x2044)
        assert close(v["ua"], ua * 0.1) and close(v["freq"], freq * 0.01), (v, ua, freq)


if __name__ == "__main__":
    main([test_mbpoll_and_coalmon_read_the_same_values])
