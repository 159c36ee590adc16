"""Admission by real-time capacity: a new stream is admitted only if every stream, it included, would still be made
at least as fast as it plays.

One model step advances every running stream together (one frame each for MusicGen; one decoding pass for MAGNeT),
so all streams go at the same pace: when the machine is overloaded anyway (a neighbour process), they slow down
evenly, never one client first. A step of n streams must take at most the audio one step makes per stream (MusicGen:
one frame, 20 ms at 50 Hz; MAGNeT: measured, a segment's audio over its passes), times a headroom for jitter.

The worker times every step (`record`); the step time of n streams is the median of the last steps at that size, and
for a size not seen yet a line a + b*n fitted through the sizes seen (with one size seen, half of it is taken as a
fixed cost: a GPU's step barely grows with the batch, a CPU's grows in proportion, and the next measurement says
which). The first stream is always admitted (a machine slower than real time still renders, as takes arrive after
they are made); the limit then adapts to the machine and its load: a GPU admits far more than a laptop's CPU.
"""
from __future__ import annotations

import statistics
from collections import deque

HEADROOM = 0.8  # a step may take at most this share of the audio it makes
KEEP = 32  # step times kept per batch size
SETTLED = 3  # steps at a size before its median counts


class Capacity:
    def __init__(self, seconds_per_step: float | None, headroom: float = HEADROOM):
        """seconds_per_step: audio one step makes per stream (None: measured from what the steps make)."""
        self.fixed = seconds_per_step
        self.headroom = headroom
        self.times: dict[int, deque] = {}
        self.made = 0.0  # audio seconds made per stream, summed over steps (for a measured budget)
        self.stream_steps = 0

    def record(self, n: int, seconds: float, audio_seconds: float = 0.0) -> None:
        """A step of `n` streams took `seconds` and made `audio_seconds` of audio in all."""
        if n <= 0:
            return
        self.times.setdefault(n, deque(maxlen=KEEP)).append(seconds)
        self.made += audio_seconds
        self.stream_steps += n

    @property
    def budget(self) -> float | None:
        """Seconds a step may take (None: not known yet)."""
        per_step = self.fixed
        if per_step is None:
            if self.made <= 0 or self.stream_steps < 4 * SETTLED:
                return None
            per_step = self.made / self.stream_steps
        return per_step * self.headroom

    def medians(self) -> dict[int, float]:
        return {n: statistics.median(t) for n, t in self.times.items() if len(t) >= SETTLED}

    def step_time(self, n: int) -> float | None:
        """The predicted seconds of a step of `n` streams (None: nothing measured yet)."""
        m = self.medians()
        if n in m:
            return m[n]
        if not m:
            return None
        sizes = sorted(m)
        if len(sizes) == 1:
            n0 = sizes[0]
            a = b = m[n0] / 2
            b /= n0
        else:
            mean_n = sum(sizes) / len(sizes)
            mean_t = sum(m[s] for s in sizes) / len(sizes)
            var = sum((s - mean_n) ** 2 for s in sizes)
            b = sum((s - mean_n) * (m[s] - mean_t) for s in sizes) / var
            b = max(b, 0.05 * m[sizes[-1]] / sizes[-1])  # never free: at least 5 % of the largest step per stream
            a = max(mean_t - b * mean_n, 0.0)
        return a + b * n

    def admits(self, running: int) -> tuple[bool, str]:
        """Whether one more stream fits next to `running` ones, and why not."""
        if running == 0:
            return True, ""
        t, budget = self.step_time(running + 1), self.budget
        if t is None or budget is None or t <= budget:
            return True, ""
        return False, (f"{running} stream(s) are what this machine makes in real time now (a step of {running + 1} "
                       f"would take {t * 1000:.1f} ms; real time allows {budget * 1000:.1f} ms)")
