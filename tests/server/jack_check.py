"""Comparing what a JACK recorder heard with what the daemon should have played: the saved take resampled to JACK's
rate with the resampler's phase, the silences in a recording, where two differ, and when a take starts."""
from __future__ import annotations

import numpy as np
import soxr

from .jackd import RATE, Recorder


async def until(c, kind: str, id=None, timeout: float = 30.0) -> dict:
    """The next event of `kind` (for `id`); an error event fails the test."""
    while True:
        ev = await c.next_event(timeout)
        if ev["type"] == "error":
            raise AssertionError(ev)
        if ev["type"] == kind and (id is None or ev.get("id") == id):
            return ev


BEFORE = RATE // 20  # frames of silence compared before a take's first sample (the resampler's filter rings ahead)


def origin(server, id) -> int:
    """The mixer's sample (at the model's rate) where take `id` began playing."""
    return [v for k, v in server.player.origins.items() if k[1] == id][-1]


def as_played(server, id, x: np.ndarray) -> np.ndarray:
    """Take `id`'s saved audio `x` [n, C] as the mixer played it: where the daemon recorded a dropout (the model fell
    behind: `mixer.dropouts`), the take up to the sample where it stopped, the silence, then the take on from that
    sample. Each gap is checked whole: it went on, and nothing was skipped or repeated."""
    k = [k for k in server.player.origins if k[1] == id][-1]
    gaps = [g for g in server.player.mixer.dropouts if g[0] == k]
    parts, at, out = [], 0, server.player.origins[k]
    for _, pos, first, after in gaps:  # the take to `pos`, then silence from mixer sample `first` to `after`
        assert after is not None, gaps  # it went on
        assert first - out == pos - at, gaps  # nothing skipped, nothing repeated
        parts += [x[at:pos], np.zeros((after - first, x.shape[1]), np.float32)]
        at, out = pos, after
    parts.append(x[at:])
    return np.concatenate(parts)


def as_heard(x: np.ndarray, rate: int, start: int, after: float = 0.1) -> tuple[np.ndarray, int]:
    """What the speakers should carry for mixer output `x` [n, C] (at the model's `rate`) whose first sample is the
    mixer's sample `start`, resampled to JACK's rate, from BEFORE frames ahead of its first frame: (that, the frame
    index of x's end in it). The silence before it keeps the resampler's phase (3 output samples per 2 input ones)."""
    up, down = RATE // np.gcd(RATE, rate), rate // np.gcd(RATE, rate)
    pad = BEFORE * rate // RATE // down * down + start % down
    y = np.concatenate([np.zeros((pad, x.shape[1]), np.float32), x,
                        np.zeros((int(after * rate), x.shape[1]), np.float32)])
    skip = pad * up // down - BEFORE  # output frames of the padding beyond BEFORE
    return soxr.resample(y, rate, RATE)[skip:], BEFORE + int(x.shape[0] * RATE / rate)


def silences(x: np.ndarray, least: int = 100) -> list[tuple[int, int]]:
    """Runs of exact silence at least `least` frames long, as (first, after)."""
    z = np.concatenate([[False], np.all(np.abs(x) < 1e-7, axis=1), [False]])
    edges = np.flatnonzero(np.diff(z.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= least]


def differ(got: np.ndarray, want: np.ndarray, server=None, rec=None) -> str:
    """Where a recording departs from what it should be (the assertion's message)."""
    bad = np.flatnonzero(np.abs(got - want).max(axis=1) > 1e-5)
    if not len(bad):
        return "equal"
    line = f"{len(bad)} frames differ, from {bad[0]} to {bad[-1]}; silences heard {silences(got)}, " \
           f"expected {silences(want)}"
    if server is not None:
        p = server.player
        line += f"; underruns ring {p.ring.underruns} mixer {p.mixer.underruns}, JACK xruns {server.jack.xruns}"
    if rec is not None:
        line += f", recorder xruns {rec.xruns}"
    return line


def host_faults(server, rec=None) -> tuple[int, int, int]:
    """What a busy host did to the daemon's audio so far: the ring's underruns (its feeder starved), and the cycles
    JACK missed as the daemon's and the recorder's clients saw them (xruns)."""
    return server.player.ring.underruns, server.jack.xruns, rec.xruns if rec is not None else 0


def signed_diff(a: int, b: int) -> int:
    """a - b for JACK frame times (32-bit, wrapping)."""
    d = (a - b) % (1 << 32)
    return d - (1 << 32) if d >= 1 << 31 else d


def onset(rec: Recorder, frame: int, want: np.ndarray, search: int) -> int:
    """The JACK frame at which `want` (a take resampled to JACK's rate) starts in the recording, searched from
    `frame` on, to the frame (cross-correlation)."""
    n = want.shape[0]
    got = rec.at(frame, search + n)[:, 0]
    cc = np.correlate(got, want[:, 0], mode="valid")
    return frame + int(np.argmax(cc))
