"""Ableton Link for `loopgen serve --link`: the session's tempo is the default bpm, and the daemon's own audio out
launches each new loop on the next Link bar.

`aalink` (GPL-3, so an optional extra: `pip install 'loopgen[link]'`) is imported only here, only when asked for.
Link's session state is read with thread-safe calls (the feeder thread asks for the next bar line; the event loop for
the tempo); nothing here runs in the audio callback.
"""
from __future__ import annotations

import math
from typing import Callable

from ..errors import LoopgenError

INSTALL = "pip install 'loopgen[link]'"


class LinkClock:
    """A peer in the LAN's Link session, with bars of `quantum` beats (Link aligns peers' phase modulo it).

    Create it on the event loop's thread (aalink binds its sync futures to the running loop); `tempo`, `peers` and
    `bar_lines` may be read from any thread."""

    def __init__(self, bpm: float = 120.0, quantum: float = 4.0):
        try:
            from aalink import Link
        except ImportError as e:
            raise LoopgenError(f"--link needs the aalink package: {INSTALL}") from e
        self.link = Link(float(bpm))
        self.link.quantum = float(quantum)
        self.link.enabled = True

    @property
    def tempo(self) -> float:
        return float(self.link.tempo)

    @property
    def peers(self) -> int:
        return int(self.link.num_peers)

    @property
    def quantum(self) -> float:
        return float(self.link.quantum)

    def beat(self, ahead: float = 0.0) -> float:
        """The session's beat `ahead` seconds from now (at the current tempo)."""
        return float(self.link.beat) + ahead * self.tempo / 60.0

    def bar_lines(self) -> Callable[[float, int], int]:
        """Reads the session's clock once: the answer gives the samples at `rate` from `ahead` seconds after that
        read to the session's next bar line (0 if on one)."""
        beat, tempo, quantum = float(self.link.beat), self.tempo, self.quantum
        return lambda ahead, rate: bar_distance(beat + ahead * tempo / 60.0, tempo, quantum, rate)

    def close(self) -> None:
        self.link.enabled = False


def bar_distance(beat: float, tempo: float, quantum: float, rate: int) -> int:
    """Samples at `rate` from `beat` to the next multiple of `quantum` beats, at `tempo` bpm."""
    beats = (-beat) % quantum
    if math.isclose(beats, quantum, abs_tol=1e-9):
        beats = 0.0
    return int(round(beats * 60.0 / tempo * rate))
