"""What the speakers play, sans-I/O: the playing source, the one launched to follow it, and the blocks they make.

A source plays its streamed chunks as they arrive, then (a loop) its finished audio, repeated. A new launch starts
at once, or on the next bar line of a playing loop, or (`grid`: an outside clock such as Ableton Link) on the next
bar line the caller of `block` gives, with an equal-power crossfade over the rest of that block; stop fades the
playing block to silence. The audio out (server/audio_out.py) calls `block` from its feeder thread.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .dsp import crossfade, fade_out


@dataclass
class Source:
    """What the feeder plays: streamed chunks as they arrive, then (for a loop) the finished loop, repeated."""

    id: object
    chunks: list = field(default_factory=list)  # [n, C] arrays not yet played
    loop: np.ndarray | None = None  # [N, C] once finished
    bar: int = 0  # samples per bar (0: not bar-synced)
    grid: bool = False  # starts on the outside clock's next bar line (block's until_bar)
    pos: int = 0  # samples of this source played so far
    ended: bool = False

    def pull(self, n: int, channels: int) -> np.ndarray:
        out = np.zeros((n, channels), dtype=np.float32)
        got = 0
        while got < n and self.chunks:
            c = self.chunks[0]
            take = min(n - got, c.shape[0])
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
        return out



class Mixer:
    def __init__(self, channels: int):
        self.channels = channels
        self.current: Source | None = None
        self.pending: Source | None = None
        self.fading_out = False
        self.volume = 1.0  # output gain, set live (MIDI CC)
        self.started: list[tuple[object, int]] = []  # (id, sample of its block) of each source that began playing

    def launch(self, id: object, bar_samples: int = 0, grid: bool = False) -> None:
        src = Source(id, bar=bar_samples, grid=grid)
        if self.current is None and not grid:
            self.current = src
            self.started.append((id, 0))
        else:
            self.pending = src  # crossfaded in: at once, or on the next bar line (the playing loop's, or the grid's)
        self.fading_out = False

    def feed(self, id: object, pcm: np.ndarray) -> None:
        for s in (self.current, self.pending):
            if s is not None and s.id == id:
                s.chunks.append(pcm)

    def finished(self, id: object, loop: np.ndarray | None) -> None:
        for s in (self.current, self.pending):
            if s is not None and s.id == id:
                s.loop = loop
                s.ended = True

    def stop(self, fade: bool = True) -> None:
        self.fading_out = fade
        if not fade:
            self.current = self.pending = None

    def block(self, n: int, until_bar: int | None = None) -> np.ndarray:
        """The next n samples [n, C], at the output volume. `until_bar`: samples from this block's first sample to the
        outside clock's next bar line (where a `grid` launch starts); None when there is no outside clock."""
        out = self._block(n, until_bar)
        return out if self.volume == 1.0 else out * np.float32(self.volume)

    def _pull(self, src: Source | None, n: int) -> np.ndarray:
        return src.pull(n, self.channels) if src is not None else np.zeros((n, self.channels), dtype=np.float32)

    def _block(self, n: int, until_bar: int | None) -> np.ndarray:
        cur, pend = self.current, self.pending
        if self.fading_out:
            out = fade_out(self._pull(cur, n))
            self.current = self.pending = None
            self.fading_out = False
            return out
        if pend is None:
            return self._pull(cur, n)
        # switch: at once, on the outside clock's next bar line, or on the playing loop's next bar line
        if pend.grid:
            k = until_bar if until_bar is not None else 0
        else:
            k = 0 if (cur is None or cur.bar == 0 or cur.loop is None) else (-cur.pos) % cur.bar
        if k >= n:
            return self._pull(cur, n)
        head = self._pull(cur, k)
        old, new = self._pull(cur, n - k), pend.pull(n - k, self.channels)
        self.current, self.pending = pend, None
        self.started.append((pend.id, k))
        return np.concatenate([head, crossfade(old, new) if cur is not None else new])
