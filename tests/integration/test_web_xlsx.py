"""RPT-1, RPT-2 (QRY-1/QRY-2 downloads): `?format=xlsx` on
/api/v1/reports/rpt1/{kind} and /api/v1/reports/rpt2/{kind} answers the very
workbook `coalmon ... --xlsx` writes. Each download is checked for its status,
type and attachment name, opened with zipfile + xml.etree, and its cells are
compared with the JSON of the same report and with the CLI's workbook; an
unknown format is a 400 naming "format"; the same login as the JSON form is
needed; nothing is left in the data folder's tmp/, also after a failure."""
import json
import os
import re
import urllib.error
import urllib.request
import zipfile

from harness import BIN, SOURCE, Cleanup, free_port, http, main, run
from test_report_xlsx import bj, history_csv, read_sheet

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MINE = "晋能测试矿"
RPT1 = {"output": "产量报表", "pts": "产运销存报表", "energy": "能耗报表"}
RPT2 = {"output-summary": "产量汇总表", "output-detail": "产量明细表", "material": "物料汇总表",
        "outbound": "外运汇总表", "vehicles": "车辆进出汇总表"}


def fetch(url, cookie=None):
    """(status, raw body, headers): the workbook is binary, harness.http decodes text."""
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def check_workbook(path, report, title, filename_re, status, headers):
    """A valid workbook of report's rows (row 3 on), titled with the mine and title."""
    assert status == 200, status
    assert headers["Content-Type"] == XLSX_TYPE, headers["Content-Type"]
    disp = headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="' + filename_re + r'"', disp), disp
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert "xl/workbook.xml" in names and "xl/worksheets/sheet1.xml" in names, names
        assert z.testzip() is None
    rows, pane = read_sheet(path)
    assert pane is not None and pane.get("ySplit") == "2", pane
    head = rows[1][0][0]
    assert head.startswith(f"{MINE} {title}") and "北京时间" in head, head
    assert len(rows[2]) == len(report["columns"]), (rows[2], report["columns"])
    assert report["rows"], report
    for n, line in enumerate(report["rows"]):
        cells = rows[3 + n]
        for i, want in enumerate(line):
            if want is None or want == "":   # an empty cell, as in the CSV
                assert i not in cells, (n, i, cells.get(i))
            elif isinstance(want, str):
                assert cells[i] == (want, False, None), (n, i, cells.get(i), want)
            else:
                val, is_num, _ = cells[i]
                assert is_num and abs(val - want) <= 1e-9 * max(1.0, abs(want)), \
                    (report["columns"][i], n, val, want)
    return rows


def same_cells(web_rows, cli_rows):
    """The API's workbook is the CLI's, but for the generation time in the title."""
    strip = lambda rows: {r: c for r, c in rows.items() if r != 1}
    assert strip(web_rows) == strip(cli_rows), (web_rows, cli_rows)
    gen = re.compile(r"生成时间 .*")
    assert gen.sub("", web_rows[1][0][0]) == gen.sub("", cli_rows[1][0][0])


def make_data(d, db):
    hist = os.path.join(d, "history.csv")
    history_csv(hist)
    r = run([f"{BIN}/coalmon", "--db", db, "import", "history", hist], timeout=120)
    assert r.returncode == 0, r.stderr
    tickets = os.path.join(d, "tickets.csv")
    with open(tickets, "w") as f:
        f.write("ticketId,plate,material,direction,tareTime,grossTime,gross,tare,net,weighbridgeId,operator\n")
        for i in range(9):
            tare, net, ago = 15.5 + i / 10, 30.25 + i, 3600 * (i + 2)
            f.write(f"T{i},晋A1234{i},{'原煤' if i % 3 else '块煤'},out,{bj(-ago - 1800)},{bj(-ago)},"
                    f"{tare + net:.2f},{tare:.2f},{net:.2f},WB1,王强\n")
    r = run([f"{BIN}/coalmon", "--db", db, "import", "tickets", tickets], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([f"{BIN}/coalmon", "--db", db, "user", "add", "li", "--role", "viewer"], input="Diaodu-2026\n")
    assert r.returncode == 0, r.stderr


def test_reports_as_workbooks():
    with Cleanup() as c:
        d = c.dir()
        db = os.path.join(d, "coalmon.db")
        make_data(d, db)
        port = free_port()
        conf = os.path.join(d, "coalmond.json")
        with open(conf, "w") as f:
            json.dump({"role": "mine", "data_dir": d, "mine_name": MINE,
                       "http": {"host": "127.0.0.1", "port": port, "anonymous_read": False},
                       "collector": {"meter_maps": os.path.join(SOURCE, "conf", "meters"), "devices": []}}, f)
        p = c.proc([f"{BIN}/coalmond", "-c", conf], "coalmond-xlsx")
        p.wait_output(f"serving http://127.0.0.1:{port}/")
        base = f"http://127.0.0.1:{port}/api/v1/reports"
        rpt1_q = "period=day&from=2026-03-01&to=2026-03-06"
        from_t, to_t = bj(-3 * 86400), bj(60)
        rpt2_q = f"from={from_t[:10]}%20{from_t[11:]}&to={to_t[:10]}%20{to_t[11:]}"

        # Reads are closed (http.anonymous_read false): the workbook as the JSON.
        for q in (f"/rpt1/output?{rpt1_q}", f"/rpt2/material?{rpt2_q}"):
            assert fetch(base + q)[0] == 401
            assert fetch(base + q + "&format=xlsx")[0] == 401
        s, body, h = http("POST", f"http://127.0.0.1:{port}/api/v1/session",
                          {"name": "li", "password": "Diaodu-2026"})
        assert s == 200, body
        cookie = h["Set-Cookie"].split(";")[0]

        def get_json(q):
            s, raw, _ = fetch(base + q, cookie)
            assert s == 200, raw
            return json.loads(raw)

        def get_xlsx(q, name):
            s, raw, h = fetch(base + q + "&format=xlsx", cookie)
            assert s == 200, raw[:300]
            path = os.path.join(d, name)
            with open(path, "wb") as f:
                f.write(raw)
            return path, s, h

        cli = [f"{BIN}/coalmon", "-c", conf]
        for kind, title in RPT1.items():
            report = get_json(f"/rpt1/{kind}?{rpt1_q}")
            path, s, h = get_xlsx(f"/rpt1/{kind}?{rpt1_q}", f"web-{kind}.xlsx")
            rows = check_workbook(path, report, title, rf"rpt1-{kind}-day-2026-03-01\.xlsx", s, h)
            assert len(report["rows"]) == 5, report["rows"]
            out = os.path.join(d, f"cli-{kind}.xlsx")
            r = run(cli + ["report", kind, "--period", "day", "--from", "2026-03-01", "--to", "2026-03-06",
                           "--xlsx", out])
            assert r.returncode == 0, r.stderr
            same_cells(rows, read_sheet(out)[0])
        # Another period in the name; the CSV's figures are the workbook's.
        s, csv_raw, _ = fetch(f"{base}/rpt1/output?period=month&from=2026-03-01&to=2026-04-01&format=csv", cookie)
        assert s == 200 and b"2026-03" in csv_raw, csv_raw
        path, s, h = get_xlsx("/rpt1/output?period=month&from=2026-03-01&to=2026-04-01", "month.xlsx")
        rows = check_workbook(path, get_json("/rpt1/output?period=month&from=2026-03-01&to=2026-04-01"),
                              "产量报表", r"rpt1-output-month-2026-03-01\.xlsx", s, h)
        csv_tons = float(csv_raw.decode("utf-8-sig").splitlines()[1].split(",")[2])
        assert abs(rows[3][2][0] - csv_tons) < 1e-6, (rows[3], csv_tons)

        for kind, title in RPT2.items():
            report = get_json(f"/rpt2/{kind}?{rpt2_q}")
            path, s, h = get_xlsx(f"/rpt2/{kind}?{rpt2_q}", f"web-{kind}.xlsx")
            rows = check_workbook(path, report, title, rf"rpt2-{kind}-\d{{4}}-\d\d-\d\d\.xlsx", s, h)
            out = os.path.join(d, f"cli-{kind}.xlsx")
            r = run(cli + ["sales", "report", kind, "--from", from_t, "--to", to_t, "--xlsx", out])
            assert r.returncode == 0, r.stderr
            same_cells(rows, read_sheet(out)[0])
        # All nine tickets' net weight is in the material report's 合计.
        rows, _ = read_sheet(os.path.join(d, "web-material.xlsx"))
        heads = [rows[2][i][0] for i in sorted(rows[2])]
        last = rows[max(rows)]
        assert last[0][0] == "合计", last
        assert abs(last[heads.index("净重 (t)")][0] - sum(30.25 + i for i in range(9))) < 1e-6, last

        # An unknown format names the parameter and the allowed values.
        for q in (f"/rpt1/output?{rpt1_q}&format=xls", f"/rpt2/material?{rpt2_q}&format=pdf"):
            s, raw, _ = fetch(base + q, cookie)
            body = json.loads(raw)
            assert s == 400 and body["field"] == "format" and "xlsx" in body["error"], (q, s, body)

        # The scratch folder is empty; when it cannot be made: a 500 and no file anywhere.
        tmp = os.path.join(d, "tmp")
        assert os.path.isdir(tmp) and os.listdir(tmp) == [], os.listdir(tmp)
        os.rmdir(tmp)
        with open(tmp, "w") as f:
            f.write("not a folder")
        before = set(os.listdir(d))
        s, raw, _ = fetch(f"{base}/rpt1/energy?{rpt1_q}&format=xlsx", cookie)
        assert s == 500 and "error" in json.loads(raw), (s, raw)
        assert set(os.listdir(d)) == before, set(os.listdir(d)) ^ before
        os.remove(tmp)
        assert fetch(f"{base}/rpt1/energy?{rpt1_q}&format=xlsx", cookie)[0] == 200
        assert os.listdir(tmp) == []
        assert p.stop() == 0, p.output()


if __name__ == "__main__":
    main([test_reports_as_workbooks])
