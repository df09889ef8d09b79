"""python-can's slcan interface as a host of the emulated adapter.

usage: pycan_slcan.py TTY N FRAME...
Opens TTY at 500 kbit/s, sends each FRAME (candump compact syntax: 123#AABB, 12345678#,
7FF#R3), prints "sent", then prints the first N frames it receives in the same syntax and exits.
"""
import sys

import can


def parse(text):
    ident, _, rest = text.partition("#")
    ext = len(ident) > 3
    if rest.startswith("R"):
        dlc = int(rest[1:] or "0")
        return can.Message(arbitration_id=int(ident, 16), is_extended_id=ext,
                           is_remote_frame=True, dlc=dlc)
    return can.Message(arbitration_id=int(ident, 16), is_extended_id=ext,
                       data=bytes.fromhex(rest))


def show(msg):
    ident = ("%08X" if msg.is_extended_id else "%03X") % msg.arbitration_id
    if msg.is_remote_frame:
        return "%s#R%d" % (ident, msg.dlc) if msg.dlc else ident + "#R"
    return ident + "#" + msg.data.hex().upper()


def main():
    tty, want, frames = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    bus = can.Bus(interface="slcan", channel=tty, bitrate=500000, sleep_after_open=0)
    try:
        for text in frames:
            bus.send(parse(text))
        print("sent", flush=True)
        got = 0
        while got < want:
            msg = bus.recv(timeout=5)
            if msg is None:
                print("timeout", flush=True)
                return 1
            print(show(msg), flush=True)
            got += 1
    finally:
        bus.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
