"""Live audio out: a preallocated ring buffer read by the sound card's callback (or by a null output where there is
no device), fed at real-time pace by a feeder thread that mixes the playing source.

The callback never waits: it copies what the ring holds and plays silence, counted as underruns, when it runs dry.
What plays (a new loop on the next bar of the playing one, or of an Ableton Link session, crossfaded; a fade on stop)
is the streaming layer's Mixer; this module only moves its blocks to the device, and tells the mixer how far the
block it asks for is from the Link session's next bar line, counting the audio already queued ahead of it.
"""
from __future__ import annotations

import threading
import time
import numpy as np

from ..errors import LoopgenError
from ..streaming.mix import Mixer

FADE_SECONDS = 0.05  # how long close() lets a stop fade play


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
            self.underruns += 1
        self.r += have


class Player:
    """Feeds a Ring at the output rate from the playing Source, resampling from the model's rate with soxr."""

    def __init__(self, model_rate: int, channels: int, device: str | int | None = None, block: int = 1024,
                 clock=None):
        """`clock`: a LinkClock (serve --link) whose bar lines `launch(..., grid=True)` waits for."""
        import soxr

        self.model_rate = model_rate
        self.channels = channels
        self.block = block
        self.lock = threading.Lock()
        self.mixer = Mixer(channels)
        self.clock = clock
        self.starts: dict[object, int] = {}  # id -> output sample (ring position) where it began playing
        self.last_read: tuple[int, float] | None = None  # headless: (ring position, perf_counter time) of its last read
        self.stream = None
        self.device_name = "none (headless)"
        self.rate = model_rate
        if device is not None and str(device) != "none":
            self._open(device)
        self.resampler = soxr.ResampleStream(model_rate, self.rate, channels, dtype="float32")
        self.ring = Ring(int(self.rate * 0.5), channels)
        self.halt = threading.Event()
        self.feeder = threading.Thread(target=self._feed, name="loopgen-feeder", daemon=True)
        self.null = None if self.stream is not None else threading.Thread(target=self._null, daemon=True)

    def _open(self, device) -> None:
        import sounddevice as sd

        dev = int(device) if str(device).isdigit() else device
        try:
            info = sd.query_devices(dev, "output")
        except (ValueError, sd.PortAudioError) as e:
            raise LoopgenError(f"no audio output {device!r} ({e}); `loopgen devices` lists them, "
                               f"or use --audio-device none") from e
        self.rate = int(info["default_samplerate"])
        self.device_name = info["name"]
        self.stream = sd.OutputStream(device=dev, samplerate=self.rate, channels=self.channels, dtype="float32",
                                      callback=self._callback, blocksize=0, latency="low")

    def _callback(self, outdata, frames, time_info, status) -> None:  # real-time thread: no locks, no allocation
        self.ring.read_into(outdata)

    def start(self) -> None:
        self.feeder.start()
        if self.stream is not None:
            self.stream.start()
        else:
            self.null.start()

    def close(self) -> None:
        self.stop(fade=True)
        time.sleep(FADE_SECONDS * 2)
        self.halt.set()
        self.feeder.join(1.0)
        if self.stream is not None:
            self.stream.stop()
            self.stream.close()
        self.resampler = None

    # -- control (any thread): the mixer decides what plays, under the lock ----------------------------------
    def launch(self, id: object, bar_samples: int = 0, grid: bool = False) -> None:
        """Play job `id`'s audio from now (or from the next bar of the playing loop; `grid`: of the Link session)."""
        with self.lock:
            self.mixer.launch(id, bar_samples, grid and self.clock is not None)

    def feed(self, id: object, pcm: np.ndarray) -> None:
        """Streamed audio [n, C] of job `id` (ignored unless it is playing or about to)."""
        with self.lock:
            self.mixer.feed(id, pcm)

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
        return self.ring.underruns

    # -- threads -----------------------------------------------------------------------------------------------
    def _ahead(self) -> float:
        """Seconds until audio written to the ring now is heard: what the ring holds, plus the device's latency."""
        device = float(self.stream.latency) if self.stream is not None else 0.0
        return (self.ring.w - self.ring.r) / self.rate + device

    def _next_block(self) -> np.ndarray:
        until = None
        with self.lock:
            waiting = self.mixer.pending is not None and self.mixer.pending.grid
        if self.clock is not None and waiting:  # only while a launch waits for a bar
            until = self.clock.samples_to_bar(self._ahead(), self.model_rate)
        with self.lock:
            out = self.mixer.block(self.block, until)
            for id, k in self.mixer.started:
                self.starts[id] = self.ring.w + int(round(k * self.rate / self.model_rate))
            self.mixer.started.clear()
        while len(self.starts) > 64:
            del self.starts[next(iter(self.starts))]
        return out

    def _feed(self) -> None:
        while not self.halt.is_set():
            if self.ring.space() < self.block * 4:
                time.sleep(self.block / self.model_rate / 2)
                continue
            y = self.resampler.resample_chunk(self._next_block())
            if y.shape[0]:
                self.ring.write(y[: self.ring.space()])

    def played_at(self, index: int) -> float:
        """Headless: the perf_counter time the null output plays ring position `index` (from its last read, so an
        underrun before it does not shift the answer)."""
        r, t = self.last_read
        return t + (index - r) / self.rate

    def _null(self) -> None:
        """Headless: consume the ring at real-time pace, as a sound card would."""
        period = 256
        out = np.zeros((period, self.channels), dtype=np.float32)
        t = time.perf_counter()
        while not self.halt.is_set():
            self.last_read = (self.ring.r, t)
            self.ring.read_into(out)
            t += period / self.rate
            time.sleep(max(0.0, t - time.perf_counter()))
