"""JACK for `serve --audio-device jack`, `--midi jack` and `--jack-transport`: one JACK client named after loopgen
with its output ports (out_1, out_2), a MIDI input port (midi_in) and the transport's tempo and bars.

`JACK-Client` (the `jack` module, an optional extra: `pip install 'loopgen[jack]'`) is imported only here, only when
asked for; libjack comes with the JACK server (Debian: jackd2). The process callback runs on JACK's thread: it copies
the ring into the ports, hands MIDI events to the event loop (call_soon_threadsafe) and notes the transport's
position, nothing else (JACK-Client calls it
holding the GIL, which is why the daemon shortens the interpreter's switch interval while JACK is in use).
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..errors import LoopgenError

INSTALL = "pip install 'loopgen[jack]'"
WRAP = 1 << 32  # JACK frame times are 32-bit counters


def _jack():
    try:
        import jack
    except ImportError as e:
        raise LoopgenError(f"JACK needs the JACK-Client package: {INSTALL}") from e
    except OSError as e:  # the module is there, libjack is not
        raise LoopgenError(f"JACK needs libjack (Debian: apt install jackd2): {e}") from e
    return jack


def signed(d: int) -> int:
    """A difference of two JACK frame times, across the counter's wrap."""
    d %= WRAP
    return d - WRAP if d >= WRAP // 2 else d


class JackClient:
    """The daemon's one JACK client. `server`: the JACK server's name (None: JACK's default, $JACK_DEFAULT_SERVER)."""

    def __init__(self, server: str | None = None, name: str = "loopgen"):
        jack = _jack()
        self.jack = jack
        try:
            self.client = jack.Client(name, servername=server, no_start_server=True)
        except jack.JackError as e:
            where = f"JACK server {server!r}" if server else "a JACK server"
            raise LoopgenError(f"cannot reach {where} ({e}); start one (jackd, qjackctl, Carla) or choose another "
                               f"--audio-device") from None
        self.rate = int(self.client.samplerate)
        self.period = int(self.client.blocksize)
        self.parts: list[Callable[[int], None]] = []  # process steps, in order
        self.xruns = 0
        self.gone = False  # the server shut down or threw us out
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.set_shutdown_callback(self._shutdown)
        self._ffi = None

    @property
    def name(self) -> str:
        return self.client.name

    def _process(self, frames: int) -> None:
        for part in self.parts:
            part(frames)

    def _xrun(self, delay: float) -> None:
        self.xruns += 1

    def _shutdown(self, status, reason) -> None:
        self.gone = True

    def activate(self) -> None:
        self.client.activate()

    def close(self) -> None:
        try:
            self.client.deactivate()
            self.client.close()
        except self.jack.JackError:
            pass

    def playback_latency(self, port) -> int:
        """Frames from our output `port` to the speakers: the most any port it feeds reports (JACK keeps each
        port's latency range; JACK-Client does not expose it, so it is read through libjack with cffi)."""
        if self._ffi is None:
            import cffi

            ffi = cffi.FFI()
            ffi.cdef("typedef struct { uint32_t min; uint32_t max; } jack_latency_range_t;"
                     "void jack_port_get_latency_range(void *port, int mode, jack_latency_range_t *range);")
            self._ffi, self._lib = ffi, ffi.dlopen("libjack.so.0")
        ffi, worst = self._ffi, 0
        for other in self.client.get_all_connections(port):
            r = ffi.new("jack_latency_range_t *")
            ptr = ffi.cast("void *", self.jack._ffi.cast("uintptr_t", other._ptr))
            self._lib.jack_port_get_latency_range(ptr, 1, r)  # JackPlaybackLatency
            worst = max(worst, int(r.max))
        return worst


class JackOutput:
    """Audio out to JACK: `channels` output ports read from the player's ring in JACK's process callback."""

    def __init__(self, jc: JackClient, channels: int, connect: list[str] | None):
        """`connect`: ports to connect out_1.. to, in order (None: the system's playback ports, when there are)."""
        self.jc = jc
        self.rate = jc.rate
        self.period = jc.period
        self.name = f"JACK ({', '.join(f'{jc.name}:out_{i + 1}' for i in range(channels))})"
        self.ports = [jc.client.outports.register(f"out_{i + 1}") for i in range(channels)]
        self.scratch = np.zeros((max(8192, self.period), channels), dtype=np.float32)
        self.connect_to = connect
        self.ring = None
        self.cycle = (0, 0)  # (ring read position, JACK frame time) at the start of the last cycle
        self._latency = 0  # frames: what the connected ports report, read again after the graph changes
        self._dirty = False
        jc.parts.append(self._process)
        jc.client.set_graph_order_callback(self._graph_changed)

    def _graph_changed(self) -> None:  # JACK's notification thread: no JACK calls here, a flag only
        self._dirty = True

    def _process(self, frames: int) -> None:  # JACK's thread
        out = self.scratch[:frames]
        self.cycle = (self.ring.r, self.jc.client.last_frame_time)
        self.ring.read_into(out)
        for c, port in enumerate(self.ports):
            port.get_array()[:] = out[:, c]

    def start(self, ring) -> None:
        self.ring = ring
        self.jc.activate()
        targets = self.connect_to
        if targets is None:
            system = self.jc.client.get_ports(is_physical=True, is_input=True, is_audio=True)
            targets = [p.name for p in system][:2]
        pairs = list(zip(self.ports, targets))
        if len(self.ports) == 1 and len(targets) >= 2:  # mono on both speakers
            pairs.append((self.ports[0], targets[1]))
        elif len(self.ports) == 2 and len(targets) == 1:  # stereo into one speaker: both sides
            pairs.append((self.ports[1], targets[0]))
        for port, target in pairs:
            try:
                self.jc.client.connect(port, target)
            except self.jc.jack.JackError as e:
                raise LoopgenError(f"cannot connect {port.name} to {target!r} ({e}); `jack_lsp` lists the ports")
        self._see_connected(pairs)
        self.refresh_latency()

    def _see_connected(self, pairs: list, timeout: float = 2.0) -> None:
        """Wait until this client's view of the graph has the connections just made: on a loaded 2-core machine it
        lacked them right after `connect` in 1 of 40 tries, and a latency read then finds no port to ask (a stated
        latency one period short, which a test saw once there). Start-up only; past the timeout the next graph
        change reads it again."""
        deadline = time.monotonic() + timeout
        for port, target in pairs:
            while target not in {p.name for p in self.jc.client.get_all_connections(port)}:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.001)

    def refresh_latency(self) -> None:
        self._dirty = False
        self._latency = max((self.jc.playback_latency(p) for p in self.ports), default=0)

    def _frames(self) -> int:
        """The device's latency in frames: what the ports our outputs feed report (re-read after a graph change:
        a patchbay connection made while the daemon runs counts from then on)."""
        if self._dirty:
            self.refresh_latency()
        return self._latency

    @property
    def latency(self) -> float:
        return self._frames() / self.rate

    def ahead(self, index: int) -> float:
        """Seconds from now until ring position `index` is heard."""
        r, frame = self.cycle
        heard = frame + (index - r) + self._frames()
        return signed(heard - self.jc.client.frame_time) / self.rate

    def frame_of(self, index: int) -> int:
        """The JACK frame time at which ring position `index` is heard."""
        r, frame = self.cycle
        return (frame + (index - r) + self._frames()) % WRAP

    def close(self) -> None:
        pass  # the JackClient closes once, for all its parts


class JackMidiIn:
    """A JACK MIDI input port (`midi_in`); each event becomes a mido Message handed to `callback` off JACK's
    thread (the event loop's call_soon_threadsafe)."""

    def __init__(self, jc: JackClient, callback: Callable[[Any], None]):
        import mido

        self.jc = jc
        self.port = jc.client.midi_inports.register("midi_in")
        self.callback = callback
        self.mido = mido
        jc.parts.append(self._process)

    def _process(self, frames: int) -> None:  # JACK's thread
        for _offset, data in self.port.incoming_midi_events():
            try:
                msg = self.mido.Message.from_bytes(bytes(data))
            except (ValueError, TypeError):
                continue  # sysex fragments, running status: not ours
            self.callback(msg)

    def close(self) -> None:
        pass


class JackTransport:
    """JACK's transport as the daemon's clock (`serve --jack-transport`): the timebase master's tempo and bars (its
    BBT position). Its `tempo` is None while no timebase master gives BBT; while the transport is stopped, no bar
    line comes, and a launch starts at once.

    The position is read in JACK's process callback, with the cycle's own frame time, so that a bar line is a JACK
    frame time, compared with the frame time a sample is heard at (JackOutput.frame_of): no wall-clock estimate."""

    def __init__(self, jc: JackClient):
        self.jc = jc
        # (JACK frame time of the cycle's start, beats into the bar there, bpm, beats per bar) while rolling with
        # BBT, else None
        self.position: tuple[int, float, float, float] | None = None
        jc.parts.append(self._process)

    def _process(self, frames: int) -> None:  # JACK's thread
        state, pos = self.jc.client.transport_query_struct()
        if state != self.jc.jack.ROLLING or not pos.valid & self.jc.jack._lib.JackPositionBBT \
                or pos.beats_per_minute <= 0 or pos.ticks_per_beat <= 0:
            self.position = None
            return
        beat = (pos.beat - 1) + pos.tick / pos.ticks_per_beat
        self.position = (self.jc.client.last_frame_time, beat, float(pos.beats_per_minute), float(pos.beats_per_bar))

    @property
    def tempo(self) -> float | None:
        _, pos = self.jc.client.transport_query()
        bpm = pos.get("beats_per_minute")
        return float(bpm) if bpm else None

    def frames_to_bar(self, frame: int) -> int | None:
        """JACK frames from JACK frame time `frame` to the master's next bar line; None: no bar line comes (the
        transport is stopped, or no timebase master gives bars)."""
        p = self.position
        if p is None:
            return None
        start, beat, bpm, per_bar = p
        rate = self.jc.rate
        beat += signed(frame - start) / rate * bpm / 60.0
        beats = (-beat) % per_bar
        if per_bar - beats < 1e-9:
            beats = 0.0
        return int(round(beats * 60.0 / bpm * rate))

    def bar_lines(self) -> Callable[[float, int], int | None]:
        """Reads JACK's clock once (for an output that is not JACK's): the answer gives the samples at `rate` from
        `ahead` seconds after that read to the next bar line (None: none comes)."""
        now = self.jc.client.frame_time

        def to_bar(ahead: float, rate: int) -> int | None:
            frames = self.frames_to_bar((now + int(round(ahead * self.jc.rate))) % WRAP)
            return None if frames is None else int(round(frames * rate / self.jc.rate))

        return to_bar

    def close(self) -> None:
        pass


def server_running(server: str | None = None) -> JackClient | None:
    """A JACK client if a server answers (for `loopgen devices`), else None; never starts a server."""
    try:
        return JackClient(server, "loopgen-probe")
    except LoopgenError:
        return None
