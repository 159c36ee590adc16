"""What the speakers play, sans-I/O: the playing source, the one launched to follow it, and the blocks they make.

A source plays its streamed chunks as they arrive, then (a loop) its finished audio, repeated. A new launch starts
at a start line the caller gives (`until`: samples from the block's first sample; the audio out puts it one output
latency after the command, or on an outside clock's bar line for `grid`), or on the next bar line of a playing
loop, with an equal-power crossfade over the rest of that block; stop fades the playing block to silence.

A streamed source is made while it plays, so it starts only once it holds its **pre-roll**: enough audio that, at
the rate its chunks have been arriving, it cannot run dry before its end (`Preroll`). When it still runs dry (the
model slowed: more streams joined), the gap plays silence, counted in `underruns`, and the source waits for a new
pre-roll before it goes on from the sample where it stopped: the audio after a gap is the take's, in order.
The audio out (server/audio_out.py) calls `block` from its feeder thread.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .dsp import crossfade, fade_out


@dataclass
class Preroll:
    """When a streamed source may play: it holds `margin` seconds (at least `minimum`, and `jitter` times the
    longest wait seen between two of its chunks), plus what its end needs when it arrives slower than real time:
    with `remaining` samples to come at `r` x real time (its measured rate over `slack`), `remaining * (1 - r) / r`
    more."""

    rate: int  # the model's sample rate
    minimum: float = 0.1  # seconds
    jitter: float = 2.0
    slack: float = 1.15  # the rate is taken this much slower than measured (it wavers: other streams, the CPU)

    def need(self, s: "Source") -> float:
        """Samples `s` must hold before it plays (inf: not enough arrivals yet to know its rate)."""
        if s.arrivals < 2 or s.last_t <= s.first_t:
            return float("inf")
        margin = max(self.minimum, self.jitter * s.gap) * self.rate
        r = (s.arrived - s.first_n) / (s.last_t - s.first_t) / self.rate / self.slack  # x real time (since its
        # first chunk), less the slack
        if s.total is None or r >= 1.0:
            return margin
        remaining = max(0, s.total - s.arrived)
        return margin + remaining * (1.0 - r) / max(r, 1e-3)


@dataclass
class Source:
    """What the feeder plays: streamed chunks as they arrive, then (for a loop) the finished loop, repeated."""

    id: object
    chunks: list = field(default_factory=list)  # [n, C] arrays not yet played
    loop: np.ndarray | None = None  # [N, C] once finished
    bar: int = 0  # samples per bar (0: not bar-synced)
    grid: bool = False  # starts on the outside clock's next bar line (block's `until`)
    total: int | None = None  # samples the stream will bring (None: unknown)
    length: int | None = None  # a loop's length: its stream plays to there, then the loop (its overrun never plays:
    # the loop's head, the overrun crossfaded in, is what follows its last sample)
    pos: int = 0  # samples of this source played so far
    ended: bool = False
    buffering: bool = True  # waits for its pre-roll (before its first sample, and after running dry)
    # arrivals, for the pre-roll: count, samples, the first chunk's time and size, the last chunk's time, the
    # longest wait between two chunks after the first (seconds)
    arrivals: int = 0
    arrived: int = 0
    first_t: float = 0.0
    first_n: int = 0
    last_t: float = 0.0
    gap: float = 0.0

    def add(self, pcm: np.ndarray, now: float | None) -> None:
        self.chunks.append(pcm)
        self.arrived += pcm.shape[0]
        if now is None:
            return
        if self.arrivals == 0:
            self.first_t, self.first_n = now, pcm.shape[0]
        elif self.arrivals >= 2:
            self.gap = max(self.gap, now - self.last_t)
        self.last_t = now
        self.arrivals += 1

    @property
    def buffered(self) -> int:
        """Streamed samples it holds that will play (not a loop's overrun)."""
        n = sum(c.shape[0] for c in self.chunks)
        return n if self.length is None else min(n, max(0, self.length - self.pos))

    def ready(self, preroll: Preroll | None) -> bool:
        """May it play now (a finished or looping source always may)?"""
        if self.ended or self.loop is not None:
            return True
        if self.length is not None and self.pos >= self.length:
            return False  # a loop played to its length: its wrapped head comes with its end
        have = self.buffered
        return have > 0 and (preroll is None or have >= preroll.need(self))

    def pull(self, n: int, channels: int) -> np.ndarray:
        out = np.zeros((n, channels), dtype=np.float32)
        got = 0
        limit = n if self.length is None else min(n, max(0, self.length - self.pos))
        while got < limit and self.chunks:
            c = self.chunks[0]
            take = min(limit - got, c.shape[0])
            out[got : got + take] = c[:take]
            got += take
            self.chunks[0] = c[take:]
            if not self.chunks[0].shape[0]:
                self.chunks.pop(0)
        self.pos += got  # streamed samples count too: the loop goes on from the take's sample `pos`
        if got < n and self.loop is not None and self.loop.shape[0]:
            while got < n:
                i = self.pos % self.loop.shape[0]
                take = min(n - got, self.loop.shape[0] - i)
                out[got : got + take] = self.loop[i : i + take]
                got += take
                self.pos += take
        if got < n and not self.ended:
            self.buffering = True  # ran dry mid-stream: silence from here, and a new pre-roll before it goes on
        return out


class Mixer:
    def __init__(self, channels: int, preroll: Preroll | None = None):
        """`preroll`: None plays streamed chunks the moment they come (the sans-I/O tests of the mechanics)."""
        self.channels = channels
        self.preroll = preroll
        self.current: Source | None = None
        self.pending: Source | None = None
        self.fading_out = False
        self.volume = 1.0  # output gain, set live (MIDI CC)
        self.underruns = 0  # times a playing stream ran dry (silence until it had its pre-roll again)
        self.emitted = 0  # samples made by `block` so far: the index of the next block's first sample
        self.dropouts: deque = deque(maxlen=256)  # [id, take sample, first silent sample, first sample after]
        self.started: list[tuple[object, int]] = []  # (id, sample of its block) of each source that began playing

    def launch(self, id: object, bar_samples: int = 0, grid: bool = False, total: int | None = None,
               length: int | None = None) -> None:
        """Play `id` next: at the start line `block` is given, or (a playing loop with bars) on its next bar line.
        `total`: samples its stream brings; `length`: a loop's length (its stream plays to there, then the loop)."""
        self.pending = Source(id, bar=bar_samples, grid=grid, total=total, length=length)
        self.fading_out = False

    def _sources(self, id: object):
        return [s for s in (self.current, self.pending) if s is not None and s.id == id]

    def feed(self, id: object, pcm: np.ndarray, now: float | None = None) -> None:
        """Streamed audio [n, C] of `id`, arrived at `now` (seconds, any steady clock: the pre-roll's rate)."""
        for s in self._sources(id):
            s.add(pcm, now)

    def finished(self, id: object, loop: np.ndarray | None) -> None:
        for s in self._sources(id):
            s.loop = loop
            s.ended = True

    def stop(self, fade: bool = True) -> None:
        self.fading_out = fade
        if not fade:
            self.current = self.pending = None

    def block(self, n: int, until: int | None = None) -> np.ndarray:
        """The next n samples [n, C], at the output volume. `until`: samples from this block's first sample to the
        pending source's start line (where a launch starts; None or <= 0: at once)."""
        out = self._block(n, until)
        self.emitted += n
        return out if self.volume == 1.0 else out * np.float32(self.volume)

    def _pull(self, src: Source | None, n: int, at: int = 0) -> np.ndarray:
        """n samples of `src`, the first being this block's sample `at`."""
        if src is None or n <= 0:
            return np.zeros((max(n, 0), self.channels), dtype=np.float32)
        if src.buffering:
            if not src.ready(self.preroll):
                return np.zeros((n, self.channels), dtype=np.float32)
            src.buffering = False
            if self.dropouts and self.dropouts[-1][0] == src.id and self.dropouts[-1][3] is None:
                self.dropouts[-1][3] = self.emitted + at  # it goes on here
        pos = src.pos
        out = src.pull(n, self.channels)
        if src.buffering:
            self.underruns += 1
            self.dropouts.append([src.id, src.pos, self.emitted + at + (src.pos - pos), None])
        return out

    def _block(self, n: int, until: int | None) -> np.ndarray:
        cur, pend = self.current, self.pending
        if cur is not None and cur.ended and cur.loop is None and not cur.chunks:
            self.current = cur = None  # played to its end: what follows starts from silence, not crossfaded in
        if self.fading_out:
            out = fade_out(self._pull(cur, n))
            self.current = self.pending = None
            self.fading_out = False
            return out
        if pend is None:
            return self._pull(cur, n)
        # the start line: the caller's (at once, a deadline, the outside clock's bar line) or the playing loop's bar
        if not pend.grid and cur is not None and cur.bar and cur.loop is not None:
            k = (-cur.pos) % cur.bar
        else:
            k = max(0, until or 0)
        if k >= n:
            return self._pull(cur, n)
        if not pend.ready(self.preroll):  # its pre-roll is not in yet: a bar-line start waits for the next line
            return self._pull(cur, n)
        head = self._pull(cur, k)
        old = self._pull(cur, n - k, k)
        self.current, self.pending = pend, None
        new = self._pull(pend, n - k, k)
        self.started.append((pend.id, k))
        return np.concatenate([head, crossfade(old, new) if cur is not None else new])
