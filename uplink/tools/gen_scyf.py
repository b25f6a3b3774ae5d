#!/usr/bin/env python3
"""Generates uplink/schemas/scyf.json from the Shanxi dual-prevention networking
specification (its text as issued, tables §5.2 and dictionaries §5.3).
Run once when the specification changes; the JSON is committed and embedded in the binary.
Usage: gen_scyf.py SPECIFICATION.txt > uplink/schemas/scyf.json"""
import json
import re
import sys

DICT_NAMES = {  # seed dictionary title -> key used in the schema
    "风险辨识类型": "riskIdentType", "风险类型": "riskType", "风险等级": "riskLevel",
    "隐患类型": "hiddenType", "隐患专业": "proType", "隐患等级": "hiddenLevel",
    "整改方式": "dealType", "隐患状态": "hiddenStatus", "督办级别": "supLevel",
    "违章分类": "vioCategory", "三违级别": "vioLevel",
}


def main(path):
    lines = open(path, encoding="utf-8").read().splitlines()
    start = next(i for i, l in enumerate(lines) if l.strip() == "5.2 联网数据列表" and i > 200)
    types, dicts, cur, cur_dict = {}, {}, None, None
    for line in lines[start:]:
        s = line.strip()
        if s.startswith("5.4"):
            break
        m = re.match(r"^5\.2\.(\d+) (\S+)$", s)
        if m and int(m.group(1)) >= 2:
            cur = {"title": m.group(2), "fields": []}
            cur_dict = None
            continue
        m = re.match(r"^5\.3\.\d+ (\S+)$", s)
        if m:
            cur, cur_dict = None, DICT_NAMES[m.group(1)]
            dicts[cur_dict] = {}
            continue
        cols = line.split("\t")
        if cur is not None and len(cols) >= 7 and cols[0].isdigit():
            name, desc, kind, length, req = cols[2].strip(), cols[3], cols[4], cols[5], cols[6]
            f = {"name": name, "label": cols[1].strip(), "required": req.strip() == "必选"}
            if kind == "日期":
                f["type"] = "date"
            elif kind == "文件":
                f["type"] = "file"
            else:
                f["type"] = "string"
            lm = re.match(r"^(\d+)", length.strip())
            if lm and f["type"] != "date":
                f["max"] = int(lm.group(1))
            dm = re.search(r"数据字典“(\S+?)”", desc)
            if dm:
                f["dict"] = DICT_NAMES[dm.group(1)]
            cur["fields"].append(f)
            continue
        m = re.search(r"/scyf/api/(\w+)\.do", s)
        if cur is not None and m:
            types[m.group(1)] = cur
            continue
        if cur_dict and len(cols) == 2 and cols[0].strip().isdigit():
            dicts[cur_dict][cols[0].strip()] = cols[1].strip()
    assert len(types) == 16, sorted(types)
    json.dump({"prefix": "scyf", "source": "seed 000_c3247f568b5ca0e7 §5.2, §5.3",
               "types": types, "dicts": dicts}, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
