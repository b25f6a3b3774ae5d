"""Three Modbus RTU slaves on one serial line, served by pymodbus (Debian's
python3-pymodbus: a Modbus implementation nobody here wrote). Every input and
holding register pair holds the float32 230 + unit id, so a value read for
the wrong unit shows. One unit may answer late (it sleeps before answering).

usage: pymodbus_rtu_slaves.py DEVICE BAUD SLOW_UNIT DELAY_S"""
import struct
import sys
import time

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartSerialServer
from pymodbus.transaction import ModbusRtuFramer

DEVICE, BAUD, SLOW_UNIT, DELAY = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
UNITS = (1, 2, 3)


class Block(ModbusSequentialDataBlock):
    """Registers of one unit; the slow unit takes DELAY seconds to answer."""

    def __init__(self, unit):
        hi, lo = struct.unpack(">HH", struct.pack(">f", 230.0 + unit))
        super().__init__(0, [hi, lo] * 200)
        self.unit = unit

    def getValues(self, address, count=1):
        if self.unit == SLOW_UNIT:
            time.sleep(DELAY)
        return super().getValues(address, count)


slaves = {u: ModbusSlaveContext(ir=Block(u), hr=Block(u), zero_mode=True) for u in UNITS}
print(f"pymodbus serving units {UNITS} on {DEVICE}, unit {SLOW_UNIT} {DELAY} s late", flush=True)
# A pseudo-terminal refuses parity settings in pyserial: 8N1.
StartSerialServer(context=ModbusServerContext(slaves=slaves, single=False), framer=ModbusRtuFramer,
                  port=DEVICE, baudrate=BAUD, parity="N", stopbits=1, bytesize=8, timeout=0.005)
