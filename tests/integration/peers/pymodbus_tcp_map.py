"""A Modbus TCP server (pymodbus: an implementation nobody here wrote) that
holds exactly the registers of a coalmon meter map and nothing between them,
as a meter whose undocumented registers answer exception 02 does. Prints
'values {json}' (name -> the value coalmon should read) and serves.

usage: pymodbus_tcp_map.py MAP.json PORT [--omit NAME ...]"""
import json
import re
import struct
import sys

from pymodbus.datastore import ModbusServerContext, ModbusSlaveContext, ModbusSparseDataBlock
from pymodbus.server import StartTcpServer


def load_map(path):
    """The map's JSON without its // and /* */ comments (none inside strings here)."""
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'^\s*//.*$|(?<=[,{}\[\]"\d])\s*//.*$', "", text, flags=re.M)
    return json.loads(text)


def encode(raw, typ, order):
    fmt = {"u16": ">H", "i16": ">h", "u32": ">I", "i32": ">i", "float32": ">f", "float64": ">d"}[typ]
    b = struct.pack(fmt, raw)
    letters = "ABCDEFGH"[: len(b)]
    b = bytes(b[letters.index(ch)] for ch in (order or letters))
    return [b[i] << 8 | b[i + 1] for i in range(0, len(b), 2)]


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    omit = set(sys.argv[sys.argv.index("--omit") + 1:]) if "--omit" in sys.argv else set()
    m = load_map(path)
    base = int(m.get("address_base", 0))
    hr, ir, values = {}, {}, {}
    for i, p in enumerate(m["points"]):
        if p["name"] in omit:
            continue
        typ, scale = p["type"], p.get("scale", 1.0)
        raw = 100.5 + i if typ.startswith("float") else (1000 + 37 * i if "16" in typ else 100000 + 7919 * i)
        addr = int(str(p["address"]), 0) - base
        bank = ir if p.get("function", m.get("function", "holding")) == "input" else hr
        for k, r in enumerate(encode(raw, typ, p.get("order"))):
            bank[addr + k] = r
        values[p["name"]] = raw * scale + p.get("offset", 0.0)
    print("values " + json.dumps(values), flush=True)
    store = ModbusSlaveContext(hr=ModbusSparseDataBlock(hr or {0: 0}),
                               ir=ModbusSparseDataBlock(ir or {0: 0}), zero_mode=True)
    StartTcpServer(context=ModbusServerContext(slaves=store, single=True),
                   address=("127.0.0.1", port))


main()
