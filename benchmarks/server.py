"""The daemon's overhead and capacity, on random:tiny, CPU, headless.

    python benchmarks/server.py [--runs 15] [--threads 2]

(a) time to first audio: a WebSocket client's `generate` to its first `audio` event, against the engine alone
    (`stream_audio` to its first chunk, same model, same process): the difference is what the server adds.
(b) concurrent real-time streams: N clients each generate 5 s at once; the stream count is sustained when every
    one of them finishes within 5 s of wall time (each at least real time);
(c) throughput: one 2 s generation over WebSocket against the engine alone (stream_audio), same model.

    python benchmarks/server.py --model random:small --skip-capacity    # (a) and (c) on the real architecture
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._common import set_threads  # noqa: E402


async def main(a) -> None:
    import loopgen
    from loopgen.clients import connect
    from loopgen.server import Config, Server

    server = Server(Config(model=a.model, ws_port=0, osc_port=0, audio_device="none",
                           loops_dir=Path(tempfile.mkdtemp())))
    await server.start()
    url = f"ws://127.0.0.1:{server.ws_port}"
    m = server.model

    def engine_first() -> float:
        t = time.perf_counter()
        next(iter(loopgen.stream_audio(m, ["a beat"], 1.0, seed=0)))
        return time.perf_counter() - t

    async with connect(url) as c:
        async def ws_first() -> float:
            t = time.perf_counter()
            first = None
            async for ev in c.generate("a beat", seconds=1.0, seed=0):
                if ev["type"] == "audio" and first is None:
                    first = time.perf_counter() - t
            return first

        for _ in range(3):  # warm-up
            engine_first()
            await ws_first()
        eng, ws = [], []
        for _ in range(a.runs):  # alternate, so drift hits both
            eng.append(await asyncio.to_thread(engine_first))
            ws.append(await ws_first())

        async def ws_full() -> float:
            t = time.perf_counter()
            async for _ in c.generate("a beat", seconds=2.0, seed=0):
                pass
            return time.perf_counter() - t

        def engine_full() -> float:
            t = time.perf_counter()
            for _ in loopgen.stream_audio(m, ["a beat"], 2.0, seed=0):
                pass
            return time.perf_counter() - t

        full_e, full_w = [], []
        for _ in range(3):
            full_e.append(await asyncio.to_thread(engine_full))
            full_w.append(await ws_full())

    async def one(i: int, seconds: float) -> float:
        async with connect(url) as c:
            t = time.perf_counter()
            async for ev in c.generate(f"prompt {i}", seconds=seconds, seed=i):
                pass
            return time.perf_counter() - t

    sustained = 0
    rows = []
    for n in () if a.skip_capacity else (1, 2, 4, 8, 16, 32, 64):
        walls = await asyncio.gather(*(one(i, 5.0) for i in range(n)))
        rows.append((n, max(walls)))
        if max(walls) <= 5.0:
            sustained = n
        else:
            break
    await server.stop()

    e, w = statistics.median(eng), statistics.median(ws)
    print(f"{a.model}, cpu, {a.threads} threads, headless; median of {a.runs} alternating runs")
    print("| measurement | value |")
    print("|---|---|")
    print(f"| time to first audio, engine alone (ms) | {e * 1000:.1f} |")
    print(f"| time to first audio over WebSocket (ms) | {w * 1000:.1f} |")
    print(f"| server overhead (ms), goal < 5 | {(w - e) * 1000:.1f} |")
    for n, wall in rows:
        print(f"| {n} concurrent 5 s streams: slowest done after (s) | {wall:.2f}{' (real time)' if wall <= 5 else ''} |")
    if rows:
        print(f"| concurrent real-time streams sustained | {sustained} |")
    fe, fw = statistics.median(full_e), statistics.median(full_w)
    print(f"| 2 s generation: engine alone / over WebSocket (s) | {fe:.2f} / {fw:.2f} ({fw / fe:.2f}x) |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="random:tiny")
    ap.add_argument("--skip-capacity", action="store_true")
    a = ap.parse_args()
    set_threads(a.threads)
    asyncio.run(main(a))
