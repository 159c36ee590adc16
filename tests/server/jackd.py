"""A real JACK server for the tests (jackd2's dummy backend: no sound card) and test clients on it: a recorder of
loopgen's output ports, a MIDI source, a timebase master. Each test module starts its own server under its own name
(parallel runs do not collide) and ends it by its pid."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import numpy as np
import pytest

RATE, PERIOD = 48000, 256


def start_jackd(tmp_path):
    """(server name, process): jackd --no-realtime -d dummy -r 48000 -p 256, waited for; skip where it is missing."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (Debian: apt install jackd2; .ci/run installs it)")
    jack = pytest.importorskip("jack", reason="JACK-Client is not installed (pip install 'loopgen[jack]')")
    name = f"loopgen-test-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    log = open(tmp_path / "jackd.log", "w")
    proc = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(RATE), "-p",
                             str(PERIOD)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            jack.Client("probe", servername=name, no_start_server=True).close()
            return name, proc
        except jack.JackError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"jackd did not start: {(tmp_path / 'jackd.log').read_text()[-2000:]}")
            time.sleep(0.05)


def stop_jackd(proc) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Recorder:
    """A JACK client recording `channels` inputs into one buffer indexed by JACK frame time (from when it started):
    `at(frame, n)` is what reached its inputs from JACK frame `frame` on."""

    def __init__(self, server: str, channels: int = 1, seconds: float = 60.0, name: str = "recorder"):
        import jack

        self.client = jack.Client(name, servername=server, no_start_server=True)
        self.ports = [self.client.inports.register(f"in_{i + 1}") for i in range(channels)]
        self.buf = np.zeros((int(seconds * RATE), channels), np.float32)
        self.f0: int | None = None
        self.end = 0  # frames recorded (from f0)
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames: int) -> None:
        f = self.client.last_frame_time
        if self.f0 is None:
            self.f0 = f
        i = (f - self.f0) % (1 << 32)
        if i + frames > self.buf.shape[0]:
            return
        for c, p in enumerate(self.ports):
            self.buf[i : i + frames, c] = p.get_array()
        self.end = i + frames

    def connect_from(self, *sources: str) -> None:
        for src, port in zip(sources, self.ports):
            self.client.connect(src, port)

    def now(self) -> int:
        return self.client.frame_time

    def wait_until(self, frame: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while (self.f0 is None or ((self.f0 + self.end - frame) % (1 << 32)) >= (1 << 31)) \
                and time.monotonic() < deadline:
            time.sleep(0.01)

    def at(self, frame: int, n: int) -> np.ndarray:
        i = (frame - self.f0) % (1 << 32)
        return self.buf[i : i + n].copy()

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()
