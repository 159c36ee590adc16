"""How close a CPU step is to what this machine's memory allows: a roofline for musicgen-small's decoding step.

    python benchmarks/roofline.py [--threads 2] [--dtypes float32,bfloat16,int8] [--position 250] [--steps 40]
                                  [--profile]

A decoding step (one voice, guided: 2 LM rows) reads every per-step weight once and the KV cache up to its position,
and does 2 multiply-adds per weight per row: about 1.4 GFLOP against hundreds of MB, so it is bound by memory, not
arithmetic. Printed, per dtype: the bytes a step must read (weights the step multiplies, as stored: 4, 2 or 1 byte
plus int8's scales; the KV cache at --position), the steps/s this machine's measured read bandwidth would allow, the
steps/s measured (the LM step alone, Session stepping from that position, no decode: the fastest of --steps / 10
blocks of 10 steps), and the share of the limit.
Then the step's fixed cost, whatever it reads: the step of the same LM at width 128 (every op of it, ~1 % of the
bytes), and the share of the limit the bytes get in the rest of the step's time.
Also: the read bandwidth (a sum over a 1 GiB buffer, best of 5), the codec's incremental decode per frame (an int8
model's streams through int8 step matrices), and the real-time factor of a step and a decode in turn.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._common import set_threads  # noqa: E402


def read_bandwidth(gib: float = 1.0, runs: int = 5) -> float:
    """Bytes/s reading a large float32 buffer (torch's sum: the threads set)."""
    import torch

    x = torch.ones(int(gib * 2**30 // 4))
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        x.sum()
        best = min(best, time.perf_counter() - t)
    return x.numel() * 4 / best


def step_bytes(m, position: int) -> tuple[int, int]:
    """(weight bytes a step reads, KV cache bytes at `position`) for one guided voice (2 LM rows)."""
    import torch

    from loopgen.models.lm import Dense

    weights = 0
    for mod in m.lm.modules():
        if not isinstance(mod, Dense) or mod is m.lm.cross_kv:  # cross K/V: once per prompt, not per step
            continue
        if mod.int8 is not None:
            w = torch.ops.quantized.linear_unpack(mod.int8)[0]
            weights += w.numel() + w.shape[0] * 8  # int8 values, a double scale per row
        else:
            w = mod.weight.to_dense() if mod.weight.is_mkldnn else mod.weight
            weights += w.numel() * w.element_size()
    c = m.cfg.lm
    kv_item = m.lm.kv_dtype.itemsize  # float32 for int8 and (on the CPU) bfloat16 models
    kv = c.num_layers * 2 * 2 * position * c.dim * kv_item  # layers x (k, v) x rows x positions x dim
    return weights, kv


NARROW = 128  # the width of the narrow twin (fixed_ms)


def narrow_small() -> str:
    """musicgen-small's LM at width NARROW: its 24 layers, 16 heads, 4 codebooks and every op of a step, ~1 % of its
    weights and cache. Its step is what a step costs whatever it reads (Python, dispatch, the kernels' own set-up).
    A benchmark's own model kind, registered in this process only."""
    import dataclasses

    from loopgen.models import random_models

    small = random_models.CONFIGS["small"]
    lm = dataclasses.replace(small.lm, dim=NARROW, ffn_dim=4 * NARROW)
    random_models.CONFIGS["small-narrow"] = dataclasses.replace(small, lm=lm)
    return "random:small-narrow"


def session_at(m, position: int, steps: int):
    """A Session of model m stepped to `position`, with room for `steps` more."""
    from loopgen.streaming.session import Session

    s = Session(m, "lo-fi beat", seed=0, seconds=(position + steps + 10) / m.frame_rate)
    while s.next_frame < position - 4:  # to the position (its first steps pay the prompt's encoding)
        s.step()
    return s


def steps_per_second(s, steps: int, block: int = 10) -> float:
    """The rate of the fastest of `steps // block` blocks of steps in turn (this host's neighbours come and go)."""
    best = float("inf")
    for _ in range(max(1, steps // block)):
        t = time.perf_counter()
        for _ in range(block):
            s.step()
        best = min(best, (time.perf_counter() - t) / block)
    return 1 / best


def main(a) -> None:
    import torch

    from loopgen import load_model
    from loopgen.models.kernels import cpu_name
    from loopgen.streaming.decoder import IncrementalDecoder

    print(f"{cpu_name()}, {torch.get_num_threads()} threads; the read bandwidth (a 1 GiB sum, best of 5) measured "
          f"just before each dtype's steps, as this host's moves")
    print(f"{'dtype':9} {'GB/s':>5} {'weights MB':>10} {'KV MB':>6} {'limit steps/s':>13} {'measured':>9} {'share':>6} "
          f"{'fixed ms':>8} {'bytes share':>11} {'codec ms/frame':>14} {'real time x':>11}")
    for dt in a.dtypes.split(","):
        m = load_model("random:small", dtype=dt)
        weights, kv = step_bytes(m, a.position)
        s = session_at(m, a.position, a.steps * (1 + a.profile))
        bw = read_bandwidth()
        limit = bw / (weights + kv)
        rate = steps_per_second(s, a.steps)
        if a.profile:  # where a step's time goes: ops' own time (the rest of the wall time is Python between them)
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(a.steps):
                    s.step()
            ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
            total = sum(e.self_cpu_time_total for e in ops) / a.steps / 1000
            print(f"  {dt}: {1000 / rate:.1f} ms a step, {total:.1f} ms of it in ops (under the profiler):")
            for e in ops[:8]:
                ms = e.self_cpu_time_total / a.steps / 1000
                print(f"    {e.key[:52]:52} {ms:6.2f} ms {e.count // a.steps:5} calls")
        dec = IncrementalDecoder(m)  # float32, or int8 step matrices for an int8 model
        codes = torch.randint(0, 2048, (1, m.num_codebooks, 60))
        for i in range(10):
            dec.push(codes[..., i : i + 1])
        t = time.perf_counter()
        for i in range(10, 60):
            dec.push(codes[..., i : i + 1])
        decode_ms = (time.perf_counter() - t) / 50 * 1000
        real_time = 1000 / m.frame_rate / (1000 / rate + decode_ms)  # a step and its frame's decode, in turn
        del m, s, dec
        narrow = load_model(narrow_small(), dtype=dt)
        fixed_ms = 1000 / steps_per_second(session_at(narrow, a.position, a.steps), a.steps)
        del narrow
        # the bytes' part: what the bandwidth allows for them over what the step spends beyond its fixed cost
        bytes_share = 1000 / limit / max(1000 / rate - fixed_ms, 1e-9)
        print(f"{dt:9} {bw / 1e9:>5.1f} {weights / 1e6:>10.0f} {kv / 1e6:>6.0f} {limit:>13.1f} {rate:>9.1f} "
              f"{rate / limit:>6.0%} {fixed_ms:>8.1f} {bytes_share:>11.0%} "
              f"{decode_ms:>14.1f} {real_time:>11.2f}")
    print("fixed ms: the step of the same LM at width 128 (its ops, ~1 % of its bytes); bytes share: the limit's time "
          "for the bytes over the step's time beyond that")
    print("real time x: a frame's 20 ms over the step's and the codec's time in turn (real time: 1.00)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtypes", default="float32,bfloat16,int8")
    p.add_argument("--position", type=int, default=250)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--profile", action="store_true", help="also print each dtype's costliest ops per step")
    a = p.parse_args()
    set_threads(a.threads)
    main(a)
