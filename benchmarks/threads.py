"""The thread policy against a busy neighbour: the daemon's generation speed with and without another process
spinning on a core, for a fixed thread count and for the adaptive policy (issue 9, issue 28 item 5).

    python benchmarks/threads.py [--model random:small] [--seconds 6] [--rounds 2] [--dtype float32]

Each measurement runs in a fresh process: a daemon (in the process, headless) and one client generating `seconds`
of audio; the figure is frames per second from the first audio to the last (the prompt's encoding excluded). The
neighbour is a Python busy loop started before the process. Columns: all cores, all cores but one (the fixed
policy of `render`), and `serve`'s default, the adaptive policy (models/threads.py: ThreadGovernor).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CHILD = """
import asyncio, sys, tempfile, time
from pathlib import Path
from loopgen.models.threads import set_threads, thread_range
policy, model, seconds, dtype = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
adaptive = thread_range() if policy == "adaptive" else None
set_threads(adaptive[1] if adaptive else int(policy))
from loopgen.clients import connect
from loopgen.server import Config, Server

async def main():
    server = Server(Config(model=model, dtype=dtype, ws_port=0, osc_port=0, audio_device="none",
                           loops_dir=Path(tempfile.mkdtemp()), measure_speed=False, adaptive_threads=adaptive))
    await server.start()
    try:
        async with connect(f"ws://127.0.0.1:{server.ws_port}") as c:
            async for _ in c.generate("warm up", seconds=0.3, seed=0):
                pass
            first = frames = None
            async for ev in c.generate("a beat", seconds=seconds, seed=0):
                if ev["type"] == "audio" and first is None:
                    first = time.perf_counter()
                if ev["type"] == "done":
                    frames = ev["frames"]
            print(frames / (time.perf_counter() - first))
    finally:
        await server.stop()

asyncio.run(main())
"""


def frames_per_s(policy: str, model: str, seconds: float, dtype: str) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, policy, model, str(seconds), dtype], capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="random:small")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--dtype", default="float32")
    a = ap.parse_args()
    sys.path.insert(0, ".")
    from loopgen.models.kernels import cpu_name
    from loopgen.models.threads import thread_range

    low, high = thread_range()
    policies = [str(high), str(low), "adaptive"] if low != high else [str(high)]
    rows: dict[tuple[str, str], list[float]] = {}
    for load in ("quiet", "busy neighbour"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "quiet" else None
        try:
            time.sleep(0.5)
            for _ in range(a.rounds):  # the policies take turns, so drift hits each
                for p in policies:
                    rows.setdefault((load, p), []).append(frames_per_s(p, a.model, a.seconds, a.dtype))
        finally:
            if busy is not None:
                busy.kill()
    print(f"{cpu_name()}, {high} cores; {a.model} {a.dtype}, the daemon, one {a.seconds:g} s take; median of "
          f"{a.rounds}")
    print("| threads | quiet (frames/s) | busy neighbour (frames/s) | cost of the neighbour | quiet against all cores |")
    print("|---|---|---|---|---|")
    best = statistics.median(rows[("quiet", str(high))])
    for p in policies:
        q, b = statistics.median(rows[("quiet", p)]), statistics.median(rows[("busy neighbour", p)])
        print(f"| {p} | {q:.2f} | {b:.2f} | {q / b:.2f}x | {q / best:.2f} |")


if __name__ == "__main__":
    main()
