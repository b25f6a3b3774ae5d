"""Issue #8 (county screen, UPL-4): drilling into one enterprise's received
records. A platform receives records encrypted by the openssl command line;
GET /api/v1/enterprises/{code} counts them per type,
GET /api/v1/enterprises/{code}/records lists them newest first with the type,
time, limit and offset filters; unknown codes are 404 and bad filters 400
naming the field; `coalmon enterprise show|records` print the same."""
import datetime
import json
import os

from harness import BIN, Cleanup, free_port, http, main, run
from test_uplink import BJ, MINE, MIV, MKEY, bj_now, cli, openssl, post, start, write_config

OTHER = "002002002"


def send(port, rtype, rec):
    token = openssl(MKEY, MIV, "{mineCode=%s, time=%s}" % (MINE, bj_now()))
    r = post(port, rtype, MINE, token, openssl(MKEY, MIV, json.dumps(rec, ensure_ascii=False)))[1]
    assert r["code"] == 200, (rtype, rec, r)


def get(port, path):
    return http("GET", f"http://127.0.0.1:{port}{path}")[:2]


def test_drill_into_one_enterprise():
    with Cleanup() as c:
        port = free_port()
        pdir, pconf = write_config(c, "platform", port)
        cli(pconf, "enterprise", "add", "--code", MINE, "--name", "官地煤矿", "--key", MKEY,
            "--iv", MIV, "--capacity", "1200000")
        cli(pconf, "enterprise", "add", "--code", OTHER, "--name", "西曲煤矿")
        start(c, pconf, port, "platform")
        base = datetime.datetime.now(BJ).replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=3)
        f = lambda t: t.strftime("%Y-%m-%d %H:%M:%S")
        iv = lambda k: (f(base + datetime.timedelta(minutes=15 * k)), f(base + datetime.timedelta(minutes=15 * (k + 1))))
        tons = [40.0, 42.5, 39.25]
        for k, t in enumerate(tons):
            a, b = iv(k)
            send(port, "coalOutput", {"id": f"c-{k}", "stationId": "belt-main", "startTime": a, "endTime": b, "tons": t})
        for k in range(2):
            a, b = iv(k)
            send(port, "powerGate", {"id": f"g-{k}", "gateId": "gate-total", "gateType": 1, "startTime": a,
                                     "endTime": b, "kwh": 300.0 + k})
        send(port, "alarm", {"id": "al-1", "alarmType": 1, "level": 3, "source": "capacity",
                             "raisedAt": iv(2)[1], "detail": "月产量超过年核定产能的10%"})
        # A revised record: same id, new body; it counts once and is the newest.
        a, b = iv(0)
        send(port, "coalOutput", {"id": "c-0", "stationId": "belt-main", "startTime": a, "endTime": b, "tons": 41.0})

        status, ent = get(port, f"/api/v1/enterprises/{MINE}")
        assert status == 200, ent
        assert ent["code"] == MINE and ent["name"] == "官地煤矿" and ent["silent"] is False, ent
        assert ent["counts"] == {"alarm": 1, "coalOutput": 3, "powerGate": 2}, ent
        assert ent["counts_total"] == ent["counts"] and ent["records"] == 6, ent
        assert ent["open_alarms"] == 1 and ent["month_to_date"]["month_limit_t"] == 120000, ent
        status, other = get(port, f"/api/v1/enterprises/{OTHER}")
        assert status == 200 and other["counts"] == {} and other["records"] == 0, other
        assert other["silent"] is True and other["last_contact"] is None, other

        status, body = get(port, f"/api/v1/enterprises/{MINE}/records")
        assert status == 200 and body["total"] == 6 and len(body["records"]) == 6, body
        newest = body["records"][0]
        assert (newest["type"], newest["id"], newest["revisions"]) == ("coalOutput", "c-0", 1), newest
        assert newest["body"]["tons"] == 41.0 and newest["start"] == a and newest["end"] == b, newest
        assert newest["series"] == "belt-main", newest
        received = [r["received"] for r in body["records"]]
        assert received == sorted(received, reverse=True), received
        datetime.datetime.strptime(newest["received"], "%Y-%m-%d %H:%M:%S")
        alarm = next(r for r in body["records"] if r["type"] == "alarm")
        assert alarm["body"]["detail"] == "月产量超过年核定产能的10%" and "start" not in alarm, alarm

        status, body = get(port, f"/api/v1/enterprises/{MINE}/records?type=powerGate")
        assert status == 200 and body["total"] == 2, body
        assert sorted(r["body"]["kwh"] for r in body["records"]) == [300.0, 301.0], body
        assert {r["type"] for r in body["records"]} == {"powerGate"}, body
        status, page = get(port, f"/api/v1/enterprises/{MINE}/records?type=coalOutput&limit=2&offset=2")
        assert status == 200 and page["total"] == 3 and len(page["records"]) == 1, page
        status, all3 = get(port, f"/api/v1/enterprises/{MINE}/records?type=coalOutput")
        assert page["records"][0]["id"] == all3["records"][2]["id"], (page, all3)
        # Received-time bounds: all of it since an hour ago, none from tomorrow, none before yesterday.
        since = (datetime.datetime.now(BJ) - datetime.timedelta(hours=1)).strftime("%Y-%m-%d%%20%H:%M:%S")
        tomorrow = (datetime.datetime.now(BJ) + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        yesterday = (datetime.datetime.now(BJ) - datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        assert get(port, f"/api/v1/enterprises/{MINE}/records?from={since}")[1]["total"] == 6
        assert get(port, f"/api/v1/enterprises/{MINE}/records?from={tomorrow}")[1]["total"] == 0
        assert get(port, f"/api/v1/enterprises/{MINE}/records?to={yesterday}")[1]["total"] == 0
        assert get(port, f"/api/v1/enterprises/{MINE}/records?from={yesterday}&to={tomorrow}")[1]["total"] == 6
        status, body = get(port, f"/api/v1/enterprises/{OTHER}/records")
        assert status == 200 and body["total"] == 0 and body["records"] == [], body

        # Unknown code: 404; bad filters: 400 naming the field.
        for path in ("/api/v1/enterprises/999999999", "/api/v1/enterprises/999999999/records"):
            status, body = get(port, path)
            assert status == 404 and body["field"] == "code", (path, body)
        bad = {"type=nonsense": "type", "from=yesterday": "from", "to=2026-13-40": "to",
               "limit=0": "limit", "limit=abc": "limit", "offset=-1": "offset",
               f"from={tomorrow}&to={yesterday}": "to"}
        for q, field in bad.items():
            status, body = get(port, f"/api/v1/enterprises/{MINE}/records?{q}")
            assert status == 400 and body["field"] == field, (q, body)
        status, body = get(port, f"/api/v1/enterprises/{MINE}?days=0")
        assert status == 400 and body["field"] == "days", body
        status, body = get(port, "/api/v1/enterprises/bad%20code")
        assert status == 400 and body["field"] == "code", body

        # The command line reads the same store.
        shown = json.loads(cli(pconf, "--json", "enterprise", "show", MINE))
        assert shown["counts"] == ent["counts"] and shown["name"] == "官地煤矿", shown
        out = cli(pconf, "enterprise", "show", MINE)
        assert "官地煤矿" in out and "coalOutput" in out, out
        recs = json.loads(cli(pconf, "--json", "enterprise", "records", MINE, "--type", "coalOutput"))
        assert [r["id"] for r in recs["records"]] == [r["id"] for r in all3["records"]], recs
        out = cli(pconf, "enterprise", "records", MINE, "--type", "powerGate")
        assert "301.000 kWh" in out and "2 of 2" in out, out
        r = run([f"{BIN}/coalmon", "-c", pconf, "enterprise", "records", "999999999"])
        assert r.returncode == 1 and "no enterprise" in r.stderr, (r.stdout, r.stderr)
        r = run([f"{BIN}/coalmon", "-c", pconf, "enterprise", "records", MINE, "--type", "nonsense"])
        assert r.returncode == 2 and "--type" in r.stderr, (r.stdout, r.stderr)


def test_the_shipped_mine_list_imports():
    """The specification's coal-mine codes ship with the repository (docs/uplink.md):
    every line of conf/enterprises/shanxi-coal-mines.tsv becomes an enterprise, once."""
    tsv = os.path.join(os.path.dirname(__file__), "..", "..", "conf", "enterprises", "shanxi-coal-mines.tsv")
    with open(tsv, encoding="utf-8") as f:
        codes = [line.split("\t")[2].strip() for line in f.read().splitlines()[1:] if line.strip()]
    assert len(codes) == len(set(codes)) == 963, len(codes)
    with Cleanup() as c:
        _, pconf = write_config(c, "platform", free_port())
        out = cli(pconf, "enterprise", "import", tsv)
        assert "963 enterprises added, 0 already known" in out, out
        out = cli(pconf, "enterprise", "import", tsv)
        assert "0 enterprises added, 963 already known" in out, out
        listed = json.loads(cli(pconf, "--json", "enterprise", "list"))
        got = {e["code"] for e in (listed["enterprises"] if isinstance(listed, dict) else listed)}
        assert set(codes) <= got, sorted(set(codes) - got)[:5]


if __name__ == "__main__":
    main([test_drill_into_one_enterprise, test_the_shipped_mine_list_imports])
