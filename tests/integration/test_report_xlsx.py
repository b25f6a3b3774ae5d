"""Issue #8 (RPT-1, RPT-2): `coalmon report ... --xlsx FILE` and `coalmon sales
report KIND --xlsx FILE` write Excel workbooks. Each is opened with zipfile and
xml.etree and compared with the CSV variant of the same report: Chinese title
and headings, the same numbers as numbers, a 合计 row with the column sums,
the header frozen; a bad path exits 1 and --xlsx with --csv/--json exits 2."""
import csv
import io
import json
import os
import random
import re
import zipfile
import xml.etree.ElementTree as ET

from harness import BIN, Cleanup, bj, main, run

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def col_index(ref):
    letters = re.match(r"[A-Z]+", ref).group(0)
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def read_sheet(path):
    """Rows of the first sheet as lists of (value, is_number, formula)."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        strings = []
        if "xl/sharedStrings.xml" in names:
            for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", NS):
                strings.append("".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")))
        sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    rows = {}
    for r in sheet.find("m:sheetData", NS).findall("m:row", NS):
        cells = {}
        for c in r.findall("m:c", NS):
            v, f = c.find("m:v", NS), c.find("m:f", NS)
            if v is None:
                continue
            if c.get("t") == "s":
                cells[col_index(c.get("r"))] = (strings[int(v.text)], False, None)
            else:
                cells[col_index(c.get("r"))] = (float(v.text), True, f.text if f is not None else None)
        rows[int(r.get("r"))] = cells
    pane = sheet.find("m:sheetViews/m:sheetView/m:pane", NS)
    return rows, pane


def check_against_csv(xlsx, csv_text, zh_heads, title_part, sum_cols):
    """The workbook holds the CSV's rows, numbers as numbers, and a 合计 of sum_cols."""
    table = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    head, body = table[0], table[1:]
    assert body, csv_text
    rows, pane = read_sheet(xlsx)
    assert pane is not None and pane.get("state") == "frozen" and pane.get("ySplit") == "2", pane
    title = rows[1][0][0]
    assert title_part in title and "北京时间" in title, title
    got_head = [rows[2][i][0] for i in range(len(head))]
    for key, zh in zh_heads.items():
        assert got_head[head.index(key)] == zh, (key, got_head)
    for n, line in enumerate(body):
        cells = rows[3 + n]
        for i, text in enumerate(line):
            if text == "":
                assert i not in cells, (n, i, cells.get(i))
                continue
            try:
                want = float(text)
            except ValueError:
                assert cells[i] == (text, False, None), (n, i, cells.get(i), text)
                continue
            val, is_num, _ = cells[i]
            assert is_num and abs(val - want) <= 1e-9 * max(1.0, abs(want)), (n, head[i], val, text)
    totals = rows[3 + len(body)]
    assert totals[0][0] == "合计", totals
    for key in sum_cols:
        i = head.index(key)
        want = sum(float(line[i]) for line in body if line[i] != "")
        val, is_num, formula = totals[i]
        assert is_num and formula and formula.startswith("SUM("), totals[i]
        assert abs(val - want) <= 1e-6 * max(1.0, abs(want)), (key, val, want)
    for i in range(1, len(head)):   # a column with no figure has no 合计 either (not a 0)
        if all(line[i] == "" for line in body):
            assert i not in totals, (head[i], totals[i])
    return len(body)


def history_csv(path):
    rnd = random.Random(11)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", "tons", "transport_kwh", "total_kwh", "run_min"])
        for i in range(5 * 96):
            day, minute = divmod(i * 15, 1440)
            run_m = 0.0 if 6 <= minute // 60 < 8 else 15.0
            tons = run_m * 10 * (0.6 + 0.5 * rnd.random())
            kwh = 90 * run_m / 60 + 0.45 * tons + 2
            w.writerow([f"2026-03-{day + 1:02d} {minute // 60:02d}:{minute % 60:02d}",
                        f"{tons:.3f}", f"{kwh:.3f}", f"{kwh + 100:.3f}", f"{run_m:.2f}"])


def test_rpt1_workbooks_match_csv():
    with Cleanup() as c:
        d = c.dir()
        db = os.path.join(d, "coalmon.db")
        cli = [f"{BIN}/coalmon", "-c", os.path.join(d, "none.json"), "--db", db]
        hist = os.path.join(d, "history.csv")
        history_csv(hist)
        r = run(cli + ["import", "history", hist])
        assert r.returncode == 0, r.stderr
        span = ["--period", "day", "--from", "2026-03-01", "--to", "2026-03-06"]
        for kind, heads, title, sums in [
                ("output", {"tons": "产量 (t)", "period": "周期"}, "产量报表", ["tons", "run_hours"]),
                ("energy", {"total_kwh": "全矿电量 (kWh)", "kwh_per_t_total": "吨煤电耗 (kWh/t)"},
                 "能耗报表", ["transport_kwh", "total_kwh"]),
                ("pts", {"output_t": "产量 (t)", "balance_diff_t": "产销差 (t)"}, "产运销存报表",
                 ["output_t", "balance_diff_t"])]:
            r = run(cli + ["report", kind] + span + ["--csv"])
            assert r.returncode == 0, r.stderr
            out = os.path.join(d, f"{kind}.xlsx")
            r = run(cli + ["report", kind] + span + ["--xlsx", out])
            assert r.returncode == 0 and r.stdout == "", r
            n = check_against_csv(out, run(cli + ["report", kind] + span + ["--csv"]).stdout, heads, title, sums)
            assert n == 5, n
            assert not os.path.exists(out + ".tmp")

        # Bad path: a clear error naming it, exit 1, nothing left behind.
        bad = os.path.join(d, "no-such-dir", "o.xlsx")
        named = os.path.join(d, "mine.json")
        with open(named, "w") as f:
            json.dump({"mine_name": "晋能测试矿"}, f)
        out = os.path.join(d, "named.xlsx")
        assert run([f"{BIN}/coalmon", "-c", named, "--db", db, "report", "output"] + span + ["--xlsx", out]).returncode == 0
        assert read_sheet(out)[0][1][0][0].startswith("晋能测试矿 产量报表"), read_sheet(out)[0][1]

        r = run(cli + ["report", "output"] + span + ["--xlsx", bad])
        assert r.returncode == 1 and bad in r.stderr and "No such file" in r.stderr, r
        # Usage errors: with --csv or --json, or without a file name.
        out = os.path.join(d, "x.xlsx")
        assert run(cli + ["report", "output"] + span + ["--xlsx", out, "--csv"]).returncode == 2
        assert run(cli + ["--json", "report", "output"] + span + ["--xlsx", out]).returncode == 2
        assert run(cli + ["report", "output"] + span + ["--xlsx"]).returncode == 2
        assert not os.path.exists(out)


def test_rpt2_workbooks_match_csv():
    with Cleanup() as c:
        d = c.dir()
        db = os.path.join(d, "coalmon.db")
        cli = [f"{BIN}/coalmon", "--db", db]
        tickets = os.path.join(d, "tickets.csv")
        rnd = random.Random(5)
        with open(tickets, "w") as f:
            f.write("ticketId,plate,material,direction,tareTime,grossTime,gross,tare,net,weighbridgeId,operator\n")
            for i in range(12):
                tare = 15 + rnd.random()
                net = 30 + 5 * rnd.random()
                mat = "原煤" if i % 3 else "块煤"
                ago = 3600 * (i + 2)
                f.write(f"T{i},晋A1234{i % 10},{mat},out,{bj(-ago - 1800)},{bj(-ago)},"
                        f"{tare + net:.2f},{tare:.2f},{net:.2f},WB1,王强\n")
        r = run(cli + ["import", "tickets", tickets], timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        span = ["--from", bj(-3 * 86400), "--to", bj(60)]
        for kind, heads, title, sums in [
                ("material", {"net": "净重 (t)", "vehicles": "车次"}, "物料汇总表", ["vehicles", "net", "gross", "tare"]),
                ("outbound", {"net": "净重 (t)", "coalType": "煤种"}, "外运汇总表", ["vehicles", "net"])]:
            r = run(cli + ["sales", "report", kind] + span + ["--csv"])
            assert r.returncode == 0, r.stderr
            out = os.path.join(d, f"{kind}.xlsx")
            r2 = run(cli + ["sales", "report", kind] + span + ["--xlsx", out])
            assert r2.returncode == 0 and r2.stdout == "", r2
            check_against_csv(out, r.stdout, heads, title, sums)
        # The tickets' net weights are all in the material report's 合计.
        rows, _ = read_sheet(os.path.join(d, "material.xlsx"))
        last = rows[max(rows)]
        head = [rows[2][i][0] for i in sorted(rows[2])]
        assert last[0][0] == "合计" and last[head.index("车次")][0] == 12, last

        r = run(cli + ["sales", "report", "outbound", "--xlsx", os.path.join(d, "nodir", "x.xlsx")])
        assert r.returncode == 1 and "nodir" in r.stderr, r
        assert run(cli + ["--json", "sales", "report", "outbound", "--xlsx", os.path.join(d, "y.xlsx")]).returncode == 2
        assert run(cli + ["sales", "report", "outbound", "--csv", "--xlsx", os.path.join(d, "y.xlsx")]).returncode == 2


if __name__ == "__main__":
    main([test_rpt1_workbooks_match_csv, test_rpt2_workbooks_match_csv])
