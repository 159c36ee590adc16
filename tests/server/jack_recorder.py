"""A JACK recorder in its own process (so that it never waits on the daemon's interpreter): records its inputs into
a shared file indexed by JACK frame time. Run by tests/server/jackd.py's Recorder.

usage: python jack_recorder.py SERVER NAME CHANNELS FRAMES FILE
FILE holds a header of 4 int64 (first frame time, frames recorded, xruns, ready flag) then FRAMES x CHANNELS float32.
"""
from __future__ import annotations

import sys

import jack
import numpy as np

HEADER = 4


def main() -> None:
    server, name, channels, frames, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    head = np.memmap(path, np.int64, "r+", shape=(HEADER,))
    buf = np.memmap(path, np.float32, "r+", offset=HEADER * 8, shape=(frames, channels))
    client = jack.Client(name, servername=server, no_start_server=True)
    ports = [client.inports.register(f"in_{i + 1}") for i in range(channels)]
    state = {"f0": None}

    @client.set_process_callback
    def process(n: int) -> None:
        f = client.last_frame_time
        if state["f0"] is None:
            state["f0"] = f
            head[0] = f
        i = (f - state["f0"]) % (1 << 32)
        if i + n > frames:
            return
        for c, p in enumerate(ports):
            buf[i : i + n, c] = p.get_array()
        head[1] = i + n

    @client.set_xrun_callback
    def xrun(delay: float) -> None:
        head[2] += 1

    client.activate()
    head[3] = 1
    try:
        while sys.stdin.read(1):  # until the test closes our stdin
            pass
    finally:
        client.deactivate()
        client.close()


if __name__ == "__main__":
    main()
