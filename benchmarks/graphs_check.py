"""Before any GPU figure: do the CUDA-graph paths give what the eager ones give, on this GPU, and how much faster?

    python benchmarks/graphs_check.py --device cuda [--models random:tiny,random:small] [--dtypes float32,bfloat16]
    python benchmarks/graphs_check.py --emulate     # the same checks on the CPU, graphs replayed by
                                                    # tests/models/graph_replay.py (what the test suite proves)

The scripts are the test suite's own (so the GPU runs exactly what the CPU proves), on the device:
- engine: `tests/models/test_engine.py::_script`, three voices joining at different steps, every sampling parameter
  and the prompts changed while they play, 110 steps; the fixed-shape step run eagerly against it replayed as a CUDA
  graph: the codes must be equal token for token (the same kernels on the same data).
- bank: `tests/streaming/test_bank.py::crowd`, six streams joining, pausing and leaving while the bank grows; eager
  against the push replayed: PCM max difference, 0 expected.
ms per step (engine) and per tick (bank) of the whole script each way, joins and changes included (the steps/s
figure is `generate.py`'s). A mismatch exits 1.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class Direct:
    """The fixed-shape step a graph captures, run eagerly every time (what a replay must equal bit for bit)."""

    def run(self, key, step):
        return step()


def timed(m, fn):
    """fn() -> (its result, seconds), synchronised on a GPU."""
    import torch

    if m.device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if m.device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--models", default="random:tiny,random:small")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--emulate", action="store_true", help="CPU: replay with tests/models/graph_replay.py")
    a = ap.parse_args()
    import torch

    from loopgen import load_model
    from tests.models.test_engine import _script
    from tests.streaming.test_bank import PLANS, codes_for, crowd

    if a.emulate:
        from tests.models.graph_replay import ReplayGraphs

        device, dtypes, graphs = "cpu", ["float32"], (lambda m: ReplayGraphs())
        torch.set_num_threads(2)
    else:
        if not torch.cuda.is_available():
            print("graphs_check needs a CUDA device (or --emulate on the CPU)", file=sys.stderr)
            return 2
        from loopgen.models.graphs import CudaGraphs

        device, dtypes, graphs = a.device, a.dtypes.split(","), (lambda m: CudaGraphs(m.device))
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu (emulated graphs)"
    print(f"{name}, torch {torch.__version__}")
    print("| model | dtype | script | equal | eager ms | graphs ms | speed-up |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    for model in a.models.split(","):
        for dtype in dtypes:
            m = load_model(model, device=device, dtype=dtype)
            m.lm.unpack()  # the F.linear path (what CUDA runs)
            (eager, *_), te = timed(m, lambda: _script(m, compile=False, replay=Direct()))
            (replayed, *_), tg = timed(m, lambda: _script(m, compile=False, replay=graphs(m)))
            same = [torch.equal(x, y) for x, y in zip(eager, replayed)]
            ok &= all(same)
            where = "yes" if all(same) else f"no (from step {same.index(False)})"
            n = len(eager)
            print(f"| {model} | {dtype} | engine, 3 voices | {where} | {te / n * 1e3:.2f} | {tg / n * 1e3:.2f} | "
                  f"{te / tg:.2f}x |")
            plans = [(codes_for(m, 30, seed).to(m.device), start, set(skips), first)
                     for seed, start, skips, first in PLANS]
            (pe, *_), be = timed(m, lambda: crowd(m, plans, graphs=Direct()))
            (pg, *_), bg = timed(m, lambda: crowd(m, plans, graphs=graphs(m)))
            diff = max((x.float() - y.float()).abs().max().item() for x, y in zip(pe, pg))
            ok &= diff == 0.0
            ticks = max(start + len(skips) + 30 for _, start, skips, _ in PLANS)
            print(f"| {model} | {dtype} | bank, 6 streams | {'yes' if diff == 0 else f'no ({diff:.1e})'} | "
                  f"{be / ticks * 1e3:.2f} | {bg / ticks * 1e3:.2f} | {be / bg:.2f}x |")
            del m
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
