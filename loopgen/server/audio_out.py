"""Live audio out: a preallocated ring buffer read by the output's callback (a sound card through PortAudio, JACK,
or a null output where there is no device), fed by a feeder thread that mixes the playing source and resamples it
from the model's rate to the output's with one streaming soxr resampler (click-free across blocks and seams).

The callback never waits: it copies what the ring holds and plays silence, counted as underruns, when it runs dry.
The feeder makes audio up to `fill` frames ahead of the output (beside what the resampler holds back) and never
further, so the output latency is fixed and known (`latency`: that lead, the period the device takes at once, and the
device's own latency), and a launch is heard exactly one latency after it was asked for, to the sample (or on a bar
line); each start is reported with when it is heard (`on_playing`).
What plays (pre-roll, bar lines, crossfades, fades, dropouts) is the streaming layer's Mixer.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import numpy as np

from ..streaming.mix import Mixer, Preroll
from .outputs import NullOutput, PortAudioOutput

FADE_SECONDS = 0.05  # how long close() lets a stop fade play
FILL_SECONDS = 0.02  # the feeder tops the ring up to this far ahead of the output (at least two periods)
SLACK_SECONDS = 0.001  # added to the stated latency: a launch's deadline is never before its block can be heard
BRACKET_SECONDS = 0.0005  # a reading of the output's clock that took longer was preempted: it is read again ...
READINGS = 4  # ... this many times at most
SLIPPED_SECONDS = 0.1  # a bar line placed within this ahead that the next reading finds this much further on has
# slipped behind the block (the output ran dry in between)
log = logging.getLogger("loopgen.audio")


class Ring:
    """Single-producer single-consumer float32 ring of frames x channels."""

    def __init__(self, frames: int, channels: int):
        self.buf = np.zeros((frames, channels), dtype=np.float32)
        self.size = frames
        self.w = 0  # total frames written
        self.r = 0  # total frames read
        self.underruns = 0  # callbacks that found too little

    def space(self) -> int:
        return self.size - (self.w - self.r)

    def write(self, x: np.ndarray) -> None:  # x [n, C], n <= space()
        n = x.shape[0]
        i = self.w % self.size
        first = min(n, self.size - i)
        self.buf[i : i + first] = x[:first]
        self.buf[: n - first] = x[first:]
        self.w += n

    def read_into(self, out: np.ndarray) -> None:  # fills out [n, C] completely
        n = out.shape[0]
        have = min(n, self.w - self.r)
        i = self.r % self.size
        first = min(have, self.size - i)
        out[:first] = self.buf[i : i + first]
        out[first:have] = self.buf[: have - first]
        if have < n:
            out[have:] = 0.0
            if self.w:  # (before the feeder's first write the output is only starting)
                self.underruns += 1
        self.r += have


class Resampler:
    """The model's rate -> the output's, streaming (soxr), or a pass-through when they are equal. Input sample i is
    output time `i * ratio` (soxr keeps time zero aligned); `most_held` is the most it holds back."""

    def __init__(self, rate_in: int, rate_out: int, channels: int):
        import soxr

        self.ratio = rate_out / rate_in
        self.fed = 0  # input samples pushed
        self.out = 0  # output samples given
        self.stream = None if rate_in == rate_out else soxr.ResampleStream(rate_in, rate_out, channels,
                                                                          dtype="float32")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = x if self.stream is None else self.stream.resample_chunk(x)
        self.fed += x.shape[0]
        self.out += y.shape[0]
        return y

    def index(self, k: int) -> int:
        """The output position of input sample `fed + k` (a block's sample k, pushed next; the output sample at or
        before it, when it falls between two)."""
        return int((self.fed + k) * self.ratio)

    @staticmethod
    def most_held(rate_in: int, rate_out: int, channels: int, block: int) -> int:
        """The most output samples the resampler holds back, fed `block`-sample blocks (measured: soxr's is fixed
        by its filter and the block size)."""
        r, most = Resampler(rate_in, rate_out, channels), 0
        zeros = np.zeros((block, channels), dtype=np.float32)
        for _ in range(64):
            r(zeros)
            most = max(most, int(np.ceil(r.fed * r.ratio)) - r.out)
        return most


def headless(device: str | int | None) -> bool:
    """`--audio-device none` (or none given): the null output, a thread that only sleeps between reads."""
    return device is None or str(device) == "none"


class Player:
    """Mixes the playing source into the ring at the output's rate; sources launch and report when heard."""

    def __init__(self, model_rate: int, channels: int, device: str | int | None = None, block: int = 256,
                 clock=None, jack=None, connect: list[str] | None = None,
                 on_playing: Callable[[Any, float, int | None], None] | None = None, null_rate: int | None = None):
        """`clock`: a LinkClock or JackTransport whose bar lines `launch(..., grid=True)` waits for. `device`: None or
        "none" (headless), "jack" (through `jack`, a jack_io.JackClient), or a PortAudio device name or index.
        `on_playing(id, seconds until heard, JACK frame or None)`: each source's first sample, from the feeder.
        `null_rate`: the headless output's rate (default: the model's)."""
        self.model_rate = model_rate
        self.channels = channels
        self.block = block
        self.lock = threading.Lock()
        self.mixer = Mixer(channels, Preroll(model_rate))
        self.clock = clock
        self.on_playing = on_playing
        self.deadlines: dict[object, float] = {}  # id -> perf_counter time its launch is to be heard (non-grid)
        self.starts: dict[object, int] = {}  # id -> output sample (ring position) where it began playing
        self.origins: dict[object, int] = {}  # id -> the mixer's sample (model rate) where it began playing
        if headless(device):
            self.output = NullOutput(null_rate or model_rate, channels)
        elif str(device) == "jack":
            from .jack_io import JackOutput

            self.output = JackOutput(jack, channels, connect)
        else:
            self.output = PortAudioOutput(device, channels)
        self.rate = self.output.rate
        self.device_name = self.output.name
        self.resampler = Resampler(model_rate, self.rate, channels)
        self.held = Resampler.most_held(model_rate, self.rate, channels, block)
        self.fill = max(2 * self.output.period, int(FILL_SECONDS * self.rate))
        out_block = int(np.ceil(block * self.rate / model_rate))
        self.ring = Ring(self.fill + self.held + 4 * out_block + 4096, channels)
        self.faults = 0  # blocks the feeder could not make (what played was dropped)
        self._line: tuple[object, int] | None = None  # (pending id, model sample) where its bar line was last placed
        self.halt = threading.Event()
        self.feeder = threading.Thread(target=self._feed, name="loopgen-feeder", daemon=True)

    # -- what the host compensates -----------------------------------------------------------------------------
    @property
    def latency(self) -> float:
        """Seconds from a launch to the speakers: the most the feeder makes ahead of the output (`fill` in the ring
        and what the resampler holds back, `held`), the period the output takes at once and plays from its cycle's
        start on, the device's own latency, and a slack. Every launch's deadline so lies in audio still to be made,
        and the launch starts exactly on it."""
        return (self.fill + self.held + self.output.period) / self.rate + self.output.latency + SLACK_SECONDS

    def start(self) -> None:
        self.output.start(self.ring)
        self.feeder.start()

    def close(self) -> None:
        with self.lock:
            playing = self.mixer.current is not None
        self.stop(fade=True)
        if playing:  # let its fade reach the speakers (nothing playing: nothing to fade)
            time.sleep(FADE_SECONDS * 2)
        self.halt.set()
        self.feeder.join(1.0)
        self.output.close()

    # -- control (any thread): the mixer decides what plays, under the lock ----------------------------------
    def launch(self, id: object, bar_samples: int = 0, grid: bool = False, total: int | None = None,
               length: int | None = None) -> None:
        """Play `id`'s audio one latency from now (once its pre-roll is in), or on the next bar line of the playing
        loop (`bar_samples`), or (`grid`) of the outside clock. `total`: the samples its stream will bring;
        `length`: a loop's length."""
        grid = grid and self.clock is not None
        latency = self.latency
        with self.lock:  # (the deadline read here: no block is made between it and the launch)
            if not grid:
                self.deadlines[id] = time.perf_counter() + latency
                while len(self.deadlines) > 64:
                    del self.deadlines[next(iter(self.deadlines))]
            self.mixer.launch(id, bar_samples, grid, total, length)

    def feed(self, id: object, pcm: np.ndarray) -> None:
        """Streamed audio [n, C] of job `id` (ignored unless it is playing or about to)."""
        now = time.perf_counter()
        with self.lock:
            self.mixer.feed(id, pcm, now)

    def finished(self, id: object, loop: np.ndarray | None) -> None:
        with self.lock:
            self.mixer.finished(id, loop)

    def stop(self, fade: bool = True) -> None:
        with self.lock:
            self.mixer.stop(fade)

    @property
    def current(self):
        return self.mixer.current

    @property
    def volume(self) -> float:
        return self.mixer.volume

    @volume.setter
    def volume(self, v: float) -> None:  # set live (MIDI CC); applied by the feeder, never in the callback
        self.mixer.volume = float(v)

    @property
    def underruns(self) -> int:
        """Dropouts: the output found the ring short, or a playing stream ran dry (the model fell behind)."""
        return self.ring.underruns + self.mixer.underruns

    def played_at(self, index: int) -> float:
        """The perf_counter time ring position `index` is heard. The output answers from its own clock (JACK's frame
        time, PortAudio's stream time), which this places on perf_counter by reading that either side; a thread
        preempted in between (a busy host) would misplace the instant by the delay (a launch started that much
        early), so a reading taken over BRACKET_SECONDS is taken again (READINGS at most), and the instant is the
        narrowest bracket's middle."""
        best = (0.0, float("inf"), 0.0)
        for _ in range(READINGS):
            before = time.perf_counter()
            ahead = self.output.ahead(index)
            after = time.perf_counter()
            if after - before < best[1] - best[0]:
                best = (before, after, ahead)
            if after - before <= BRACKET_SECONDS:
                break
        before, after, ahead = best
        return (before + after) / 2 + ahead

    # -- the feeder thread -------------------------------------------------------------------------------------
    def _until(self) -> int | None:
        """Model-rate samples from the next block's first sample to the pending source's start line."""
        pend = self.mixer.pending
        if pend is None:
            return None
        index = self.resampler.index(0)  # where the next block's first sample lands in the ring
        if pend.grid:
            frame_of, frames_to_bar = getattr(self.output, "frame_of", None), getattr(self.clock, "frames_to_bar", None)
            if frame_of is not None and frames_to_bar is not None:  # JACK's transport on JACK's output: in frames
                frames = frames_to_bar(frame_of(index))
                k = None if frames is None else int(round(frames * self.model_rate / self.rate))
            else:  # two clocks: the output's and the outside one, read one after the other (see `_to_bar`)
                k = self._to_bar(index)
            return 0 if k is None else self._unslipped(pend.id, k)  # no bar line comes (a stopped transport): at once
        at = self.deadlines.get(pend.id)
        return None if at is None else int(round((at - self.played_at(index)) * self.model_rate))

    def _unslipped(self, id: object, k: int) -> int:
        """k, the samples from this block to the next bar line; or 0 where the line the last reading placed just
        ahead (within SLIPPED_SECONDS) has slipped behind this block, this reading finding the line after it
        instead: the output ran dry in between (a starved feeder: all it made is heard later by the silence). The
        launch starts now, late by part of that silence, not a whole bar late."""
        fed, near = self.resampler.fed, int(SLIPPED_SECONDS * self.model_rate)
        last, self._line = self._line, (id, fed + k)
        if last is not None and last[0] == id and 0 <= last[1] - fed < near and k > last[1] - fed + near:
            return 0
        return k

    def _to_bar(self, index: int) -> int | None:
        """Model-rate samples from ring position `index` to the outside clock's next bar line. The outside clock is
        read once, between two readings of the output's; the feeder may be preempted between them (a busy host), so
        the clock's instant is known only to lie between the two. The line is placed from the first reading (the
        nearest place it can be), unless a line lies between the two places: then it is now, this block. Placed
        from one reading alone, a line passed in such a gap was missed: the launch waited a whole bar more."""
        first = self.output.ahead(index)  # seconds until `index` is heard, read before the clock ...
        to_bar = self.clock.bar_lines()
        last = self.output.ahead(index)  # ... and after it
        longest, shortest = max(first, last), min(first, last)  # (an output's own estimate may waver: ordered)
        k, k_far = to_bar(longest, self.model_rate), to_bar(shortest, self.model_rate)
        if k is None or k_far is None:
            return None
        return 0 if k > k_far else k  # k <= k_far, unless a bar line lies between the two places: then it is now

    def _next_block(self, n: int) -> np.ndarray:
        with self.lock:
            until = self._until()
            try:
                out, fault = self.mixer.block(n, until), None
            except Exception as e:  # a fault in what plays must not end the daemon's sound for good: what played
                # stops here, under the lock (a launch that comes after it plays; the fault cannot come again)
                self.mixer.stop(fade=False)
                self.faults += 1
                out, fault = self.mixer.block(n), e  # silence, counted by the mixer as any block
            started = [(id, self.resampler.index(k), self.resampler.fed + k) for id, k in self.mixer.started]
            self.mixer.started.clear()
        if fault is not None:
            log.error("the audio out dropped what it played", exc_info=fault)
        for id, index, origin in started:
            self.starts[id], self.origins[id] = index, origin
            if self.on_playing is not None:
                frame_of = getattr(self.output, "frame_of", None)
                self.on_playing(id, self.output.ahead(index), frame_of(index) if frame_of else None)
        while len(self.starts) > 64:
            del self.starts[next(iter(self.starts))], self.origins[next(iter(self.origins))]
        return out

    def _feed(self) -> None:
        wait = min(0.005, self.output.period / self.rate / 2)
        most = self.fill + self.held  # output frames made ahead of the output's read position, at most
        while not self.halt.is_set():
            # model samples the next block may hold: up to `most` and no further (a block that went past it would
            # put audio where a launch's deadline, one `latency` on, should have started it), up to `block`
            n = min(self.block, int((most - (self.resampler.index(0) - self.ring.r)) / self.resampler.ratio))
            if n < 1:
                time.sleep(wait)
                continue
            try:
                y = self.resampler(self._next_block(n))
            except Exception:  # past the mixer (its faults are `_next_block`'s: here a clock, the resampler, the
                # playing report): the feeder goes on all the same, what played stops (a fault of its cannot recur)
                with self.lock:
                    self.mixer.stop(fade=False)
                self.faults += 1
                log.exception("the audio out lost a block")
                time.sleep(wait)
                continue
            if y.shape[0]:
                self.ring.write(y[: self.ring.space()])
