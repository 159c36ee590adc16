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
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import LoopgenError

T = TypeVar("T")


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


def one_thread() -> None:
    """Run torch on one thread in this thread (the daemon's event loop, its saver; a Ray actor's calls).

    OpenMP (libgomp, torch's on Linux) keeps a pool of worker threads for every thread that ever ran a parallel
    region, for the thread's life. Once the pools' threads outnumber the cores, every parallel region anywhere wakes
    its team by futex instead of spinning: measured here, a 200k-element op took 14 us on the model's thread
    alone and 55-60 us beside one idle helper thread that had run parallel work once; musicgen-small int8 streamed at
    0.35x real time on a worker thread against 0.62x. So only the model's thread runs parallel work."""
    import torch

    torch.set_num_threads(1)


def run_alone(threads: int, fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) on `threads` torch threads, on a thread of its own that ends with it (its OpenMP pool goes with it:
    see one_thread): for one-off parallel work outside the model's thread (loading, warming up, timing)."""
    import threading

    import torch

    out: dict = {}

    def run() -> None:
        torch.set_num_threads(threads)
        try:
            out["value"] = fn(*args)
        except BaseException as e:  # raised again in the caller
            out["error"] = e

    t = threading.Thread(target=run, name="loopgen-once", daemon=True)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def adaptive_range(threads: int | None = None) -> tuple[int, int] | None:
    """`serve`'s policy: (low, high) to adapt between, or None where a count is given (`threads`, LOOPGEN_THREADS)."""
    return None if threads is not None or os.environ.get("LOOPGEN_THREADS") else thread_range()


def thread_range(cpu_count: int | None = None) -> tuple[int, int]:
    """(low, high) for the adaptive policy: all cores but one, and all cores (the same on one core)."""
    cores = cpu_count if cpu_count is not None else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                                      else os.cpu_count() or 1)
    return max(1, cores - 1), max(1, cores)


class ThreadGovernor:
    """The thread count a stepping loop should use next, from how long its steps take at each count.

    All cores are fastest on a quiet machine (+20-25 % against one core fewer on 2 cores, docs/benchmarks.md); with a
    busy neighbour a spinning OpenMP team waits on a descheduled thread and a step gets several times slower, where one
    core fewer loses ~15 %. Nothing in the OS says which case this is, portably, and in time: so the governor measures.
    It runs at `home` (first `high`) and keeps its recent step times on the same work (`sig`: the loop's batch shape;
    new work starts the comparison afresh). A trial runs `TRIAL` steps at the other count, then `TRIAL` at home, the
    first of each not counted (the team starting up), and moves home when the other's median beats home's by `MARGIN`:
    both sides measured just now, so a one-off slow step does not move it. A trial starts when a step takes `SPIKE`
    times the recent median (a neighbour woke) or every `period` steps (it may have gone); a trial that loses doubles
    the period (up to `MAX_PERIOD`), so a steady neighbour costs 3 slow steps in 256 (~3 %) and its going is seen
    within 256 steps; a move resets it. Pure: the caller times steps and applies the count (torch.set_num_threads, on
    the thread that steps)."""

    TRIAL = 4  # steps at each count per trial
    KEEP = 9  # recent step times kept at home
    SPIKE = 1.6  # a step this much slower than the recent median starts a trial at once
    MARGIN = 0.92  # the other count must take at most this share of home's time to win
    PERIOD, MAX_PERIOD = 64, 256  # steps at home between trials

    def __init__(self, low: int, high: int):
        self.low, self.high = low, high
        self.home = self.now = high
        self.period = self.PERIOD
        self.since = 0  # steps at home since the last trial
        self.sig: object = None
        self.recent: list[float] = []  # home's recent step times (same work)
        self.plan: list[int] = []  # the trial's counts still to run, after the current step
        self.trial: dict[int, list[float]] = {}

    @property
    def active(self) -> bool:
        return self.low != self.high

    def observe(self, seconds: float, sig: object = None) -> int:
        """A step of `seconds` at the count `now` on work `sig` -> the count for the next step."""
        if not self.active:
            return self.now
        if sig != self.sig:  # other work: times are not comparable; a trial in flight ends at home
            self.sig, self.recent, self.plan, self.trial, self.since = sig, [], [], {}, 0
            self.now = self.home
            return self.now
        if self.trial:  # in a trial: this step ran at `now`
            self.trial[self.now].append(seconds)
            if not self.plan:
                self._decide()
            else:
                self.now = self.plan.pop(0)
            return self.now
        base = _median(self.recent) if len(self.recent) >= 3 else None
        self.recent = (self.recent + [seconds])[-self.KEEP:]
        self.since += 1
        if self.since >= self.period or (base is not None and seconds > self.SPIKE * base and self.since > 1):
            other = self.low if self.home == self.high else self.high
            self.plan = [other] * (self.TRIAL - 1) + [self.home] * self.TRIAL
            self.trial, self.now, self.since = {other: [], self.home: []}, other, 0
        return self.now

    def _decide(self) -> None:
        other = self.low if self.home == self.high else self.high
        theirs, ours = self.trial[other][1:], self.trial[self.home][1:]  # each side's first step: the team starting
        self.trial = {}
        if theirs and ours and _median(theirs) < self.MARGIN * _median(ours):
            self.home, self.period, self.recent = other, self.PERIOD, theirs
        else:
            self.period, self.recent = min(self.MAX_PERIOD, self.period * 2), ours
        self.now = self.home


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]
