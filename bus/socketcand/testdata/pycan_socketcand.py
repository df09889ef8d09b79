"""python-can's socketcand interface as a client of the server.

usage: pycan_socketcand.py HOST PORT N FRAME...
Connects, opens can0, sends each FRAME (candump compact syntax, data frames), prints "sent",
then prints the first N frames it receives as ID#DATA (ID in hex without padding: python-can
4.1 does not report the identifier format of socketcand frames) and exits.
"""
import sys

import can


def parse(text):
    ident, _, data = text.partition("#")
    return can.Message(arbitration_id=int(ident, 16), is_extended_id=len(ident) > 3,
                       data=bytes.fromhex(data))


def main():
    host, port, want, frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    bus = can.Bus(interface="socketcand", host=host, port=port, channel="can0")
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
            print("%X#%s" % (msg.arbitration_id, msg.data.hex().upper()), flush=True)
            got += 1
    finally:
        bus.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
