"""Does decoding the previous frame beside the next step pay on a CPU? musicgen-small's architecture, frame by frame.

    python benchmarks/overlap.py [--dtype int8] [--threads 2] [--frames 120] [--runs 2]

Printed per run, milliseconds per frame (a step and its frame's incremental decode):
- in turn: one thread steps and decodes, as `stream_audio` and the daemon's worker do;
- beside, decode on 1 thread: a second Python thread decodes frame n while the first steps frame n+1;
- beside, decode on N threads: the same with the decoder's thread on the step's count.
The step's OpenMP team spins between its parallel regions (libgomp's default), so the "idle" core of the step's
Python and small ops is not idle; `OMP_WAIT_POLICY=passive` frees it but wakes each region by futex.
"""
from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._common import set_threads  # noqa: E402

WARM = 20  # frames before timing (the prompt's encoding, first calls)


def per_frame(m, frames: int, decode_threads: int | None) -> float:
    """Milliseconds per frame: decoded in turn on this thread (decode_threads None), or beside the next step on a
    second thread running torch on `decode_threads` (the last frame's decode counts)."""
    import torch

    from loopgen.streaming.decoder import IncrementalDecoder
    from loopgen.streaming.session import Session

    s, d = Session(m, "lo-fi beat", seed=0, seconds=(WARM + frames + 10) / m.frame_rate), IncrementalDecoder(m)
    push, th, q = d.push, None, queue.Queue()
    if decode_threads is not None:
        def decode() -> None:
            torch.set_num_threads(decode_threads)
            while (codes := q.get()) is not None:
                d.push(codes)

        push, th = q.put, threading.Thread(target=decode)
        th.start()
    it = iter(s)
    for _ in range(WARM):
        push(next(it).codes[..., None])
    t = time.perf_counter()
    for _ in range(frames):
        push(next(it).codes[..., None])
    if th is not None:
        q.put(None)
        th.join()
    return (time.perf_counter() - t) / frames * 1000


def main(a) -> None:
    import torch

    from loopgen import load_model
    from loopgen.models.kernels import cpu_name

    set_threads(a.threads)
    m = load_model("random:small", dtype=a.dtype)
    n = torch.get_num_threads()
    print(f"{cpu_name()}, {n} threads, random:small {a.dtype}; ms per frame (a step and its decode)")
    print(f"{'run':>3} {'in turn':>8} {'beside, decode 1 thread':>24} {f'beside, decode {n} threads':>25}")
    for r in range(a.runs):
        print(f"{r + 1:>3} {per_frame(m, a.frames, None):>8.1f} {per_frame(m, a.frames, 1):>24.1f} "
              f"{per_frame(m, a.frames, n):>25.1f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dtype", default="int8")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--runs", type=int, default=2)
    main(p.parse_args())
