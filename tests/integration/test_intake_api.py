"""Issue #9 (ACQ-3, ACQ-6, ESC-1, ESC-2, RPT-2) over HTTP on a real coalmond:
API keys, a 400 naming the field for every ticket rule, batches all or
nothing, idempotence and corrections, exits matched to tickets despite OCR
errors, a true escape raised as an event within the bounded wait, the mine
system's figures kept apart from ours, and RPT-2 reports as JSON and CSV."""
import datetime
import json
import os
import sqlite3

from harness import BIN, BJ, Cleanup, bj, free_port, http, main, run, wait_until

KEY = "k-weighbridge-test-0001"


def ticket(tid, plate="晋K1234挂", gross_ago=600, net=35.2, **over):
    t = {"ticketId": tid, "plate": plate, "vehicleType": "半挂牵引车", "material": "原煤",
         "direction": "out", "tareTime": bj(-gross_ago - 1800), "grossTime": bj(-gross_ago),
         "gross": round(15.0 + net, 2), "tare": 15.0, "net": net, "weighbridgeId": "WB1",
         "operator": "王强", "contractId": "HT-1", "photoFront": f"{tid}_f.jpg"}
    t.update(over)
    return {k: v for k, v in t.items() if v is not None}


class Daemon:
    def __init__(self, c):
        self.data = c.dir()
        self.port = free_port()
        self.cfg = os.path.join(self.data, "coalmond.json")
        with open(self.cfg, "w") as f:
            json.dump({"role": "mine", "data_dir": self.data,
                       "http": {"host": "127.0.0.1", "port": self.port},
                       "intake": {"api_keys": [{"name": "weighbridge-1", "key": KEY}],
                                  "weighbridges": [{"id": "WB1", "min_t": 1, "max_t": 100}],
                                  "matching": {"decide_after_s": 1, "interval_s": 1}}}, f)
        self.p = c.proc([f"{BIN}/coalmond", "-c", self.cfg], "coalmond")
        self.p.wait_output(f"serving http://127.0.0.1:{self.port}/")
        self.url = f"http://127.0.0.1:{self.port}/api/v1"

    def post(self, path, body, key=KEY):
        return http("POST", self.url + path, body, headers={"X-Api-Key": key} if key else {})[:2]

    def get(self, path):
        return http("GET", self.url + path)[:2]

    def cli(self, *args):
        return run([f"{BIN}/coalmon", "-c", self.cfg, *args])

    def db(self):
        return sqlite3.connect(os.path.join(self.data, "coalmon.db"))


def test_keys_rules_batches_idempotence_corrections():
    with Cleanup() as c:
        d = Daemon(c)
        assert d.post("/weighbridge/tickets", ticket("T0"), key=None) == (401, {"error": "API key required", "field": "X-Api-Key"})
        assert d.post("/weighbridge/tickets", ticket("T0"), key="wrong")[0] == 401
        status, body, _ = http("POST", d.url + "/weighbridge/tickets", "{not json", headers={"X-Api-Key": KEY})
        assert status == 400 and body["field"] == "body", body

        rules = [  # (change, field) — one per validation rule of ACQ-6
            ({"ticketId": None}, "ticketId"),
            ({"plate": "A12345"}, "plate"),           # no province character
            ({"plate": "晋A1234"}, "plate"),           # too short
            ({"plate": "晋A12345挂"}, "plate"),         # trailer plates have 4 + 挂
            ({"material": "黄金"}, "material"),
            ({"direction": "both"}, "direction"),
            ({"grossTime": bj(3600)}, "grossTime"),   # in the future
            ({"tareTime": bj(-10)}, "grossTime"),     # out: tare after gross
            ({"direction": "in"}, "tareTime"),        # in: tare must come after gross
            ({"tareTime": "2026/11/23 10:00"}, "tareTime"),
            ({"weighbridgeId": "WB7"}, "weighbridgeId"),
            ({"gross": 120.0, "net": 105.0}, "gross"),  # above WB1's 100 t
            ({"tare": 0.5, "gross": 35.7, "net": 35.2}, "tare"),
            ({"net": 36.0}, "net"),                   # gross - tare = 35.2
            ({"gross": "50.2"}, "gross"),             # a number, not text
        ]
        for change, field in rules:
            t = ticket("T-rule")
            t.update(change)
            t = {k: v for k, v in t.items() if v is not None}
            status, body = d.post("/weighbridge/tickets", t)
            assert status == 400 and body["field"] == field, (change, status, body)
            assert body["index"] == 0 and body["error"], body

        # A batch is all or nothing: the good first ticket is not stored either.
        status, body = d.post("/weighbridge/tickets", [ticket("T1"), ticket("T2", net=40.0, gross=50.0)])
        assert status == 400 and body == {"error": body["error"], "field": "net", "index": 1}, body
        assert d.get("/weighbridge/tickets")[1] == []

        status, body = d.post("/weighbridge/tickets", {"tickets": [ticket("T1"), ticket("T2", plate="晋AD12345")]})
        assert status == 200 and (body["created"], body["corrected"], body["unchanged"]) == (2, 0, 0), body
        status, body = d.post("/weighbridge/tickets", [ticket("T1"), ticket("T2", plate="晋AD12345")])
        assert (body["created"], body["unchanged"]) == (0, 2), body
        status, listed = d.get("/weighbridge/tickets")
        assert sorted(t["ticketId"] for t in listed) == ["T1", "T2"], listed

        # A correction: both versions kept, the change visible and audited.
        status, body = d.post("/weighbridge/tickets", ticket("T1", tare=15.4, net=34.8, gross=50.2))
        assert body["corrected"] == 1, body
        status, t1 = d.get("/weighbridge/tickets/T1")
        assert status == 200 and t1["version"] == 2 and t1["net"] == 34.8, t1
        assert t1["versions"][0]["ticket"]["net"] == 35.2
        assert set(t1["versions"][1]["changes"]) == {"tare", "net"}, t1["versions"][1]
        assert t1["versions"][1]["source"] == "weighbridge-1"
        assert d.get("/weighbridge/tickets/nope")[0] == 404
        db = d.db()
        assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'ticket.correct' AND target = 'T1'").fetchone()[0] == 1
        body = json.loads(db.execute("SELECT body FROM outbox_record WHERE record_type = 'weighTicket'"
                                     " AND record_id = 'T1'").fetchone()[0])
        assert body["net"] == 34.8 and body["plate"] == "晋K1234挂" and body["photos"] == "T1_f.jpg", body
        db.close()
        assert d.p.stop() == 0, d.p.output()


def test_exits_matched_despite_ocr_and_escape_raised():
    with Cleanup() as c:
        d = Daemon(c)
        r = d.cli("exit-point", "add", "E1", "--name", "主井口出口", "--ip", "192.168.20.31")
        assert r.returncode == 0, r.stderr
        assert d.cli("exit-point", "add", "E2", "--name", "x", "--ip", "999.1.1.1").returncode == 2
        status, pts = d.get("/exits/points")
        assert [p["code"] for p in pts] == ["E1"] and pts[0]["cameraIp"] == "192.168.20.31"
        # Managing points needs a session (engineer), not a source key.
        assert http("POST", d.url + "/exits/points", {"code": "E9", "name": "x"}, headers={"X-Api-Key": KEY})[0] == 401

        assert d.post("/weighbridge/tickets", ticket("M1", plate="晋K8D025", gross_ago=300))[0] == 200
        status, body = d.post("/exits/captures", {"pointId": "E1", "plate": "晋KB0025", "captureTime": bj(-10),
                                                  "load": "loaded", "photos": ["c1.jpg"]})
        assert status == 200 and body["matching"]["matched"] == 1, body
        status, caps = d.get("/exits/captures")
        assert caps[0]["state"] == "matched" and caps[0]["ticketId"] == "M1" and caps[0]["confidence"] == 0.9, caps

        status, body = d.post("/exits/captures", {"pointId": "E7", "plate": "晋A1", "captureTime": bj(-5)})
        assert status == 400 and body["field"] == "pointId", body
        status, body = d.post("/exits/captures", [{"pointId": "E1", "plate": "陕H77777", "captureTime": bj(-5),
                                                   "load": "loaded", "captureId": "ESC-1"}])
        assert status == 200, body
        escapes = wait_until(lambda: d.get("/exits/escapes")[1], timeout=20, what="the escape event")
        assert escapes[0]["plate"] == "陕H77777" and escapes[0]["captureId"] == "ESC-1", escapes
        assert "无匹配的出场过磅单" in escapes[0]["detail"]
        db = d.db()
        rec = json.loads(db.execute("SELECT body FROM outbox_record WHERE record_type = 'exitCapture'"
                                    " AND record_id = 'ESC-1'").fetchone()[0])
        assert rec["escape"] == 1 and rec["pointId"] == "E1", rec
        db.close()
        r = d.cli("--json", "capture", "escapes")
        assert r.returncode == 0 and json.loads(r.stdout)[0]["captureId"] == "ESC-1", r.stdout + r.stderr
        assert d.p.stop() == 0, d.p.output()


def test_sales_inventory_figures_and_reports():
    with Cleanup() as c:
        d = Daemon(c)
        today = datetime.datetime.now(BJ).strftime("%Y-%m-%d")
        assert d.post("/weighbridge/tickets", [ticket("S1", net=30.0, gross=45.0), ticket("S2", net=40.0, gross=55.0),
                                               ticket("G1", material="矸石", net=20.0, gross=35.0, contractId=None)])[0] == 200
        status, body = d.post("/sales/rail", {"batchId": "R1", "trainNo": "K1", "wagons": 10, "coalType": "raw",
                                              "tons": 600, "loadedAt": bj(-60), "contractId": "HT-1"})
        assert status == 200 and body["created"] == 1, body
        status, body = d.post("/sales/rail", {"batchId": "R1", "wagons": 10, "coalType": "raw", "tons": 650,
                                              "loadedAt": bj(-60), "contractId": "HT-1"})
        assert status == 409 and body["field"] == "batchId", body
        status, body = d.post("/inventory/surveys", {"surveyedAt": bj(-120), "stockpile": "1号煤场",
                                                     "coalType": "钻石", "tons": 100})
        assert status == 400 and body["field"] == "coalType", body
        assert d.post("/inventory/surveys", {"surveyedAt": bj(-120), "stockpile": "1号煤场", "coalType": "原煤",
                                             "tons": 5200})[0] == 200
        assert d.post("/contracts", {"contractId": "HT-1", "buyer": "晋能电力", "coalType": "raw",
                                     "quantity": 10000})[0] == 200
        status, contracts = d.get("/contracts")
        assert contracts[0]["delivered"] == 670, contracts  # 30 + 40 by truck, 600 by rail

        status, body = d.post("/sales/summaries", {"period": "day", "date": today, "output": 999, "truckSales": 71,
                                                   "railSales": 600, "inventory": 5100})
        assert status == 200 and body["created"] == 1, body
        status, body = d.post("/sales/summaries", {"period": "week", "date": today, "output": 1, "truckSales": 1,
                                                   "railSales": 1, "inventory": 1})
        assert status == 400 and body["field"] == "period", body
        status, fig = d.get("/sales/figures")
        assert status == 200, fig
        day = fig["day"]
        assert day["truckSales"] == 70 and day["trucks"] == 2 and day["railSales"] == 600, day
        assert day["inventory"] == 5200 and day["outputRaw"] == 0, day
        assert day["reported"]["output"] == 999 and day["reported"]["truckSales"] == 71, day  # kept apart
        assert fig["month"]["truckSales"] >= 70 and fig["year"]["railSales"] >= 600
        assert d.get("/sales/figures?at=yesterday")[1]["field"] == "at"

        status, rep = d.get("/reports/rpt2/material")
        assert status == 200 and rep["columns"][:3] == ["material", "materialName", "direction"], rep
        names = {i["materialName"]: i for i in rep["items"]}
        assert names["原煤"]["net"] == 70 and names["矸石"]["vehicles"] == 1, rep["items"]
        status, csv, headers = http("GET", d.url + "/reports/rpt2/outbound?format=csv")
        assert status == 200 and headers["Content-Type"].startswith("text/csv"), (status, csv)
        lines = csv.lstrip("\ufeff").splitlines()
        assert lines[0] == "mode,coalType,contractId,buyer,vehicles,net", lines
        assert "rail,raw,HT-1,晋能电力,10,600" in lines, lines
        assert d.get("/reports/rpt2/bogus")[0] == 400
        assert d.get("/reports/rpt2/material?format=xml")[1]["field"] == "format"
        assert d.get("/reports/rpt2/material?from=2026-13-01")[1]["field"] == "from"
        assert d.p.stop() == 0, d.p.output()


if __name__ == "__main__":
    main([test_keys_rules_batches_idempotence_corrections, test_exits_matched_despite_ocr_and_escape_raised,
          test_sales_inventory_figures_and_reports])
