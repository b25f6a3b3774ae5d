"""Issue #5 (UPL-1..UPL-4): the uplink between real daemons on loopback.

- Interoperability with an implementation nobody here wrote (the openssl
  command line): a record it encrypts is accepted by our receiver, and what our
  sender posts decrypts with it to the same JSON, with the contract's token.
- The receiver is stopped while records are produced and started again: every
  record arrives exactly once, and the upload log shows every attempt.
- A county platform forwards what it receives to the city, content unchanged,
  re-encrypted with the county's own key.
- GET /api/v1/enterprises shows last contact, month-to-date and the gaps.
- A keys file readable by others stops the daemon from starting."""
import datetime
import http.server as httpserver
import json
import os
import re
import sqlite3
import ssl
import subprocess
import threading
import time

from harness import BIN, Cleanup, free_port, http, main, run, wait_until

MINE, MKEY, MIV = "001001001", "1234567890abcdef", "abcdef1234567890"
COUNTY, CKEY, CIV = "140100000", "countyKey0123456", "countyIv01234567"
BJ = datetime.timezone(datetime.timedelta(hours=8))


def hexkey(s):
    return s.encode().hex()


def openssl(key, iv, data, decrypt=False):
    args = ["openssl", "enc", "-aes-%d-cbc" % (len(key) * 8), "-K", hexkey(key), "-iv", hexkey(iv),
            "-base64", "-A"]
    if decrypt:
        args.insert(2, "-d")
    r = subprocess.run(args, input=data.encode(), capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def bj_now(offset_s=0):
    return (datetime.datetime.now(BJ) + datetime.timedelta(seconds=offset_s)).strftime("%Y-%m-%d %H:%M:%S")


def write_config(c, role, port, dests=(), receiver=None, keys=None, mode=0o600):
    d = c.dir()
    cfg = {"role": role, "data_dir": d, "http": {"host": "127.0.0.1", "port": port},
           "uplink": {"enabled": True, "keys_file": "keys.json", "tick_ms": 100,
                      "backoff_min_s": 1, "backoff_max_s": 2, "destinations": list(dests)}}
    if role == "mine":
        cfg["collector"] = {"meter_maps": os.environ.get("COALMON_SOURCE", "") + "/conf/meters",
                            "devices": []}
    if receiver is not None:
        cfg["uplink"]["receiver"] = receiver
    with open(os.path.join(d, "coalmond.json"), "w") as f:
        f.write("// uplink test\n" + json.dumps(cfg, ensure_ascii=False, indent=1))
    path = os.path.join(d, "keys.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        json.dump(keys or {}, f)
    os.chmod(path, mode)
    return d, os.path.join(d, "coalmond.json")


def start(c, config, port, name):
    p = c.proc([f"{BIN}/coalmond", "-c", config, "--log-level", "debug"], name)
    p.wait_output(f"serving http://127.0.0.1:{port}/")
    return p


def cli(config, *args, input=None):
    r = run([f"{BIN}/coalmon", "-c", config] + list(args), input=input)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def produce(data_dir, n, start_id=0, rtype="alarm"):
    """Queue records in the mine's outbox as a producer would (one transaction)."""
    db = sqlite3.connect(os.path.join(data_dir, "coalmon.db"), timeout=10)
    bodies = {}
    with db:
        for i in range(start_id, start_id + n):
            rec = {"id": f"a{i}", "alarmType": 3, "level": 2, "source": "model",
                   "raisedAt": bj_now(-600), "detail": f"产量与用电不符 #{i}"}
            text = json.dumps(rec, ensure_ascii=False, separators=(",", ":"))
            bodies[rec["id"]] = rec
            db.execute("INSERT INTO outbox_record(record_type, record_id, body, produced_ms)"
                       " VALUES (?, ?, ?, ?)", (rtype, rec["id"], text, int(time.time() * 1000)))
    db.close()
    return bodies


def query(data_dir, sql, args=()):
    db = sqlite3.connect(os.path.join(data_dir, "coalmon.db"), timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


class Capture(httpserver.BaseHTTPRequestHandler):
    """A stand-in platform that keeps every request and answers code 200."""
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Capture.seen.append((self.path, self.headers.get("Content-Type"), body.decode()))
        out = json.dumps({"code": 200, "message": "请求成功"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


def post(port, rtype, mine, token, data, form=False, prefix="cms"):
    url = f"http://127.0.0.1:{port}/{prefix}/api/{rtype}.do"
    if form:  # a careless encoder: '+' and '/' left as they are
        body = f"mineCode={mine}&token={token}&data={data}"
        return http("POST", url, body, {"Content-Type": "application/x-www-form-urlencoded"})
    return http("POST", url, {"mineCode": mine, "token": token, "data": data})


def test_openssl_interop_receiver_and_overview():
    with Cleanup() as c:
        port = free_port()
        pdir, pconf = write_config(c, "platform", port)
        cli(pconf, "enterprise", "add", "--code", MINE, "--name", "官地煤矿", "--key", MKEY,
            "--iv", MIV, "--capacity", "1200000")
        start(c, pconf, port, "platform")
        # Two powerGate intervals with a hole between them, and an alarm, all
        # encrypted by openssl; one in a form body.
        base = datetime.datetime.now(BJ).replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=3)
        f = lambda t: t.strftime("%Y-%m-%d %H:%M:%S")
        recs = []
        for k in (0, 2):
            a, b = base + datetime.timedelta(minutes=15 * k), base + datetime.timedelta(minutes=15 * (k + 1))
            recs.append({"id": f"g-{k}", "gateId": "gate-total", "gateType": 1, "startTime": f(a),
                         "endTime": f(b), "kwh": 120.5 + k})
        for i, rec in enumerate(recs):
            token = openssl(MKEY, MIV, "{mineCode=%s, time=%s}" % (MINE, bj_now()))
            data = openssl(MKEY, MIV, json.dumps(rec, ensure_ascii=False))
            status, body, _ = post(port, "powerGate", MINE, token, data, form=(i == 1))
            assert status == 200 and body["code"] == 200, body
        rows = query(pdir, "SELECT body FROM uplink_received WHERE ent = ? ORDER BY record_id", (MINE,))
        assert [json.loads(r[0]) for r in rows] == recs, rows
        # The same record again with a new token: acknowledged, still stored once.
        time.sleep(1.1)
        token = openssl(MKEY, MIV, "{mineCode=%s, time=%s}" % (MINE, bj_now()))
        data = openssl(MKEY, MIV, json.dumps(recs[0]))
        status, body, _ = post(port, "powerGate", MINE, token, data)
        assert body["code"] == 200, body
        assert query(pdir, "SELECT count(*) FROM uplink_received")[0][0] == 2
        # ...and the very same request replayed: 401.
        status, body, _ = post(port, "powerGate", MINE, token, data)
        assert status == 200 and body["code"] == 401 and "already used" in body["message"], body
        # A token 61 s old, a wrong dictionary value, an unknown mine: nothing stored.
        old = openssl(MKEY, MIV, "{mineCode=%s, time=%s}" % (MINE, bj_now(-61)))
        assert post(port, "powerGate", MINE, old, data)[1]["code"] == 401
        bad = dict(recs[0], id="g-bad", gateType=5)
        fresh = openssl(MKEY, MIV, "{mineCode=%s, time=%s}" % (MINE, bj_now()))
        r = post(port, "powerGate", MINE, fresh, openssl(MKEY, MIV, json.dumps(bad)))[1]
        assert r["code"] == 400 and "gateType" in r["message"], r
        r = post(port, "powerGate", "009009009", fresh, data)[1]
        assert r["code"] == 401, r
        status, body, _ = http("POST", f"http://127.0.0.1:{port}/cms/api/powerGate.do", {"mineCode": MINE, "token": fresh})
        assert status == 200 and body["code"] == 400 and "data" in body["message"], body
        assert query(pdir, "SELECT count(*) FROM uplink_received")[0][0] == 2  # nothing stored
        # Output and an open alarm, for the overview.
        a, b = base + datetime.timedelta(minutes=15), base + datetime.timedelta(minutes=30)
        extra = [("coalOutput", {"id": "c-1", "stationId": "belt-main", "startTime": f(a), "endTime": f(b),
                                 "tons": 41.5}),
                 ("alarm", {"id": "al-1", "alarmType": 1, "level": 3, "source": "capacity",
                            "raisedAt": f(b), "detail": "月产量超过年核定产能的10%"})]
        for rtype, rec in extra:
            token = openssl(MKEY, MIV, "{mineCode=%s, time=%s}" % (MINE, bj_now()))
            r = post(port, rtype, MINE, token, openssl(MKEY, MIV, json.dumps(rec, ensure_ascii=False)))[1]
            assert r["code"] == 200, r
        # The overview: contact, not silent, output, capacity, alarms, and the hole named.
        status, body, _ = http("GET", f"http://127.0.0.1:{port}/api/v1/enterprises")
        assert status == 200, body
        ent = next(e for e in body["enterprises"] if e["code"] == MINE)
        assert ent["last_contact"] and ent["silent"] is False, ent
        assert ent["month_to_date"]["month_limit_t"] == 120000, ent
        assert ent["latest_output"] == {"startTime": f(a), "endTime": f(b), "tons": 41.5}, ent
        if a.month == datetime.datetime.now(BJ).month:
            assert ent["month_to_date"]["tons"] == 41.5, ent
        assert ent["open_alarms"] == 1, ent
        hole = (f(base + datetime.timedelta(minutes=15)), f(base + datetime.timedelta(minutes=30)))
        assert any((g["from"], g["to"]) == hole for g in ent["gaps"]), ent["gaps"]


def test_sender_posts_what_openssl_decrypts():
    Capture.seen = []
    srv = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with Cleanup() as c:
            port = free_port()
            dest = {"name": "capture", "url": f"http://127.0.0.1:{srv.server_address[1]}",
                    "prefix": "cms", "mine_code": MINE, "backfill": True, "types": ["alarm", "riskInfo"]}
            mdir, mconf = write_config(c, "mine", port, [dest], keys={"capture": {"key": MKEY, "iv": MIV}})
            cli(mconf, "db", "migrate")
            sent = produce(mdir, 5)
            start(c, mconf, port, "mine")
            # A dual-prevention record handed over by a mine-side system goes to /scyf/.
            risk = {"id": "r1", "riskPointId": "p1", "object": "瓦斯", "checkProject": "上隅角",
                    "riskDesc": "上隅角瓦斯超限", "riskType": "15", "riskLevel": "3"}
            cli(mconf, "uplink", "put", "riskInfo", "-", input=json.dumps(risk, ensure_ascii=False))
            bad = dict(risk, id="r2", riskLevel="9")
            r = run([f"{BIN}/coalmon", "-c", mconf, "uplink", "put", "riskInfo", "-"], input=json.dumps(bad))
            assert r.returncode == 1 and "riskLevel" in r.stderr, r
            wait_until(lambda: len(Capture.seen) >= 6, timeout=30, what="six posts")
            assert len(Capture.seen) == 6, Capture.seen
            scyf = [x for x in Capture.seen if x[0] == "/scyf/api/riskInfo.do"]
            assert len(scyf) == 1 and json.loads(openssl(MKEY, MIV, json.loads(scyf[0][2])["data"], decrypt=True)) == risk
            alarms = [x for x in Capture.seen if x[0] == "/cms/api/alarm.do"]
            assert len(alarms) == 5, Capture.seen
            for path, ctype, raw in alarms:
                assert ctype.startswith("application/json"), ctype
                body = json.loads(raw)
                assert set(body) == {"mineCode", "token", "data"} and body["mineCode"] == MINE
                assert "\n" not in body["data"] and re.fullmatch(r"[A-Za-z0-9+/]+=*", body["data"])
                rec = json.loads(openssl(MKEY, MIV, body["data"], decrypt=True))
                assert rec == sent[rec["id"]], rec
                tok = openssl(MKEY, MIV, body["token"], decrypt=True)
                m = re.fullmatch(r"\{mineCode=(\d+), time=(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\}", tok)
                assert m and m.group(1) == MINE, tok
                t = datetime.datetime.strptime(m.group(2), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BJ)
                assert abs((datetime.datetime.now(BJ) - t).total_seconds()) < 120, tok
            # The CLI's token is the same text, encrypted the same way.
            out = cli(mconf, "uplink", "token", "--dest", "capture", "--time", "2026-11-23 20:00:00")
            assert openssl(MKEY, MIV, out.strip(), decrypt=True) == "{mineCode=001001001, time=2026-11-23 20:00:00}"
            st = json.loads(cli(mconf, "--json", "uplink", "status"))
            assert st[0]["destination"] == "capture" and st[0]["delivered"] == 6, st
    finally:
        srv.shutdown()


def test_receiver_down_then_back_every_record_once():
    with Cleanup() as c:
        pport, mport = free_port(), free_port()
        pdir, pconf = write_config(c, "platform", pport)
        cli(pconf, "enterprise", "add", "--code", MINE, "--name", "官地煤矿", "--key", MKEY, "--iv", MIV)
        dest = {"name": "county", "url": f"http://127.0.0.1:{pport}", "mine_code": MINE, "batch": True,
                "batch_max": 7, "parallel": 3, "backfill": True}
        mdir, mconf = write_config(c, "mine", mport, [dest], keys={"county": {"key": MKEY, "iv": MIV}})
        cli(mconf, "db", "migrate")
        start(c, mconf, mport, "mine")  # the platform is not running yet
        sent = produce(mdir, 40)
        ours_queued = "SELECT count(*) FROM uplink_delivery d JOIN outbox_record o ON o.seq = d.seq" \
                      " WHERE o.record_id LIKE 'a%' AND d.state = 'pending'"
        wait_until(lambda: query(mdir, ours_queued)[0][0] == 40 and
                   query(mdir, "SELECT count(*) FROM uplink_log WHERE code = 0 AND http_status = 0")[0][0] >= 2,
                   timeout=30, what="failed attempts while the receiver is down")
        st = json.loads(cli(mconf, "--json", "uplink", "status"))
        # (the mine's own builders and alarms may have queued records of their own)
        assert st[0]["pending"] >= 40 and st[0]["delivered"] == 0 and st[0]["last_attempt"]["code"] == 0, st
        platform = start(c, pconf, pport, "platform")
        sent.update(produce(mdir, 20, start_id=40))
        wait_until(lambda: query(pdir, "SELECT count(*) FROM uplink_received WHERE record_id LIKE 'a%'")[0][0] == 60,
                   timeout=60, what="all 60 records at the platform")
        wait_until(lambda: json.loads(cli(mconf, "--json", "uplink", "status"))[0]["pending"] == 0,
                   timeout=30, what="an empty queue")
        rows = query(pdir, "SELECT record_id, body, revisions FROM uplink_received WHERE record_id LIKE 'a%'")
        assert sorted(r[0] for r in rows) == sorted(sent) and all(r[2] == 0 for r in rows)
        assert all(json.loads(r[1]) == sent[r[0]] for r in rows)
        delivered = query(mdir, "SELECT sum(n_records), max(n_records) FROM uplink_log WHERE outcome = 'delivered'")[0]
        assert delivered[0] >= 60 and 1 < delivered[1] <= 7, delivered  # in batches
        ours = query(mdir, "SELECT count(*), sum(state = 'sent') FROM uplink_delivery d JOIN outbox_record o"
                           " ON o.seq = d.seq WHERE o.record_id LIKE 'a%'")[0]
        assert ours == (60, 60), ours  # each record once
        log = json.loads(cli(mconf, "--json", "uplink", "log", "--limit", "1000"))
        assert any(e["code"] == 0 for e in log) and any(e["code"] == 200 for e in log)
        assert platform.stop() == 0


def test_county_forwards_to_city_unchanged():
    with Cleanup() as c:
        cport, kport, mport = free_port(), free_port(), free_port()
        cdir, cconf = write_config(c, "platform", cport)
        cli(cconf, "enterprise", "add", "--code", COUNTY, "--name", "县平台", "--kind", "platform",
            "--key", CKEY, "--iv", CIV)
        up = {"name": "city", "url": f"http://127.0.0.1:{cport}", "mine_code": COUNTY, "backfill": True}
        kdir, kconf = write_config(c, "platform", kport, [up], receiver={"forward_to": ["city"]},
                                   keys={"city": {"key": CKEY, "iv": CIV}})
        cli(kconf, "enterprise", "add", "--code", MINE, "--name", "官地煤矿", "--key", MKEY, "--iv", MIV)
        dest = {"name": "county", "url": f"http://127.0.0.1:{kport}", "mine_code": MINE, "backfill": True}
        mdir, mconf = write_config(c, "mine", mport, [dest], keys={"county": {"key": MKEY, "iv": MIV}})
        cli(mconf, "db", "migrate")
        sent = produce(mdir, 3)
        start(c, cconf, cport, "city")
        start(c, kconf, kport, "county")
        start(c, mconf, mport, "mine")
        # (The county's own records, e.g. its "parameter modified" alarm for the
        # enterprise it registered, reach the city too; the mine's are counted here.)
        wait_until(lambda: query(cdir, "SELECT count(*) FROM uplink_received WHERE ent = ? AND record_id LIKE 'a%'", (MINE,))[0][0] == 3,
                   timeout=60, what="the mine's three records at the city")
        rows = query(cdir, "SELECT ent, via, record_id, body FROM uplink_received WHERE ent = ? AND record_id LIKE 'a%'", (MINE,))
        for ent, via, rid, body in rows:
            assert (ent, via) == (MINE, COUNTY), (ent, via)
            assert json.loads(body) == sent[rid]
        names = {e["code"] for e in http("GET", f"http://127.0.0.1:{cport}/api/v1/enterprises")[1]["enterprises"]}
        assert {MINE, COUNTY} <= names, names


def test_keys_readable_by_others_refuse_start():
    with Cleanup() as c:
        port = free_port()
        dest = {"name": "county", "url": "http://127.0.0.1:9", "mine_code": MINE}
        d, conf = write_config(c, "mine", port, [dest], keys={"county": {"key": MKEY, "iv": MIV}}, mode=0o644)
        r = run([f"{BIN}/coalmond", "-c", conf], timeout=30)
        assert r.returncode != 0, r
        assert "readable by group or others" in (r.stdout + r.stderr), r.stderr


def test_https_verifies_the_certificate():
    """HTTPS through OpenSSL: delivered when the certificate chains to ca_file and
    names the host; refused (nothing delivered, attempt logged) when it does not."""
    Capture.seen = []
    with Cleanup() as c:
        d = c.dir()
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                            "-keyout", key, "-out", cert], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        other = os.path.join(d, "other.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=localhost", "-keyout", os.path.join(d, "k2.pem"), "-out", other],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        srv = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            url = f"https://localhost:{srv.server_address[1]}"
            good = {"name": "good", "url": url, "mine_code": MINE, "backfill": True, "ca_file": cert,
                    "types": ["alarm"]}
            bad = {"name": "bad", "url": url, "mine_code": MINE, "backfill": True, "ca_file": other,
                   "types": ["alarm"]}
            port = free_port()
            keys = {"good": {"key": MKEY, "iv": MIV}, "bad": {"key": MKEY, "iv": MIV}}
            mdir, mconf = write_config(c, "mine", port, [good, bad], keys=keys)
            cli(mconf, "db", "migrate")
            sent = produce(mdir, 2)
            start(c, mconf, port, "mine")
            wait_until(lambda: len(Capture.seen) >= 2, timeout=30, what="two posts over HTTPS")
            got = {json.loads(openssl(MKEY, MIV, json.loads(b)["data"], decrypt=True))["id"] for _, _, b in Capture.seen}
            assert got == set(sent), got
            wait_until(lambda: query(mdir, "SELECT count(*) FROM uplink_log WHERE dest = 'bad' AND code = 0")[0][0] >= 1,
                       timeout=30, what="a refused attempt toward the untrusted certificate")
            st = {s["destination"]: s for s in json.loads(cli(mconf, "--json", "uplink", "status"))}
            assert st["good"]["delivered"] == 2 and st["bad"]["delivered"] == 0 and st["bad"]["pending"] == 2, st
            assert len(Capture.seen) == 2  # nothing reached the server through the bad link
        finally:
            srv.shutdown()


def test_demo_reports_to_its_own_platform():
    """coalmond --demo: the mine's records reach the receiver on the same server."""
    with Cleanup() as c:
        data, port = c.dir(), free_port()
        d = c.proc([f"{BIN}/coalmond", "--demo", "--port", str(port), "--data", data], "demo")
        d.wait_output(f"serving http://127.0.0.1:{port}/")
        base = f"http://127.0.0.1:{port}"

        def delivered():
            st = http("GET", base + "/api/v1/uplink/status")[1]["destinations"]
            return st and st[0]["delivered"] > 0 and st[0]
        st = wait_until(delivered, timeout=60, what="records delivered to the demo platform")
        assert st["destination"] == "demo-platform" and st["aside"] == 0, st
        ents = http("GET", base + "/api/v1/enterprises")[1]["enterprises"]
        demo = next(e for e in ents if e["code"] == MINE)
        assert demo["last_contact"] and not demo["silent"], demo
        log = http("GET", base + "/api/v1/uplink/log?limit=5")[1]["log"]
        assert log and all(e["destination"] == "demo-platform" for e in log), log
        assert d.stop() == 0


if __name__ == "__main__":
    main([test_keys_readable_by_others_refuse_start, test_openssl_interop_receiver_and_overview,
          test_sender_posts_what_openssl_decrypts, test_receiver_down_then_back_every_record_once,
          test_county_forwards_to_city_unchanged, test_https_verifies_the_certificate,
          test_demo_reports_to_its_own_platform])
