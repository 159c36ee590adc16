"""How fast one LM step's weights stream through the CPU, by matmul path: the figure behind `Dense.pack`.

    python benchmarks/matmul.py [--threads 2] [--rounds 3]

The 145 weight matrices of one musicgen-small decoding step (24 layers x q/k/v, out, cross q, cross out, fc1, fc2,
plus the heads) each multiply a [2, in] activation (guidance doubles the batch): default F.linear (BLAS), x @ W^T
with W stored transposed, oneDNN's inner product on the plain weight, and on the weight reordered by oneDNN.
"""
from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    layer = [(3072, 1024), (1024, 1024), (1024, 1024), (1024, 1024), (4096, 1024), (1024, 4096)]
    shapes = layer * 24 + [(8192, 1024)]
    ws = [torch.randn(o, i) for o, i in shapes]
    total = sum(w.numel() * 4 for w in ws)
    xs = {i: torch.randn(2, i) for _, i in shapes}
    wt = [w.t().contiguous() for w in ws]
    lin = torch.ops.mkldnn._linear_pointwise
    packed = [torch.ops.mkldnn._reorder_linear_weight(w, None) for w in ws]
    paths = {
        "F.linear (BLAS)": lambda: [torch.nn.functional.linear(xs[w.shape[1]], w) for w in ws],
        "x @ W^T, W stored transposed": lambda: [xs[w.shape[0]] @ w for w in wt],
        "oneDNN inner product, plain weight": lambda: [lin(xs[w.shape[1]], w, None, "none", [], "") for w in ws],
        "oneDNN inner product, packed weight (loopgen)": lambda: [
            lin(xs[w.shape[1]], p, None, "none", [], "") for w, p in zip(ws, packed)],
    }
    print(f"{len(ws)} matrices, {total / 2**20:.0f} MiB fp32, batch 2, {a.threads} threads; best of {a.rounds}")
    print("| path | ms per step | GB/s |")
    print("|---|---|---|")
    for name, fn in paths.items():
        fn()
        best = min(_time(fn) for _ in range(a.rounds))
        print(f"| {name} | {best * 1000:.1f} | {total / best / 1e9:.1f} |")


def _time(fn) -> float:
    t = time.perf_counter()
    for _ in range(3):
        fn()
    return (time.perf_counter() - t) / 3


if __name__ == "__main__":
    main()
