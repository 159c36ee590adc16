"""The daemon: asyncio event loop with the WebSocket and OSC endpoints, the model worker thread and audio out.

The event loop never waits on the model: commands go to the worker's queue and events come back through
call_soon_threadsafe. Each WebSocket client has a bounded send queue; a client too slow to read is dropped, never
the server. OSC from non-loopback senders is ignored unless allowed.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import re
import logging
import secrets
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LoopgenError
from ..protocol import messages as M
from ..protocol import osc as O
from ..protocol.osc_names import QUIET_S, NameTable
from ..protocol import ws as W
from ..models import load_model
from ..models.threads import ThreadGovernor, one_thread, run_alone
from ..streaming.decoder import IncrementalDecoder
from ..streaming.dsp import loudness_meter
from ..streaming.family import family
from ..streaming.loops import loop_samples
from ..streaming.output import Output
from .audio_out import Player, headless
from .logs import RateLimit, log_event
from .jobs import check_folder, continue_limits, read_allowed
from .midi import MidiMap, open_input
from .pool import Pool, served_names
from .router import ListWorkers, Read, Replay, Reply, Submit, route, with_audio
from .startup import measure_speed, probe_port, reachable_address, speed_line
from .web import Hosts, is_loopback, origin_ok, take_file, web_file
from .worker import ModelWorker, key

log = logging.getLogger("loopgen.server")
SEND_QUEUE = 256  # events waiting for one client before it counts as too slow
MAX_OSC_PEERS = 256  # OSC peers remembered (hosts and hello names); the least recently heard is forgotten


@dataclass
class Config:
    model: str = "random:small"  # the default model (a request without `model`)
    extra_models: tuple[str, ...] = ()  # more models served beside it, one worker each
    device: str | None = None
    dtype: str | None = None
    host: str = "127.0.0.1"
    ws_port: int = 8765
    osc_port: int = 9000
    osc_reply: tuple[str, int] | None = None  # every OSC reply to this address
    osc_reply_port: int = O.REPLY_PORT  # else: to the sender, and to this port on its host (0: only the sender)
    osc_allow: tuple[str, ...] = ()
    audio_device: str | None = "none"
    loops_dir: Path = field(default_factory=lambda: Path.home() / "loopgen-loops")
    token: str | None = None
    max_message_bytes: int = M.MAX_MESSAGE_BYTES
    midi: str | None = None
    midi_map: Path | None = None
    send_queue: int = SEND_QUEUE  # events queued for one client before it counts as too slow
    send_queue_bytes: int = 16 * 2**20  # ... or bytes of them
    allow_origins: tuple[str, ...] = ()  # browser origins allowed besides the daemon's own page and loopback ("*": any)
    allow_hosts: tuple[str, ...] = ()  # host names clients may call the daemon by, besides IPs, localhost and --host
    read_dirs: tuple[Path, ...] = ()  # folders OSC /continue may read from, besides the takes folder and home
    output_rate: int | None = None  # takes' files: rate (None: the model's), format, loudness target (LUFS)
    output_format: str = "float"
    loudness: float | None = None
    send_buffer: int = 256 * 1024  # kernel send buffer per client: bounds what a stalled client can hold up
    link: bool = False  # join the LAN's Ableton Link session: its tempo the default bpm, loops launched on its bars
    link_bpm: float = 120.0  # the tempo it starts a session with when it is the first peer
    jack_server: str | None = None  # the JACK server to use (None: JACK's default) for audio, MIDI and transport
    jack_connect: tuple[str, ...] | None = None  # JACK ports out_1.. go to (None: the system's playback; (): none)
    jack_transport: bool = False  # JACK's transport as the clock: its tempo the default bpm, loops on its bars
    cuda_graphs: bool = False  # replay the model step and the decode as CUDA graphs (a CUDA device only)
    max_generations: int | None = None  # running generations in all (None: by device, worker.MAX_JOBS)
    measure_speed: bool = True  # time the model at start: its real-time factor in the terminal and `welcome`
    ray: str | None = None  # the model work on Ray actors: "local" (start a Ray here), "auto" or HOST:PORT (join)
    workers: tuple[tuple[str, int], ...] = ()  # with ray: actors per model (a name or alias each; default 1)
    worker_threads: int = 1  # with ray on CPUs: cores (torch threads) per actor
    admission: str = "realtime"  # realtime: a new stream only while all stay real time (capacity.py); count: by count
    # CPU threads (low, high) the local workers choose between step by step (models.threads.ThreadGovernor); None:
    # the count the process has stays (serve --threads N, LOOPGEN_THREADS)
    adaptive_threads: tuple[int, int] | None = None


class WsClient:
    def __init__(self, server: "Server", ws):
        self.server = server
        self.ws = ws
        self.queue: asyncio.Queue = asyncio.Queue(server.cfg.send_queue)
        self.peer = W.WsPeer(server.cfg.token, server.welcome, server.cfg.max_message_bytes)
        self.gone = False
        self.queued = 0  # bytes waiting in the queue

    def who(self) -> str:
        addr = self.ws.remote_address
        return f"WebSocket {addr[0]}:{addr[1]}" if addr else "WebSocket"

    def deliver(self, event: M.Event) -> None:  # on the event loop
        log_event(self.who(), event)
        if self.gone:
            return
        data = W.encode_event(event)
        if self.queued + len(data) > self.server.cfg.send_queue_bytes or self.queue.full():
            self.gone = True  # bounded in events and in bytes: a client that does not read is let go
            log.warning("dropping a client too slow to read (%s); its takes are stopped and saved",
                        self.ws.remote_address)
            for w in self.server.pool:  # nobody hears them: they would only slow the others down
                w.stop_owner(self)
            asyncio.ensure_future(self.ws.close(1008, "too slow to read: dropped"))
            return
        self.queued += len(data)
        self.queue.put_nowait(data)

    async def pump(self) -> None:
        while True:
            data = await self.queue.get()
            self.queued -= len(data)
            await self.ws.send(data)


class OscClient:
    """The I/O shell of one OSC peer (a host, or a name given with /loopgen/hello): its protocol state (O.OscPeer)
    and where its replies go: --osc-reply if set, else the address it last sent from and the reply port on its host
    (the one it named in hello, else the documented default)."""

    def __init__(self, server: "Server", host: str, name: str | None):
        self.server = server
        self.host = host
        self.addr: tuple[str, int] | None = None  # where it last sent from
        self.reply_port = server.cfg.osc_reply_port
        self.name = name  # the name it said in hello (None: it is its host)
        label = name if name is not None else host
        self.state = O.OscPeer(re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-") or "peer")

    def targets(self) -> list[tuple[str, int]]:
        if self.server.cfg.osc_reply:
            return [self.server.cfg.osc_reply]
        out = [self.addr] if self.addr is not None else []
        if self.reply_port and (self.host, self.reply_port) not in out:
            out.append((self.host, self.reply_port))
        return out

    def who(self) -> str:
        return f"OSC {self.name or self.host}"

    def deliver(self, event: M.Event) -> None:
        log_event(self.who(), event)
        self.state.on_event(event)
        r = O.reply(event)
        if r is not None and self.server.osc_transport is not None:
            data = O.build(*r)
            for target in self.targets():
                self.server.osc_transport.sendto(data, target)


class OscEndpoint(asyncio.DatagramProtocol):
    def __init__(self, server: "Server"):
        self.server = server

    def datagram_received(self, data: bytes, addr) -> None:
        self.server.on_osc(data, addr[:2])


class Server:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.loop: asyncio.AbstractEventLoop | None = None
        self.osc_transport = None
        self.osc_peers: dict[tuple[str, str | None], OscClient] = {}  # (host, name or None) -> peer
        self.log_limit = RateLimit()
        self.osc_names = NameTable()  # sender address -> the name it holds (protocol/osc_names.py)
        self.osc_dropped = 0
        self.clients: set[WsClient] = set()
        self.model = None  # the default model (the first)
        self.threads: int | None = None  # the torch threads of the model's work; this thread's, given back at stop
        self.models: dict[str, Any] = {}  # every served model by name, the default first
        self.pool = Pool()  # their workers
        self.player = None
        self.link = None  # the outside clock: an Ableton Link session or JACK's transport
        self.jack = None  # the daemon's JACK client, when audio, MIDI or the clock goes through JACK
        self.switch_interval: float | None = None  # the interpreter's own, while start shortened it (audio_callbacks)
        self.launched: dict[tuple, tuple] = {}  # the player's source key -> (owner, id): who hears `playing`
        if not is_loopback(cfg.host) and not cfg.token:
            cfg.token = secrets.token_urlsafe(16)
        self.ws_server = None
        self.latency_frames = 0
        self.midi_map = None
        self.midi_port = None
        self.midi_count = 0  # MIDI-started generations: midi-1, midi-2, ...
        self.midi_latest: Any = None

    # -- start / stop ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        logging.getLogger().addFilter(self.log_limit)  # python-osc warns on the root logger, per datagram
        # everything that can be checked is checked before the model loads (minutes for a real one)
        self.cfg.loops_dir = check_folder(self.cfg.loops_dir)
        if self.cfg.loudness is not None:
            loudness_meter()
        if self.cfg.midi_map is not None:  # a broken map is told now, even before --midi is given
            self.midi_map = MidiMap.load(self.cfg.midi_map)
        probe_port(self.cfg.host, self.cfg.ws_port, socket.SOCK_STREAM, "WebSocket", "--ws-port")
        probe_port(self.cfg.host, self.cfg.osc_port, socket.SOCK_DGRAM, "OSC (UDP)", "--osc-port")
        if self.cfg.link and self.cfg.jack_transport:
            raise LoopgenError("--link and --jack-transport are two clocks: choose one")
        if self.cfg.jack_connect is not None and self.cfg.audio_device != "jack":
            raise LoopgenError("--connect names JACK ports: it goes with --audio-device jack")
        if self.uses_jack:  # the JACK server is there (or not) before the model loads
            from .jack_io import JackClient

            self.jack = JackClient(self.cfg.jack_server)
        if self.audio_callbacks:
            self.switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(0.001)
        names = list(dict.fromkeys((self.cfg.model, *self.cfg.extra_models)))
        if self.cfg.ray is not None:
            await self._start_ray(names)
        import torch

        # the count set for the model's work (the CLI's, in this thread); from here on this thread (the event loop's)
        # runs torch on one thread and only the model's threads run parallel work (threads.one_thread says why)
        self.threads = threads = torch.get_num_threads()
        one_thread()
        for name in names if self.cfg.ray is None else ():  # (each in a thread that ends: threads.one_thread says why)
            m = await asyncio.to_thread(run_alone, threads, load_model, name, self.cfg.device, self.cfg.dtype)
            if m.name in self.models:
                raise LoopgenError(f"{name} is served twice: give each model once")
            self.models[m.name] = m
        self.model = next(iter(self.models.values()))
        rates = {m.sample_rate for m in self.models.values()}
        if len(rates) > 1:
            raise LoopgenError("the models served together must share a sample rate (one audio out): got "
                               + ", ".join(f"{m.name} {m.sample_rate} Hz" for m in self.models.values()))
        if self.cfg.midi:  # its CC ranges inside this model's own (a MAGNeT's temperature goes to 10)
            self.midi_map = self.midi_map or MidiMap.load(None)
            if self.cfg.ray is None:
                self.midi_map.check_model(lambda given: family(self.model).sampling(self.model, given))
            else:
                import ray

                first = self.pool.default.actors[0].handle
                self.midi_map.check_model(lambda given: ray.get(first.check_sampling.remote(given)))
        if self.cfg.ray is None:
            for m in self.models.values():  # first-call costs paid here
                await asyncio.to_thread(run_alone, threads, functools.partial(m.generate, ["warm up"], 0.1, seed=0))
            self.realtime_factor = (await asyncio.to_thread(run_alone, threads, measure_speed, self.model)
                                    if self.cfg.measure_speed else None)
        else:  # each actor warmed its model up; the first of the default model timed it
            self.realtime_factor = self.model.realtime_factor
        # the model, its caches and the libraries are here for good: a full garbage collection walking them holds the
        # GIL for ~0.1 s (the audio callbacks need it every few ms), so they leave the collector's view
        gc.collect()
        gc.freeze()
        self.latency_frames = (IncrementalDecoder(self.model).latency_frames if self.cfg.ray is None
                               else self.model.latency_frames)
        m = self.model
        if self.cfg.link:
            from .link import LinkClock

            self.link = LinkClock(self.cfg.link_bpm)
        elif self.cfg.jack_transport:
            from .jack_io import JackTransport

            self.link = JackTransport(self.jack)
        connect = None if self.cfg.jack_connect is None else list(self.cfg.jack_connect)
        channels = max(m.channels for m in self.models.values())  # a mono take plays on both sides of a stereo out
        self.player = Player(self.model.sample_rate, channels, self.cfg.audio_device, clock=self.link,
                             jack=self.jack, connect=connect, on_playing=self._on_playing)
        self.player.start()
        self.welcome = M.Welcome(M.PROTOCOL_VERSION, m.name, m.sample_rate, m.channels, m.frame_rate,
                                 self.latency_frames, self.cfg.max_message_bytes, self.realtime_factor,
                                 round(self.player.latency * 1000, 2), self.player.rate, self.model_list())
        output = Output(self.cfg.output_rate, self.cfg.output_format, self.cfg.loudness)
        for w in self.pool:  # Ray's: made before the audio out, started now that the daemon can take their events
            w.start()
        for m in self.models.values() if self.cfg.ray is None else ():
            worker = ModelWorker(m, self._emit_of(m.name), self.cfg.loops_dir, on_audio=self._on_audio,
                                 on_start=self._on_start, output=output, wants_codes=self._wants_codes,
                                 graphs=self.cfg.cuda_graphs, max_jobs=self.cfg.max_generations,
                                 realtime=self.cfg.admission == "realtime", threads=threads,
                                 governor=ThreadGovernor(*self.cfg.adaptive_threads)
                                 if self.cfg.adaptive_threads and m.device.type == "cpu" else None)
            self.pool.add(m.name, worker)
            worker.start()
        from websockets.asyncio.server import serve

        self.ws_server = await serve(self._ws_handler, self.cfg.host, self.cfg.ws_port,
                                     max_size=4 * self.cfg.max_message_bytes, compression=None,
                                     process_request=self._http)
        self.osc_transport, _ = await self.loop.create_datagram_endpoint(
            lambda: OscEndpoint(self), local_addr=(self.cfg.host, self.cfg.osc_port))
        if self.cfg.midi == "jack":
            from .jack_io import JackMidiIn

            self.midi_port = JackMidiIn(self.jack, lambda msg: self.loop.call_soon_threadsafe(self.on_midi, msg))
        elif self.cfg.midi:
            self.midi_port = open_input(self.cfg.midi, lambda msg: self.loop.call_soon_threadsafe(self.on_midi, msg))
        if self.jack is not None and self.cfg.audio_device != "jack":
            self.jack.activate()  # MIDI or the transport alone (the audio out activates it as it starts)

    async def _start_ray(self, names: list[str]) -> None:
        """`serve --ray`: each model's actors (ray_pool.py), loaded and warmed up where Ray puts them."""
        from .ray_host import start_ray
        from .ray_pool import RayWorker

        counts: dict[str, int] = {}
        aliases = served_names(names)
        for given, n in self.cfg.workers:
            model = next((m for m, a in aliases.items() if given in a), None)
            if model is None:
                raise LoopgenError(f"--workers names {given}, which is not served (served: {', '.join(names)})")
            counts[model] = n
        self.ray_started = await asyncio.to_thread(start_ray, None if self.cfg.ray == "local" else self.cfg.ray)
        output = Output(self.cfg.output_rate, self.cfg.output_format, self.cfg.loudness)
        for name in names:
            w = await asyncio.to_thread(
                RayWorker, name, counts.get(name, 1), self.emit, self.cfg.loops_dir, on_audio=self._on_audio,
                on_start=self._on_start, wants_codes=self._wants_codes,
                device=self.cfg.device, dtype=self.cfg.dtype, threads=self.cfg.worker_threads,
                max_jobs=self.cfg.max_generations, realtime=self.cfg.admission == "realtime", output=output,
                measure=self.cfg.measure_speed and name == names[0], graphs=self.cfg.cuda_graphs)
            w.emit = self._emit_of(w.m.name)  # its model's name as the actors loaded it
            self.models[w.m.name] = w.m
            self.pool.add(w.m.name, w)

    def _emit_of(self, model: str):
        """`emit` for the worker of `model` (its events' takes are looked up there)."""
        return functools.partial(lambda name, owner, event: self.emit(owner, event, name), model)

    @staticmethod
    def _wants_codes(owner: Any) -> bool:
        return isinstance(owner, WsClient) and owner.peer.wants_codes

    def workers(self) -> list[dict]:
        """Every model worker (the `workers` request, `loopgen workers`)."""
        return [entry for w in self.pool for entry in w.workers()]

    @property
    def worker(self):
        """The default model's worker."""
        return self.pool.default

    def model_list(self) -> tuple[dict, ...]:
        """welcome's `models`: each served model, the default first, with the names a request may use."""
        names = served_names(list(self.models))
        return tuple({"name": m.name, "aliases": names[m.name][1:], "sample_rate": m.sample_rate,
                      "channels": m.channels, "frame_rate": m.frame_rate, "family": m.family,
                      "melody": bool(m.prefixed)} for m in self.models.values())

    @property
    def uses_jack(self) -> bool:
        return self.cfg.audio_device == "jack" or self.cfg.midi == "jack" or self.cfg.jack_transport

    @property
    def audio_callbacks(self) -> bool:
        """An audio thread calls into Python every period (JACK-Client's process callback, PortAudio's stream callback
        through sounddevice): while the daemon runs, the interpreter's switch interval is 1 ms instead of 5, so the
        model's thread hands that callback the GIL within a millisecond (at 256 frames and 48 kHz a period is 5.3
        ms). The headless output's thread only sleeps between reads: it does not need it."""
        return bool(self.uses_jack) or not headless(self.cfg.audio_device)

    @property
    def hosts(self) -> Hosts:
        return Hosts(self.cfg.host, self.cfg.allow_hosts)

    @property
    def ws_port(self) -> int:
        return self.ws_server.sockets[0].getsockname()[1]

    @property
    def osc_port(self) -> int:
        return self.osc_transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        """Clients told, generations stopped and saved, streams faded, sockets closed; this thread's torch threads
        given back."""
        logging.getLogger().removeFilter(self.log_limit)
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)
        for c in list(self.clients):
            c.deliver(M.Error("shutting_down", "the server is shutting down"))
        for w in self.pool:
            await asyncio.to_thread(w.shutdown)
        await asyncio.sleep(0.05)  # let the last events go out
        if self.ws_server is not None:
            self.ws_server.close()
            await self.ws_server.wait_closed()
        if self.osc_transport is not None:
            self.osc_transport.close()
        if self.midi_port is not None:
            self.midi_port.close()
        if getattr(self, "ray_started", False):  # a Ray this daemon started (or joined) ends with it
            import ray

            await asyncio.to_thread(ray.shutdown)
        if self.player is not None:
            await asyncio.to_thread(self.player.close)
        if self.link is not None:
            self.link.close()
        if self.jack is not None:
            self.jack.close()
        if self.switch_interval is not None:
            sys.setswitchinterval(self.switch_interval)
            self.switch_interval = None
        gc.unfreeze()  # what start froze can be freed again (and is, at exit: no leak reports from extensions)

    @property
    def default_bpm(self) -> float | None:
        """The bpm of a request with bars and no bpm: the Link session's or JACK transport's tempo, else none."""
        return self.link.tempo if self.link is not None else None

    # -- events from the worker (any thread) -------------------------------------------------------------------
    def emit(self, owner: Any, event: M.Event, model: str | None = None) -> None:
        """An event of `model`'s worker for `owner` (from the worker's thread)."""
        if isinstance(event, M.Progress) and self.player is not None:
            event = M.Progress(event.id, event.frames, event.total, event.rtf, self.player.underruns)
        if isinstance(event, M.Done) and self.player is not None:  # its stream has ended: a loop goes on looping
            w = self.pool.workers.get(model) or self.pool.default
            job = w.find(event.id, owner) if w is not None else None
            loop = job is not None and job.audio is not None and job.params.loop
            self.player.finished(key(owner, event.id), job.audio.T.cpu().numpy().copy() if loop else None)
        if owner is None:  # MIDI's takes: no one to deliver to, the terminal still says
            log_event("MIDI", event)
        elif self.loop is not None:
            self.loop.call_soon_threadsafe(owner.deliver, event)

    def _on_start(self, job) -> None:
        """A take started (the worker accepted it): on the speakers if its request asked to be played."""
        self.pool.latest = self.pool.workers.get(job.take.m.name, self.pool.latest)
        if job.play:
            self._play(job.owner, job.id, job.params, self._samples_left(job), self._loop_length(job))

    def _on_playing(self, id: Any, ahead: float, frame: int | None) -> None:
        """The feeder put a take's first sample in the ring: its owner hears when it reaches the speakers."""
        if id not in self.launched:
            return
        owner, tid = self.launched[id]
        event = M.Playing(tid, round(ahead * 1000, 3), frame)
        if owner is None:
            log_event("MIDI", event)
        elif self.loop is not None:
            self.loop.call_soon_threadsafe(owner.deliver, event)

    def _samples_left(self, job) -> int:
        """Samples a running take will still stream (its pre-roll on the speakers is sized from them)."""
        m = job.take.m
        return int(max(0, job.total_frames - job.frames) * m.sample_rate / m.frame_rate)

    @staticmethod
    def _loop_length(job) -> int | None:
        """A loop's length in samples (its stream plays to there on the speakers, then the wrapped loop)."""
        return job.take.length if job.params.loop else None

    def _on_audio(self, job, x) -> None:
        self.player.feed(key(job.owner, job.id), x)  # [n, C] float32 on the host (the worker's one copy)

    def _play(self, owner: Any, id: Any, params: M.GenerateParams | None, total: int | None = None,
              length: int | None = None) -> None:
        """Put a generation that is starting on the speakers (sources are keyed by owner and id: ids are per client)."""
        bar = 0
        if params is not None and params.bpm:
            bar = loop_samples(1, params.bpm, params.beats_per_bar, self.model.sample_rate)
        self.launched[key(owner, id)] = (owner, id)
        while len(self.launched) > 64:
            del self.launched[next(iter(self.launched))]
        self.player.launch(key(owner, id), bar, grid=self.link is not None, total=total, length=length)

    def _replay(self, owner: Any, id: Any) -> None:
        """`play`: one of the sender's own takes on the speakers (id None: its latest); a finished one plays its
        audio (a loop, looped), a running one joins its stream."""
        job = None
        latest = self.pool.latest  # id None: the latest take's model first (each worker knows only its own)
        for w in ([latest] if latest is not None else []) + [w for w in self.pool if w is not latest]:
            job = w.own(owner, id, finished=False) or w.own(owner, id)
            if job is not None:
                break
        if job is None:
            what = "nothing of yours to play yet" if id is None else f"no generation of yours with id {M.short(id)}"
            raise M.ProtocolError("unknown_id", what, id)
        running = job.audio is None
        self._play(owner, job.id, job.params, self._samples_left(job) if running else None,
                   self._loop_length(job) if running else None)
        if job.audio is not None:
            audio = job.audio.T.cpu().numpy().copy()
            if job.params.loop:
                self.player.finished(key(owner, job.id), audio)
            else:
                self.player.feed(key(owner, job.id), audio)
                self.player.finished(key(owner, job.id), None)  # all of it is there: it plays at once

    # -- WebSocket -----------------------------------------------------------------------------------------------
    async def _ws_handler(self, ws) -> None:
        client = WsClient(self, ws)
        sock = ws.transport.get_extra_info("socket") if getattr(ws, "transport", None) else None
        if sock is not None:
            import socket

            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.cfg.send_buffer)
        self.clients.add(client)
        pump = asyncio.ensure_future(client.pump())
        try:
            async for data in ws:
                if client.gone:
                    break
                self._on_ws_message(client, data)
        except Exception as e:  # connection errors end this client only
            log.info("client %s ended: %s", ws.remote_address, type(e).__name__)
        finally:
            client.gone = True
            self.clients.discard(client)
            pump.cancel()

    async def _http(self, connection, request):
        """Every request on the WebSocket port: the Host rule for all (web.py), the Origin rule for upgrades; plain
        GET/HEAD serve the browser page (files shipped in loopgen.clients.web) and saved takes."""
        from http import HTTPStatus

        hosts, origins = request.headers.get_all("Host"), request.headers.get_all("Origin")
        if len(hosts) != 1 or len(origins) > 1:
            return connection.respond(HTTPStatus.BAD_REQUEST, "one Host header, and at most one Origin\n")
        if not self.hosts.header_ok(hosts[0], self.ws_port):
            log.warning("refused a request for host %s", M.short(hosts[0], 100))
            return connection.respond(HTTPStatus.MISDIRECTED_REQUEST, "loopgen answers to its own address only "
                                      "(an IP address, localhost, or a name given with --allow-host)\n")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if origins and not origin_ok(origins[0], self.hosts, self.ws_port, self.cfg.allow_origins):
                log.warning("refused a WebSocket from origin %s", M.short(origins[0], 100))
                return connection.respond(HTTPStatus.FORBIDDEN, "this origin may not use loopgen; start loopgen serve "
                                          "with --allow-origin ORIGIN to allow it\n")
            return None

        from websockets.datastructures import Headers
        from websockets.http11 import Response

        method = getattr(request, "method", "GET")
        if method not in ("GET", "HEAD"):
            return connection.respond(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD\n")
        path, _, query = request.path.partition("?")
        name = path.lstrip("/") or "index.html"
        if name.startswith("takes/"):  # a saved take, for the page's download link and its looped playback
            from urllib.parse import parse_qs

            if self.cfg.token and parse_qs(query).get("token", [None])[0] != self.cfg.token:
                return connection.respond(HTTPStatus.UNAUTHORIZED, "token required\n")
            found = await asyncio.to_thread(take_file, self.cfg.loops_dir, name[len("takes/") :], method == "HEAD")
            if found is None:
                return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
            size, body = found
            headers = Headers([("Content-Type", "audio/wav"), ("Content-Length", str(size)),
                               ("Cache-Control", "no-cache")])
            return Response(200, "OK", headers, body)
        body = web_file(name)
        if body is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        kind = {"html": "text/html", "js": "text/javascript", "css": "text/css", "png": "image/png"}.get(
            name.rsplit(".", 1)[-1], "application/octet-stream")
        headers = Headers([("Content-Type", f"{kind}; charset=utf-8" if kind.startswith("text") else kind),
                           ("Content-Length", str(len(body))), ("Cache-Control", "no-cache")])
        return Response(200, "OK", headers, b"" if method == "HEAD" else body)

    def _on_ws_message(self, client: WsClient, data) -> None:
        try:
            self._on_ws_command(client, data)
        except Exception as e:  # a bug must answer, not end the connection silently
            log.exception("message failed")
            client.deliver(M.Error("server_error", f"{type(e).__name__}: {M.short(str(e), 200)}"))

    def _on_ws_command(self, client: WsClient, data) -> None:
        cmd, replies, close = client.peer.receive(data, self.default_bpm)
        for event in replies:
            client.deliver(event)
        if close is not None:
            client.gone = True
            asyncio.ensure_future(client.ws.close(1008, close))
            return
        self._perform(client, cmd)

    # -- the effects of a routed command (router.py), for every endpoint ----------------------------------------
    def _perform(self, owner: Any, cmd: M.Command | None) -> None:
        """Carry out what the router says a command means; a refusal answers its sender (owner None: MIDI)."""
        try:
            for effect in route(cmd):
                if isinstance(effect, Submit):
                    self.pool.route(effect.cmd, owner).submit(effect.cmd, owner, play=effect.play)
                elif isinstance(effect, Read):
                    asyncio.ensure_future(self._read_then_perform(owner, effect))
                elif isinstance(effect, ListWorkers) and owner is not None:
                    owner.deliver(M.WorkerList(tuple(self.workers())))
                elif isinstance(effect, Replay):
                    self._replay(owner, effect.id)
                elif isinstance(effect, Reply) and owner is not None:
                    owner.deliver(effect.event)
        except M.ProtocolError as e:
            self._answer(owner, M.Error(e.code, e.message, e.id))

    def _answer(self, owner: Any, event: M.Event) -> None:
        """An answer on the event loop: to its sender, or (MIDI: owner None) to the terminal only."""
        if owner is None:
            log_event("MIDI", event)
        else:
            owner.deliver(event)

    async def _read_then_perform(self, owner: Any, effect: Read) -> None:
        """A command naming a file (a melody, audio to continue): read it off the event loop and the model thread,
        then route the command again with the audio in it."""
        allowed = (self.cfg.loops_dir, Path.home(), *self.cfg.read_dirs)
        id = getattr(effect.cmd, "id", None)
        try:
            model = self.pool.resolve(getattr(getattr(effect.cmd, "params", None), "model", None), id).m
        except M.ProtocolError as e:  # refused before the file is read
            self._answer(owner, M.Error(e.code, e.message, e.id))
            return
        limits = M.MELODY_FILE if effect.melody else continue_limits(model)
        what = "the melody" if effect.melody else "the audio to continue"
        try:
            if isinstance(effect.source, bytes):
                audio, rate = await asyncio.to_thread(M.read_file, effect.source, limits, what, id)
            else:
                audio, rate = await asyncio.to_thread(read_allowed, effect.source, allowed, limits, what, id)
        except M.ProtocolError as e:
            self._answer(owner, M.Error(e.code, e.message, e.id))
            return
        self._perform(owner, with_audio(effect.cmd, audio, rate))

    # -- OSC ---------------------------------------------------------------------------------------------------
    def on_osc(self, data: bytes, addr: tuple[str, int]) -> None:
        if not is_loopback(addr[0]) and addr[0] not in self.cfg.osc_allow:
            self.osc_dropped += 1
            return
        now = time.monotonic()
        peer = self._osc_peer(addr, self.osc_names.heard(addr, now))
        try:
            messages = O.parse_datagram(data)
        except M.ProtocolError:
            self.osc_dropped += 1  # undecodable: nothing to answer
            return
        for address, args in messages:
            try:
                cmd = peer.state.receive(address, args, self.default_bpm)
            except M.ProtocolError as e:
                peer.deliver(M.Error(e.code, e.message, e.id))
                continue
            if isinstance(cmd, O.Hello):
                if not self.osc_names.claim(addr, cmd.name, now):
                    peer.deliver(M.Error("name_taken", f"another sender on this host is {M.short(cmd.name)}: choose "
                                         f"another name, or claim it after it has been quiet for {QUIET_S:g} s"))
                    continue
                old = self.osc_peers.get((addr[0], cmd.name))
                if old is not None and old.addr != addr:  # a quiet name, claimed anew: a new peer (the old one's
                    del self.osc_peers[(addr[0], cmd.name)]  # takes and replies stay its own)
                peer = self._osc_peer(addr, cmd.name)
                if cmd.reply_port is not None:
                    peer.reply_port = cmd.reply_port
                peer.deliver(self.welcome)
                continue
            self._perform(peer, cmd)

    def _osc_peer(self, addr: tuple[str, int], name: str | None) -> OscClient:
        key = (addr[0], name)
        peer = self.osc_peers.pop(key, None)  # re-inserted last: the dict is in order of use
        if peer is None:
            peer = OscClient(self, addr[0], name)
            while len(self.osc_peers) >= MAX_OSC_PEERS:  # forget the least recently heard
                del self.osc_peers[next(iter(self.osc_peers))]
        self.osc_peers[key] = peer
        peer.addr = addr
        return peer

    # -- MIDI ----------------------------------------------------------------------------------------------------
    def on_midi(self, msg) -> None:
        """On the event loop: act on one MIDI message through the mapping."""
        for action, value in self.midi_map.actions(msg):
            if action == "generate":
                self.midi_count += 1
                id = f"midi-{self.midi_count}"
                bpm = self.default_bpm or self.midi_map.bpm
                params = M.generate_params({"prompt": value, "bars": self.midi_map.bars, "bpm": bpm}, id)
                self._perform(None, M.Generate(id, params))
                self.midi_latest = id
            elif action == "stop":
                self.player.stop(fade=True)
                if self.midi_latest is not None:
                    self._perform(None, M.Stop(self.midi_latest))
            elif action == "set" and self.midi_latest is not None:
                self._perform(None, M.Set(self.midi_latest, value, None))
            elif action == "volume":
                self.player.volume = value


async def serve_forever(cfg: Config, announce=print) -> None:
    """Run until cancelled (Ctrl-C), then stop cleanly."""
    server = Server(cfg)
    announce(f"loading {cfg.model} ...")
    try:
        await server.start()
    except BaseException:
        await server.stop()  # what did start (worker, audio out) ends cleanly: no half-open daemon at exit
        raise
    for m in server.models.values():
        names = server.pool.names().get(m.name, [])[1:]
        announce(f"model {m.name}: {m.sample_rate} Hz, {m.channels} channel(s)"
                 + (f" (requests: model {' | '.join(names)})" if len(server.models) > 1 and names else ""))
    if cfg.measure_speed:
        model = server.model
        announce(speed_line(server.realtime_factor, model.dtype_name, str(model.device), model.smallest))
    if cfg.ray is not None:
        for w in server.workers():
            announce(f"worker     {w['model']} on Ray: {w['device']} on {w['node']} (pid {w['pid']})")
        announce("           (`loopgen workers` lists them; keep the Ray cluster on a trusted network: docs/scale.md)")
    where = reachable_address(cfg.host)
    page = f"http://{where}:{server.ws_port}/" + (f"?token={cfg.token}" if cfg.token else "")
    announce(f"WebSocket  ws://{where}:{server.ws_port}   (browser page: {page})")
    announce(f"OSC        udp://{cfg.host}:{server.osc_port}  (replies to {'%s:%d' % cfg.osc_reply if cfg.osc_reply else 'the sender'})")
    announce(f"audio out  {server.player.device_name} at {server.player.rate} Hz")
    if cfg.link:
        announce(f"link       Ableton Link on: {server.link.tempo:.1f} bpm, {server.link.peers} peer(s); loops start "
                 f"on its bars, and its tempo is the bpm of requests that give bars alone")
    elif cfg.jack_transport:
        bpm = server.link.tempo
        announce("clock      JACK transport: " + (f"{bpm:.1f} bpm from the timebase master" if bpm else
                 "no timebase master yet") + "; loops start on its bars while it rolls")
    if server.player is not None:
        announce(f"latency    {server.player.latency * 1000:.1f} ms from a start to the speakers (welcome's "
                 f"output_latency_ms)")
    announce(f"loops      {cfg.loops_dir}")
    if cfg.token:
        announce(f"token      {cfg.token}")
    import signal

    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # SIGTERM (service managers, containers) = Ctrl-C
        loop.add_signal_handler(signal.SIGTERM, done.set)
    try:
        await done.wait()
    finally:
        await server.stop()
        workers = list(server.pool)
        unsaved = [why for w in workers for why in w.unsaved]
        line = f"stopped: {sum(w.saved for w in workers)} take(s) saved in {cfg.loops_dir}" if workers else "stopped"
        if unsaved:
            line += f"; {len(unsaved)} could not be saved: " + "; ".join(unsaved)
        announce(line)
