"""The CPU thread policy: leave one core to the rest of the machine (a DAW is always a neighbour).

torch's OpenMP threads spin while they wait for each other; when another busy process shares their cores, a
spinning team waits on a thread that is not running, and a step gets several times slower. Measured on a 2-core
machine (docs/benchmarks.md, `python benchmarks/threads.py`): with a busy neighbour, 2 threads ran musicgen-small 3x
slower, 1 thread 1.15x slower, and 1 thread lost nothing when the machine was quiet (decoding is bound by memory
bandwidth, which one core already saturates there). Forcing a wait policy (OMP_WAIT_POLICY, GOMP_SPINCOUNT) made
things worse either way, so loopgen leaves it alone and chooses the number of threads.
"""
from __future__ import annotations

import os

from ..errors import LoopgenError


def default_threads(cpu_count: int | None = None) -> int:
    """LOOPGEN_THREADS if set, else all cores but one (at least 1)."""
    env = os.environ.get("LOOPGEN_THREADS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise LoopgenError(f"LOOPGEN_THREADS must be a whole number >= 1, got {env!r}")
        return int(env)
    cores = cpu_count if cpu_count is not None else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                                      else os.cpu_count() or 1)
    return max(1, cores - 1)


def set_threads(threads: int | None = None) -> int:
    """Apply the policy (or `threads`) to torch's intra-op pool; returns the number set. The CLI calls this for
    `render` and `serve`; library users call it themselves (loopgen does not change a process's threads on import)."""
    import torch

    n = default_threads() if threads is None else int(threads)
    if n < 1:
        raise LoopgenError(f"threads must be >= 1, got {n}")
    torch.set_num_threads(n)
    return n
