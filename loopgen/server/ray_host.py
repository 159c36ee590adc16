"""A model worker where Ray puts it: the same `ModelWorker` as the daemon's local thread, in an actor's process.

The actor (`ray_pool.py` makes this class a Ray actor) loads its model, runs one ModelWorker (one engine batch, one
decoder bank) and hands everything the worker says back to the gateway through one streaming generator: each item
is every event made since the last (in practice one step's: every session's new PCM, codes, progress), never one
object per frame per session. Commands arrive on the actor's control concurrency group, so a stop never waits
behind the stream; they are queued to the worker, which handles them between two steps, as at home.

Owners are the gateway's small integers (its clients stay in the gateway); a finished take is rendered here (its
file data and sidecar record) and sent to the gateway, which writes it: the gateway's disk holds every take.
Nothing a client sends is code or a path here: commands are the protocol's decoded dataclasses, and files a request
names are read by the gateway before they come.
"""
from __future__ import annotations

import functools
import os
import queue
import socket
import time
from dataclasses import dataclass
from typing import Any

from ..protocol import messages as M
from .jobs import spec_of
from .worker import ModelWorker, key

BATCH_WAIT_S = 0.5  # the stream yields at least this often (an empty batch: the actor's stats, a heartbeat)


@dataclass(frozen=True)
class ModelInfo:
    """What the gateway needs to know of a model it does not load: welcome's fields and the limits of requests."""

    name: str
    sample_rate: int
    channels: int
    frame_rate: float
    family: str
    prefixed: bool
    max_frames: int
    num_codebooks: int
    latency_frames: int
    realtime_factor: float | None
    dtype_name: str  # the precision it runs in (a take's record names it)
    device: str  # where it runs ("cpu", "cuda:0", ...; the actor's `where` says the same)
    kernels: dict  # the CPU matmul per float dtype (a take's record names them)
    smallest: bool  # no released model is smaller (the speed line's advice)


@dataclass(frozen=True)
class HostStats:
    """An actor's state, with every batch it streams."""

    sessions: int  # running generations
    steps: int  # model steps made since it started
    at: float  # when (the actor's time.monotonic())


class Handle:
    """A gateway owner inside the actor: one object per owner number (the worker compares owners by identity)."""

    __slots__ = ("n",)

    def __init__(self, n: int):
        self.n = n


class WorkerHost:
    """One model and its ModelWorker in this process. `events()` is the stream (Ray: num_returns="streaming")."""

    def __init__(self, model: str, device: str | None = None, dtype: str | None = None, threads: int | None = None,
                 max_jobs: int | None = None, realtime: bool = True, graphs: bool = False, output: Any = None,
                 measure: bool = False):
        import torch

        from ..models import load_model
        from ..models.threads import one_thread, run_alone, set_threads
        from ..streaming.decoder import IncrementalDecoder
        from .startup import measure_speed
        self.threads = set_threads(threads)  # the actor's count, fixed (no adaptive policy on a cluster)
        # loaded, warmed up and timed on threads that end: only the model's thread keeps an OpenMP pool (one_thread)
        self.m = run_alone(self.threads, load_model, model, device, dtype)
        run_alone(self.threads, lambda: self.m.generate(["warm up"], 0.1, seed=0))  # first-call costs paid here
        rtf = run_alone(self.threads, measure_speed, self.m) if measure else None
        one_thread()  # this thread: the actor's calls (threads.one_thread says why)
        m = self.m
        self.device = str(m.device if m.device.type != "cuda" else f"cuda:{torch.cuda.current_device()}")
        self.info = ModelInfo(m.name, m.sample_rate, m.channels, m.frame_rate, m.family, bool(m.prefixed),
                              m.max_frames, m.num_codebooks, IncrementalDecoder(m).latency_frames, rtf, m.dtype_name,
                              self.device, dict(m.kernels), m.smallest)
        self.out: queue.Queue = queue.Queue()  # (owner, event) and ("saved", owner, id, rendered, audio, frames)
        self.handles: dict[int, Handle] = {}
        kw = {} if output is None else {"output": output}
        self.worker = ModelWorker(m, self._emit, loops_dir=os.devnull, wants_codes=lambda o: True,  # the gateway keeps
                                  # every frame's codes (and sends them on to owners that asked)
                                  graphs=graphs, max_jobs=max_jobs, realtime=realtime, store=self._store,
                                  threads=self.threads, **kw)
        self.worker.start()

    # -- what the gateway calls (the control group) ------------------------------------------------------------
    def model_info(self) -> ModelInfo:
        return self.info

    def where(self) -> dict:
        return {"pid": os.getpid(), "node": socket.gethostname(), "device": self.device, "threads": self.threads}

    def submit(self, cmd: M.Command, owner: int | None, play: bool) -> tuple[str, str] | None:
        """Queue a command; -> None, or (code, message) when refused at once (busy)."""
        try:
            self.worker.submit(cmd, self._handle(owner), play)
        except M.ProtocolError as e:
            return e.code, e.message
        return None

    def stop_owner(self, owner: int) -> None:
        self.worker.stop_owner(self._handle(owner))

    def _handle(self, owner: int | None) -> Handle | None:
        if owner is None:
            return None  # MIDI's takes: nobody to answer
        if owner not in self.handles:
            self.handles[owner] = Handle(owner)
        return self.handles[owner]

    def check_sampling(self, given: dict) -> None:
        """Raise the model family's own error for sampling values out of its ranges (the MIDI map's check)."""
        from ..streaming.family import family

        family(self.m).sampling(self.m, given)

    def shutdown(self) -> None:
        """Stop every take (each rendered and sent), then end the stream."""
        self.worker.shutdown()
        self.out.put(None)

    # -- the stream --------------------------------------------------------------------------------------------
    def events(self):
        """Yield (stats, [items]) batches: every item made since the last batch, at least every BATCH_WAIT_S."""
        while True:
            try:
                first = self.out.get(timeout=BATCH_WAIT_S)
            except queue.Empty:
                first = ()
            items = [] if first == () else [first]
            while True:
                try:
                    items.append(self.out.get_nowait())
                except queue.Empty:
                    break
            end = None in items
            items = [x for x in items if x is not None]
            yield HostStats(len(self.worker.active), self.worker.steps, time.monotonic()), items
            if end:
                return

    # -- from the worker's threads -------------------------------------------------------------------------------
    def _emit(self, owner: Any, event: M.Event) -> None:
        """On the worker's thread. A take's start carries its spec, each frame its session's state: with the codes,
        all the gateway keeps to go on elsewhere if this actor is lost (ModelWorker's Resume)."""
        n = None if owner is None else owner.n
        job = self.worker.active.get(key(owner, event.id)) if isinstance(event, (M.Started, M.Frames)) else None
        if job is None:
            self.out.put((n, event))
        elif isinstance(event, M.Started):
            self.out.put(("started", n, event, spec_of(job), job.params))
        else:  # what changed since its last frame: new live changes; its window state only when that changed
            s, done = job.take.session, getattr(job, "changes_sent", 0)
            changes = job.take.changes[done:]
            job.changes_sent = done + len(changes)
            version = getattr(s, "window_changes", None)
            window = None
            if version is not None and version != getattr(job, "window_sent", None):
                window, job.window_sent = s.window_state, version
            self.out.put(("frames", n, event, (window, s.ticks, changes)))

    def _store(self, job, rendered) -> None:
        """A finished take, rendered: to the gateway (its audio at the model's rate too: a loop keeps looping);
        rendered None: it ended with nothing to write."""
        audio = None if job.audio is None else job.audio.cpu().numpy()
        self.out.put(("saved", None if job.owner is None else job.owner.n, job.id, rendered, audio, job.frames))


def start_ray(address: str | None) -> bool:
    """Join the cluster at `address` (`auto`, HOST:PORT) or, with None, start a local Ray on this machine (bound to
    127.0.0.1). -> whether this call started or joined it (False: this process was already connected)."""
    import ray

    if ray.is_initialized():
        return False
    if address is None:
        ray.init(include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    else:
        ray.init(address=address, log_to_driver=False)
    return True


def actor_class(gpu: bool, cpus: int):
    """WorkerHost as a Ray actor: one GPU, or `cpus` cores; control methods in their own concurrency group."""
    import ray

    def grouped(fn, group):
        @functools.wraps(fn)
        def call(self, *args, **kw):
            return fn(self, *args, **kw)

        return ray.method(concurrency_group=group)(call)

    def streamed(self):  # the generator itself (a wrapper returning it would not stream)
        yield from WorkerHost.events(self)

    members = {name: grouped(getattr(WorkerHost, name), "control") for name in CONTROL}
    members["events"] = ray.method(concurrency_group="stream")(streamed)
    host = type("WorkerHostActor", (WorkerHost,), members)
    return ray.remote(num_gpus=1 if gpu else 0, num_cpus=0 if gpu else cpus,
                      concurrency_groups={"control": 1, "stream": 1}, max_restarts=-1)(host)


CONTROL = ("model_info", "where", "submit", "stop_owner", "check_sampling", "shutdown")  # never behind the stream
