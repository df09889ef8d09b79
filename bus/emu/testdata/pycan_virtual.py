"""Reference throughput of python-can's virtual bus, measured beside the emulated bus.

Usage: pycan_virtual.py N. Sends N extended 8-byte frames from one virtual bus to another on
the same channel (all sent, then all received, as the Go benchmark pipelines them) and prints
"frames_per_second <value>".
"""
import sys
import time

import can


def main():
    n = int(sys.argv[1])
    tx = can.Bus(interface="virtual", channel="hilrun-bench")
    rx = can.Bus(interface="virtual", channel="hilrun-bench")
    msg = can.Message(arbitration_id=0x18FF0001, is_extended_id=True, data=bytes(range(8)))
    start = time.perf_counter()
    for _ in range(n):
        tx.send(msg)
    got = 0
    while got < n:
        if rx.recv(timeout=5) is None:
            break
        got += 1
    elapsed = time.perf_counter() - start
    tx.shutdown()
    rx.shutdown()
    if got != n:
        print("received %d of %d" % (got, n), file=sys.stderr)
        sys.exit(1)
    print("frames_per_second %.0f" % (n / elapsed))


if __name__ == "__main__":
    main()
