"""Load time of a musicgen-small-architecture checkpoint (random weights, transformers' layout) per dtype, int8 with
and without its int8 store (issue 28, item 6).

    python benchmarks/load.py [--rounds 5] [--threads 2] [--checkpoint /tmp/loopgen-bench-small]

Each load runs in a fresh process (`load_model` timed alone: imports and the interpreter excluded), the kinds taking
turns each round; the table gives the median. The weight files stay in the page cache between loads (warm), as on a
second start of the daemon. "int8, first load" runs with an empty store (it quantizes and writes the store), "int8,
stored" with the store the previous load wrote. The store lives in a temporary LOOPGEN_CACHE_DIR.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._common import musicgen_checkpoint  # noqa: E402

CHILD = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[3]))
from loopgen import load_model
t = time.perf_counter(); load_model(sys.argv[1], dtype=sys.argv[2]); print(time.perf_counter() - t)
"""
KINDS = (("float32", "float32", False), ("bfloat16", "bfloat16", False), ("int8, first load", "int8", True),
         ("int8, stored", "int8", False))


def load_seconds(folder: Path, dtype: str, threads: int, env: dict) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), dtype, str(threads)], capture_output=True,
                         text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--checkpoint", default=str(Path(tempfile.gettempdir()) / "loopgen-bench-small"))
    a = ap.parse_args()
    folder = musicgen_checkpoint(Path(a.checkpoint))
    cache = Path(tempfile.mkdtemp(prefix="loopgen-load-bench-"))
    env = {**os.environ, "LOOPGEN_CACHE_DIR": str(cache)}
    load_seconds(folder, "float32", a.threads, env)  # the files into the page cache, the kernels measured
    load_seconds(folder, "bfloat16", a.threads, env)
    times: dict[str, list[float]] = {k: [] for k, _, _ in KINDS}
    try:
        for _ in range(a.rounds):
            for kind, dtype, fresh in KINDS:
                if fresh:
                    shutil.rmtree(cache / "int8", ignore_errors=True)
                times[kind].append(load_seconds(folder, dtype, a.threads, env))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    from loopgen.models.kernels import cpu_name

    f32 = statistics.median(times["float32"])
    print(f"{cpu_name()}, {a.threads} threads; {folder}; median of {a.rounds} rounds, warm page cache")
    print("| load | seconds | against float32 |")
    print("|---|---|---|")
    for kind, _, _ in KINDS:
        t = statistics.median(times[kind])
        print(f"| {kind} | {t:.2f} | {t / f32:.2f}x |")


if __name__ == "__main__":
    main()
