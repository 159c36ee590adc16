"""Which matmul the CPU runs for a dtype: chosen by measuring on this machine at first use, then cached.

Decoding multiplies a few rows (the voices and their guidance rows) by every weight: how fast that streams the
weights depends on the library and the CPU, not on a brand or a flag: oneDNN beat the default BLAS by 2x on one
AMD EPYC and tied it on an Intel Xeon, and bfloat16's oneDNN path is fast only where the CPU has bfloat16 dot
products. So each candidate is timed at decoding's shapes and the fastest is kept, per CPU model, torch version,
thread count and dtype, in `~/.cache/loopgen/kernels.json` (`$LOOPGEN_CACHE_DIR` or `$XDG_CACHE_HOME/loopgen` if
set). A candidate that fails here is never chosen. Delete the file to measure again.

Candidates (`lm.Dense` runs them):
- `packed`: oneDNN's inner product on a weight reordered once into its blocked layout;
- `onednn`: oneDNN's inner product on the plain weight;
- `linear`: `torch.nn.functional.linear` (the default BLAS).
"""
from __future__ import annotations

import functools
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from .cache import cache_dir, write_atomic

CANDIDATES = ("packed", "onednn", "linear")
SHAPES = ((2, 1024, 4096), (2, 4096, 1024), (2, 1024, 3072))  # (rows, in, out): a decoding step's matmuls
REPEATS = 12  # timed calls per candidate and shape (the best of them counts: the machine's noise only adds)
STREAMED = 48 * 2**20  # bytes of distinct weights a candidate cycles through per shape: more than a CPU's caches
# hold, so each call reads its weight from memory, as a step does (a hot weight would time the cache instead)
_chosen: dict[str, str] = {}  # this process's choices, by cache key


def cache_file() -> Path:
    return cache_dir() / "kernels.json"


@functools.cache
def cpu_name() -> str:
    """The CPU's model name (a cache key, never a reason for a choice)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


ISA_LIMITS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")  # env that narrows the kernels


def cache_key(dtype: torch.dtype) -> str:
    """What a choice depends on: the CPU, torch, threads, dtype, and the instruction sets the libraries may use
    (ATen's capability; oneDNN's and MKL's limits when set), so a run limited to AVX2 measures for itself."""
    limits = "".join(f" | {k}={os.environ[k]}" for k in ISA_LIMITS if os.environ.get(k))
    return (f"{cpu_name()} | torch {torch.__version__} | {torch.get_num_threads()} threads | {str(dtype)[6:]} | "
            f"{torch.backends.cpu.get_cpu_capability()}{limits}")


def choose(dtype: torch.dtype, timer: Callable[[Callable[[], object]], float] | None = None,
           candidates: tuple[str, ...] = CANDIDATES) -> str:
    """The fastest of `candidates` for `dtype` on this CPU: from this process's memory, the cache file, or
    measured now (then written to the file). `timer(fn) -> seconds` times one call (tests pass their own)."""
    key = cache_key(dtype) + " | " + ",".join(candidates)
    if key in _chosen:
        return _chosen[key]
    path = cache_file()
    table = _read(path)
    entry = table.get(key)
    if isinstance(entry, dict) and entry.get("choice") in candidates:
        _chosen[key] = entry["choice"]
        return entry["choice"]
    times = measure(dtype, timer or _time, candidates)
    choice = min(times, key=times.get) if times else candidates[-1]
    _chosen[key] = choice
    table[key] = {"choice": choice, "microseconds": {k: round(v * 1e6, 1) for k, v in times.items()}}
    _write(path, table)
    return choice


def measure(dtype: torch.dtype, timer: Callable[[Callable[[], object]], float],
            candidates: tuple[str, ...] = CANDIDATES) -> dict[str, float]:
    """Seconds per decoding step's worth of SHAPES, per candidate that runs here: each candidate's best call per
    shape, summed. The candidates take turns call by call, so a host whose speed drifts (a shared machine's does, by
    half within seconds) slows them alike instead of whichever was timed at the time."""
    g = torch.Generator(device="cpu").manual_seed(0)
    total: dict[str, float] = dict.fromkeys(candidates, 0.0)
    for rows, cin, cout in SHAPES:
        x = torch.randn(rows, cin, generator=g, device="cpu").to(dtype)
        w = (torch.randn(cout, cin, generator=g, device="cpu") / cin**0.5).to(dtype)
        copies = max(1, -(-STREAMED // (w.numel() * w.element_size())))
        fns = {}
        for name in list(total):
            try:
                fn = _call(name, x, [w.clone() for _ in range(copies)])
                for _ in range(copies):  # the first calls (a primitive made, pages touched) are not what a step pays
                    fn()
            except (AttributeError, RuntimeError, NotImplementedError):
                del total[name]  # not in this build, or not for this dtype
                continue
            fns[name] = fn
        best = dict.fromkeys(fns, float("inf"))
        for _ in range(max(REPEATS, copies)):
            for name, fn in fns.items():
                best[name] = min(best[name], timer(fn))
        for name, t in best.items():
            total[name] += t
    return total


@functools.cache
def runs(name: str, dtype: torch.dtype) -> bool:
    """Whether candidate `name` runs here for `dtype` and gives the right values (one small call): a take's record
    may name a kernel that the machine it was made on had and this one lacks (oneDNN's bfloat16 inner product needs
    AVX-512); a build without oneDNN has none of them. Its tensors are the CPU's whatever device is the default:
    the first layer probes while a checkpoint's model is built on "meta"."""
    try:
        x, w = torch.ones(2, 64, dtype=dtype, device="cpu"), torch.ones(32, 64, dtype=dtype, device="cpu")
        out = _call(name, x, [w])()
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
    return bool((out == 64).all())


def _call(name: str, x: torch.Tensor, ws: list[torch.Tensor]) -> Callable[[], torch.Tensor]:
    """One call of candidate `name` per call of the result, on the next of the weights `ws` in turn."""
    if name == "packed":
        ws = [torch.ops.mkldnn._reorder_linear_weight(w, None) for w in ws]
    at = [0]

    def fn() -> torch.Tensor:
        w = ws[at[0] % len(ws)]
        at[0] += 1
        if name == "linear":
            return F.linear(x, w)
        return torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")

    fn.kernel = name  # what a timer is timing
    return fn


def _time(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, table: dict) -> None:
    write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(table, indent=1, sort_keys=True)))
