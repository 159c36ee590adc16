"""The thread policy against a busy neighbour: steps/s with and without another process spinning on a core.

    python benchmarks/threads.py [--model random:small] [--seconds 1.0] [--rounds 2]

Each measurement runs in a fresh process (threads are set before any work); the neighbour is a Python busy loop.
Columns: 2 threads (torch's default here) and loopgen's default policy (all cores but one).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CHILD = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
from loopgen import load_model
m = load_model(sys.argv[2])
m.generate(["x"], seconds=0.2, seed=0)
t = time.perf_counter(); g = m.generate(["x"], seconds=float(sys.argv[3]), seed=0)
print((g.codes.shape[-1] + max(m.cfg.lm.delays)) / (time.perf_counter() - t))
"""


def steps_per_s(threads: int, model: str, seconds: float) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, str(threads), model, str(seconds)], capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="random:small")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    sys.path.insert(0, ".")
    from loopgen.models.threads import default_threads

    policy = default_threads()
    rows = {}
    for load in ("quiet", "busy neighbour"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "quiet" else None
        try:
            time.sleep(0.5)
            for t in (2, policy):
                rows[(load, t)] = statistics.median(steps_per_s(t, a.model, a.seconds) for _ in range(a.rounds))
        finally:
            if busy is not None:
                busy.kill()
    print(f"{a.model}, cpu fp32, guidance 3, batch 1; median of {a.rounds}; loopgen's policy here: {policy} thread(s)")
    print("| threads | quiet (steps/s) | busy neighbour (steps/s) | cost of the neighbour |")
    print("|---|---|---|---|")
    for t in sorted({2, policy}, reverse=True):
        q, b = rows[("quiet", t)], rows[("busy neighbour", t)]
        print(f"| {t}{' (policy)' if t == policy else ''} | {q:.2f} | {b:.2f} | {q / b:.2f}x |")


if __name__ == "__main__":
    main()
