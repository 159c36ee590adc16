"""What Ray adds, and what a second actor gives: the model work on the daemon's local thread, on one Ray actor and on
two (CPU, one torch thread each, a local Ray on this machine, loopback only).

    python benchmarks/scale.py [--model random:tiny] [--streams 8,32] [--seconds 4] [--threads 1]

For each way and each count N: N WebSocket clients' generations of --seconds at once (not played, admitted by count),
timed from the first request to the last `done`. Printed: aggregate frames/s (every stream's frames over the wall
time), model steps made (the sum over workers) and steps/s, wall ms per step of one worker, and for Ray the time a
step's batch of events takes from the actor's `yield` to the gateway's reader (median and 95th percentile; the
actor's and the gateway's clocks are this machine's one monotonic clock). What Ray adds per step: one actor's
ms/step minus the local thread's, same N.
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


async def run_way(a, ray: str | None, workers: int, counts: list[int]) -> list[dict]:
    from loopgen.clients import connect
    from loopgen.server import Config, Server

    cfg = Config(model=a.model, ws_port=0, osc_port=0, audio_device="none", loops_dir=Path(tempfile.mkdtemp()),
                 admission="count", max_generations=4096, measure_speed=False, ray=ray,
                 workers=((a.model, workers),) if ray else (), worker_threads=a.threads)
    server = Server(cfg)
    await server.start()
    rows = []
    try:
        w = server.worker
        async def one(i: int, seconds: float) -> int:  # a client each (a client may run 8 at most)
            frames = 0
            async with connect(f"ws://127.0.0.1:{server.ws_port}") as c:
                async for ev in c.generate(f"stream {i}", seconds=seconds, seed=i, play=False):
                    if ev["type"] == "done":
                        frames = ev["frames"]
            return frames

        await asyncio.gather(*[one(i, 0.5) for i in range(2)])  # warm-up
        for n in counts:
            await asyncio.sleep(0.6)  # the actors' stats settle
            steps0 = steps_of(w)
            if ray:
                w.transit.clear()
            t = time.perf_counter()
            frames = sum(await asyncio.gather(*[one(i, a.seconds) for i in range(n)]))
            wall = time.perf_counter() - t
            await asyncio.sleep(0.6)
            steps = steps_of(w) - steps0
            per_worker = steps / max(1, workers if ray else 1)
            row = {"way": f"ray x{workers}" if ray else "thread", "n": n, "fps": frames / wall,
                   "steps": steps, "sps": steps / wall, "ms_step": 1000 * wall / per_worker if per_worker else 0}
            if ray and w.transit:
                lat = sorted(w.transit)
                row["transit"] = (1000 * statistics.median(lat), 1000 * lat[int(0.95 * (len(lat) - 1))])
            rows.append(row)
    finally:
        await server.stop()
    return rows


def steps_of(w) -> int:
    if hasattr(w, "actors"):
        return sum(x.stats.steps for x in w.actors)
    return w.steps


async def main(a) -> None:
    import ray

    counts = [int(x) for x in a.streams.split(",")]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    rows = []
    try:
        for way, workers in ((None, 1), ("local", 1), ("local", 2)):
            rows += await run_way(a, way, workers, counts)
    finally:
        ray.shutdown()
    print(f"{a.model}, {a.seconds:g} s per stream, {a.threads} torch thread(s) per worker")
    print(f"{'way':9} {'N':>3} {'frames/s':>9} {'steps':>6} {'steps/s':>8} {'ms/step':>8} {'transit ms (med, p95)':>22}")
    base = {r["n"]: r["ms_step"] for r in rows if r["way"] == "thread"}
    for r in rows:
        tr = f"{r['transit'][0]:.2f}, {r['transit'][1]:.2f}" if "transit" in r else "-"
        extra = f"  (+{r['ms_step'] - base[r['n']]:.2f} ms/step vs thread)" if r["way"] == "ray x1" else ""
        print(f"{r['way']:9} {r['n']:>3} {r['fps']:>9.0f} {r['steps']:>6} {r['sps']:>8.1f} {r['ms_step']:>8.2f} "
              f"{tr:>22}{extra}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="random:tiny")
    p.add_argument("--streams", default="8,32")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    set_threads(a.threads)
    asyncio.run(main(a))
