"""Where the ring's audio goes: a PortAudio device (sounddevice), or a null output that plays nothing at real-time
pace (a machine without a sound card, the tests). JACK's output is in jack_io.py.

Every output reads the player's ring in its own callback or thread and answers, for a ring position, how many
seconds from now it is heard (`ahead`): the player schedules launches and reports starts with it.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from ..errors import LoopgenError


class NullOutput:
    """Consumes the ring at real-time pace, `period` frames at a time, as a sound card would."""

    latency = 0.0

    def __init__(self, rate: int, channels: int, period: int = 256):
        self.rate = rate
        self.period = period
        self.name = "none (headless)"
        self.channels = channels
        self.ring = None
        self.last_read: tuple[int, float] | None = None  # (ring position, perf_counter time) of its last read
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, name="loopgen-null-out", daemon=True)

    def start(self, ring) -> None:
        self.ring = ring
        self.last_read = (0, time.perf_counter())
        self.thread.start()

    def _run(self) -> None:
        out = np.zeros((self.period, self.channels), dtype=np.float32)
        t = time.perf_counter()
        while not self.halt.is_set():
            self.last_read = (self.ring.r, t)
            self.ring.read_into(out)
            t += self.period / self.rate
            time.sleep(max(0.0, t - time.perf_counter()))

    def played_at(self, index: int) -> float:
        """The perf_counter time ring position `index` is played (from the last read, so an underrun before it does
        not shift the answer)."""
        r, t = self.last_read
        return t + (index - r) / self.rate

    def ahead(self, index: int) -> float:
        return self.played_at(index) - time.perf_counter()

    def close(self) -> None:
        self.halt.set()
        self.thread.join(1.0)


class PortAudioOutput:
    """A sound card through PortAudio (`sounddevice`), by name or index, at its default rate."""

    def __init__(self, device: str | int, channels: int):
        import sounddevice as sd

        dev = int(device) if str(device).isdigit() else device
        try:
            info = sd.query_devices(dev, "output")
        except (ValueError, sd.PortAudioError) as e:
            raise LoopgenError(f"no audio output {device!r} ({e}); `loopgen devices` lists them, "
                               f"or use --audio-device none") from e
        self.rate = int(info["default_samplerate"])
        self.name = info["name"]
        self.ring = None
        self.cycle = (0, 0.0)  # (ring position, DAC time) of the last callback's first frame
        self.stream = sd.OutputStream(device=dev, samplerate=self.rate, channels=channels, dtype="float32",
                                      callback=self._callback, blocksize=0, latency="low")
        self.period = max(64, int(round(float(self.stream.latency) * self.rate / 2)))

    @property
    def latency(self) -> float:
        return float(self.stream.latency)

    def _callback(self, outdata, frames, time_info, status) -> None:  # real-time thread: no locks, no allocation
        dac = time_info.outputBufferDacTime or (time_info.currentTime + self.latency)
        self.cycle = (self.ring.r, dac)
        self.ring.read_into(outdata)

    def start(self, ring) -> None:
        self.ring = ring
        self.stream.start()

    def ahead(self, index: int) -> float:
        r, dac = self.cycle
        if dac == 0.0:  # before the first callback
            return (index - self.ring.r) / self.rate + self.latency
        return dac + (index - r) / self.rate - self.stream.time

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()
