"""The daemon's overhead and capacity, on random:tiny, CPU, headless (any model and device by options).

    python benchmarks/server.py [--runs 15] [--threads 2] [--model random:tiny] [--device cpu] [--dtype float32]
        [--cuda-graphs] [--seconds 5] [--preroll 0.5] [--max-streams 64] [--counts 64,96,128]

(a) time to first audio: a WebSocket client's `generate` to its first `audio` event, against the engine alone
    (`stream_audio` to its first chunk, same model, same process): the difference is what the server adds.
(b) concurrent real-time streams: N clients (1, 2, 4, ... up to --max-streams) each generate --seconds at once; the
    count is sustained when no client underruns: a client that starts playing `preroll` seconds after its first
    audio event would have every later chunk in time (arrival <= first + preroll + its first sample / rate);
(c) throughput: a 2 s generation over WebSocket, its client a process of its own, against the engine alone
    (stream_audio on the main thread of a process of its own), same model, --full-runs of each in turn.

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
    from loopgen.clients import connect
    from loopgen.server import Config, Server

    server = Server(Config(model=a.model, ws_port=0, osc_port=0, audio_device="none", device=a.device, dtype=a.dtype,
                           loops_dir=Path(tempfile.mkdtemp()), cuda_graphs=a.cuda_graphs,
                           max_generations=4096))  # the machine's capacity is measured, not the admission limit
    await server.start()
    url = f"ws://127.0.0.1:{server.ws_port}"
    m = server.model

    # the engine alone in a process of its own, on its main thread, as a script using loopgen runs it (a second
    # thread of the daemon's process running torch in parallel would slow both: models/threads.one_thread)
    async def spawn(*args: str):
        return await asyncio.create_subprocess_exec(sys.executable, __file__, *args, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE)

    engine = await spawn("--engine", a.model, "--dtype", a.dtype or "auto", "--threads", str(a.threads),
                         "--device", a.device or "auto")
    assert (await engine.stdout.readline()).strip() == b"ready"

    async def ask(proc, line: str) -> float:
        proc.stdin.write(line.encode() + b"\n")
        await proc.stdin.drain()
        return float((await proc.stdout.readline()).decode())

    async with connect(url) as c:
        async def ws_first() -> float:
            t = time.perf_counter()
            first = None
            async for ev in c.generate("a beat", seconds=1.0, seed=0):
                if ev["type"] == "audio" and first is None:
                    first = time.perf_counter() - t
            return first

        for _ in range(3):  # warm-up
            await ask(engine, "first")
            await ws_first()
        eng, ws = [], []
        for _ in range(a.runs):  # alternate, so drift hits both
            eng.append(await ask(engine, "first"))
            ws.append(await ws_first())

    # (c) the client in a process of its own, as a plugin's or a browser's is: it shares the machine's cores with
    # the daemon, not its interpreter (a client in the daemon's process takes the GIL from its model thread)
    client = await spawn("--client", url)
    full_e, full_w = [], []
    for _ in range(a.full_runs):  # alternate, so drift hits both
        full_e.append(await ask(engine, "2.0"))
        full_w.append(await ask(client, "2.0"))
    for proc in (client, engine):
        proc.stdin.close()
        await proc.wait()

    async def one(i: int, seconds: float) -> tuple[float, int]:
        """(wall time, chunks that would have come too late for a player with `preroll` s of buffer)."""
        async with connect(url) as c:
            t = time.perf_counter()
            first, late = None, 0
            async for ev in c.generate(f"prompt {i}", seconds=seconds, seed=i):
                if ev["type"] == "audio":
                    now = time.perf_counter()
                    first = now if first is None else first
                    late += now > first + a.preroll + ev["sample"] / m.sample_rate
            return time.perf_counter() - t, late

    sustained = 0
    rows = []
    counts = ([int(x) for x in a.counts.split(",")] if a.counts else
              [n for n in (1, 2, 4, 8, 16, 32, 64, 96, 128, 192, 256) if n <= a.max_streams])
    for n in () if a.skip_capacity else counts:
        got = await asyncio.gather(*(one(i, a.seconds) for i in range(n)))
        late = sum(x[1] for x in got)
        rows.append((n, max(x[0] for x in got), late))
        if late == 0:
            sustained = n
        else:
            break
    await server.stop()

    e, w = statistics.median(eng), statistics.median(ws)
    graphs = ", CUDA graphs" if a.cuda_graphs else ""
    dtype = a.dtype or str(m.dtype).removeprefix("torch.")  # (an int8 model's float dtype is its activations')
    print(f"{a.model}, {m.device} {dtype}{graphs}, {a.threads} threads, headless; "
          f"median of {a.runs} alternating runs")
    print("| measurement | value |")
    print("|---|---|")
    print(f"| time to first audio, engine alone (ms) | {e * 1000:.1f} |")
    print(f"| time to first audio over WebSocket (ms) | {w * 1000:.1f} |")
    print(f"| server overhead (ms), goal < 5 | {(w - e) * 1000:.1f} |")
    for n, wall, late in rows:
        print(f"| {n} concurrent {a.seconds:g} s streams: slowest done after (s); late chunks ({a.preroll:g} s "
              f"pre-roll) | {wall:.2f}; {late} |")
    if rows:
        print(f"| concurrent real-time streams sustained (no late chunk) | {sustained} |")
    fe, fw = statistics.median(full_e), statistics.median(full_w)
    ratios = sorted(e / w for e, w in zip(full_e, full_w))
    print(f"| 2 s generation: engine alone / over WebSocket, a client process (s), median of {a.full_runs} | "
          f"{fe:.2f} / {fw:.2f} (the daemon's rate {fe / fw:.2f}x the engine's; run by run "
          f"{', '.join(f'{r:.2f}' for r in ratios)}) |")


def engine_main(a) -> None:
    """--engine: the model loaded here, then per line read, on this process's main thread, one `stream_audio`
    generation of that many seconds ("first": the time to the first audio of 1 s); prints the seconds it took."""
    import loopgen

    m = loopgen.load_model(a.engine, device=None if a.device == "auto" else a.device,
                           dtype=None if a.dtype == "auto" else a.dtype)
    for _ in loopgen.stream_audio(m, ["warm up"], 0.3, seed=0):
        pass
    print("ready", flush=True)
    while line := sys.stdin.readline():
        t = time.perf_counter()
        if line.strip() == "first":  # time to the first audio of a 1 s generation
            next(iter(loopgen.stream_audio(m, ["a beat"], 1.0, seed=0)))
        else:
            for _ in loopgen.stream_audio(m, ["a beat"], float(line), seed=0):
                pass
        print(time.perf_counter() - t, flush=True)


async def client_main(url: str) -> None:
    """--client: one generation per line read (its seconds); prints the seconds from the request to its last event."""
    from loopgen.clients import connect

    async with connect(url) as c:
        while line := await asyncio.to_thread(sys.stdin.readline):
            t = time.perf_counter()
            async for _ in c.generate("a beat", seconds=float(line), seed=0):
                pass
            print(time.perf_counter() - t, flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="random:tiny")
    ap.add_argument("--skip-capacity", action="store_true")
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--cuda-graphs", action="store_true")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each concurrent stream")
    ap.add_argument("--preroll", type=float, default=0.5, help="a client's buffer before it starts playing (s)")
    ap.add_argument("--max-streams", type=int, default=64)
    ap.add_argument("--counts", default=None, help="stream counts to try, e.g. 64,96,128 (default: doubling)")
    ap.add_argument("--full-runs", type=int, default=5, help="2 s generations of each kind in (c)")
    ap.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)  # (c)'s client process
    ap.add_argument("--engine", metavar="MODEL", help=argparse.SUPPRESS)  # (c)'s engine process
    a = ap.parse_args()
    if a.client:
        asyncio.run(client_main(a.client))
    elif a.engine:
        set_threads(a.threads)
        engine_main(a)
    else:
        set_threads(a.threads)
        asyncio.run(main(a))
