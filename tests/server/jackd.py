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
    proc = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-S", "-d", "dummy", "-r", str(RATE), "-p",
                             str(PERIOD)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    time.sleep(0.3)  # (each early probe prints libjack's complaint)
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
    """A JACK client `name` recording `channels` inputs (in_1, ...) in its own process (jack_recorder.py) into a
    shared buffer indexed by JACK frame time: `at(frame, n)` is what reached its inputs from JACK frame `frame` on."""

    def __init__(self, server: str, channels: int = 1, seconds: float = 60.0, name: str = "recorder"):
        import sys
        import tempfile

        import jack

        self.frames, self.channels, self.name = int(seconds * RATE), channels, name
        self.path = tempfile.NamedTemporaryFile(suffix=".rec", delete=False).name
        with open(self.path, "wb") as f:
            f.truncate(4 * 8 + self.frames * channels * 4)
        self.head = np.memmap(self.path, np.int64, "r", shape=(4,))
        self.buf = np.memmap(self.path, np.float32, "r", offset=32, shape=(self.frames, channels))
        script = os.path.join(os.path.dirname(__file__), "jack_recorder.py")
        self.proc = subprocess.Popen([sys.executable, script, server, name, str(channels), str(self.frames),
                                      self.path], stdin=subprocess.PIPE)
        self.clock = jack.Client(f"{name}-clock", servername=server, no_start_server=True)  # frame times only
        deadline = time.monotonic() + 20
        while not self.head[3]:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the JACK recorder did not start")
            time.sleep(0.01)

    @property
    def f0(self) -> int:
        return int(self.head[0])

    @property
    def end(self) -> int:
        return int(self.head[1])

    @property
    def xruns(self) -> int:
        return int(self.head[2])

    def connect_from(self, *sources: str) -> None:
        for i, src in enumerate(sources):
            self.clock.connect(src, f"{self.name}:in_{i + 1}")

    def now(self) -> int:
        return self.clock.frame_time

    def wait_until(self, frame: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while ((self.f0 + self.end - frame) % (1 << 32)) >= (1 << 31) and time.monotonic() < deadline:
            time.sleep(0.01)

    def at(self, frame: int, n: int) -> np.ndarray:
        i = (frame - self.f0) % (1 << 32)
        return np.array(self.buf[i : i + n])

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.clock.close()
        del self.buf, self.head
        os.unlink(self.path)


class MidiSource:
    """A JACK client with a MIDI output (`out`): `send(*bytes)` goes out in its next cycle."""

    def __init__(self, server: str, name: str = "controller"):
        import queue

        import jack

        self.client = jack.Client(name, servername=server, no_start_server=True)
        self.port = self.client.midi_outports.register("out")
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.cycles = 0  # process cycles run
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames: int) -> None:
        self.port.clear_buffer()
        while not self.queue.empty():
            self.port.write_midi_event(0, self.queue.get_nowait())
        self.cycles += 1

    def send(self, *data: int) -> None:
        self.queue.put(bytes(data))

    def connect(self, target: str, timeout: float = 10.0) -> None:
        """Connect `out` to `target`, and return once this client's graph has the connection and two cycles have run
        since: a note sent at once could go out before the server's graph carries it (the daemon's own view lacked a
        fresh connection in 1 of 40 tries: jack_io.JackOutput._see_connected). A MIDI test once found no take after
        its note beside a busy process; that this was the cause is not confirmed."""
        self.client.connect(self.port, target)
        deadline = time.monotonic() + timeout
        while target not in {p.name for p in self.client.get_all_connections(self.port)}:
            if time.monotonic() > deadline:
                raise RuntimeError(f"JACK did not connect {self.port.name} to {target}")
            time.sleep(0.001)
        first = self.cycles
        while self.cycles < first + 2 and time.monotonic() < deadline:
            time.sleep(0.001)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


class TimebaseMaster:
    """A JACK timebase master at `bpm` in 4/4 (as Ardour would be), its transport rolling from frame 0: bar lines at
    transport frames that are multiples of a bar. `offset`: JACK frame time minus transport frame, while rolling."""

    TICKS = 1920.0

    def __init__(self, server: str, bpm: float = 100.0, name: str = "master"):
        import jack

        self.jack, self.bpm, self.offset = jack, bpm, None
        self.client = jack.Client(name, servername=server, no_start_server=True)
        self.client.set_timebase_callback(self._timebase)
        self.client.set_process_callback(self._process)
        self.client.activate()
        self.client.transport_frame = 0
        self.client.transport_start()

    @property
    def bar_frames(self) -> float:
        return 4 * 60.0 / self.bpm * RATE

    def _process(self, frames: int) -> None:
        state, pos = self.client.transport_query_struct()
        if state == self.jack.ROLLING and self.offset is None:
            self.offset = self.client.last_frame_time - pos.frame

    def _timebase(self, state, blocksize, pos, new_pos) -> None:
        beats = pos.frame / pos.frame_rate * self.bpm / 60.0
        bar, in_bar = divmod(beats, 4.0)
        pos.valid = self.jack._lib.JackPositionBBT
        pos.bar, pos.beat = int(bar) + 1, int(in_bar) + 1
        pos.tick = int((in_bar % 1.0) * self.TICKS)
        pos.bar_start_tick = bar * 4 * self.TICKS
        pos.beats_per_bar, pos.beat_type = 4.0, 4.0
        pos.ticks_per_beat, pos.beats_per_minute = self.TICKS, self.bpm

    def close(self) -> None:
        self.client.transport_stop()
        self.client.release_timebase()
        self.client.deactivate()
        self.client.close()
