"""The gateway's side of Ray: a model's workers as Ray actors (`ray_host.WorkerHost`), behind the same interface as
the local `ModelWorker` (`pool.Worker`), so the daemon's endpoints, saving, audio out and Link do not know which.

- Placement: a new take goes to the alive actor of its model with the fewest running sessions (and room); every
  later command for it (set, stop, melody, an extend of it) goes to that actor.
- Streaming back: one reader thread per actor iterates its streaming generator (one object per batch of events)
  and hands the events to the daemon as a local worker's would be.
- Saving: an actor renders a finished take and sends it; it is written here, on the gateway's disk.
- A lost actor: its stream ends with an error. The gateway holds, for every take on it, its spec (what the actor
  made of the request), the codes of every frame, its session's window and draw count, its live changes and the
  audio its owner has: each take goes on on the least-loaded other actor of its model (ModelWorker's `Resume`: the
  window primed from its frames, the same draws), its owner told `moved`. A take, greedy or sampled, makes the same
  codes as without the loss; every take is saved whole. With no actor left (or a MAGNeT take, whose segments are not
  resumed) it is saved with the audio that reached the gateway, unwrapped, and its owner gets `model_error`.
  An actor Ray restarts rejoins the pool.

Ray is imported only here, and only under `serve --ray`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
import weakref
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import LoopgenError
from ..models.sampling import check_seed
from ..protocol import messages as M
from ..streaming.record import TakeRecord
from .jobs import ExtendOf, Rendered, Resume, TakeSpec, result_length, write
from .ray_host import HostStats, ModelInfo, actor_class
from .worker import KEEP_FINISHED, key

log = logging.getLogger("loopgen.ray")


@dataclass
class TakeView:
    """What the gateway knows of a take made elsewhere (the daemon reads `m` and `length`)."""

    m: ModelInfo
    length: int


@dataclass
class RemoteJob:
    """A take on an actor, as the gateway keeps it: who asked, what was sent, what came back."""

    id: Any
    owner: Any
    params: M.GenerateParams
    play: bool
    actor: "Actor"
    take: TakeView
    total_frames: int = 0
    frames: int = 0
    made: int = 0
    pcm: list = field(default_factory=list)  # [n, C] chunks as streamed (the take so far, if its actor is lost)
    seq: int = 0  # audio chunks its owner has had
    spec: TakeSpec | None = None  # what its actor made of the request (to make it again elsewhere)
    codes: list = field(default_factory=list)  # per frame made, its K codes
    window: Any = None  # its session's WindowState (as its latest frames left it; None: MAGNeT, not movable)
    ticks: int = 0
    changes: list = field(default_factory=list)  # its live changes, as its actor applied them
    audio: torch.Tensor | None = None  # the finished result [C, N]
    path: str | None = None
    stopped: bool = False
    pid: int | None = None  # its actor's process when it started (a restarted actor no longer holds it)
    finishing: bool = False  # its actor sent it finished: it is being written (never moved)


@dataclass
class Actor:
    """One Ray actor of a model, as the gateway sees it."""

    handle: Any
    index: int
    where: dict
    alive: bool = True
    stats: HostStats = HostStats(0, 0, 0.0)
    rate: float = 0.0  # steps per second, from its last two stats
    sessions: int = 0  # running here, counted by the gateway (starts placed, takes ended)


RESTART_WAIT_S = 300.0  # how long a lost actor's reader waits for Ray to restart it (loading its model again)


class RayWorker:
    """A model's actors, behind the local worker's interface (`pool.Worker`)."""

    def __init__(self, model: str, count: int, emit, loops_dir: Path, on_audio=None, on_start=None,
                 wants_codes=lambda owner: False, device: str | None = None, dtype: str | None = None,
                 threads: int = 1, max_jobs: int | None = None, realtime: bool = True, output: Any = None,
                 measure: bool = False, graphs: bool = False):
        import ray

        self.emit = emit
        self.loops_dir = Path(loops_dir)
        self.on_audio, self.on_start, self.wants_codes = on_audio, on_start, wants_codes
        gpu = (device or "auto") != "cpu" and bool(ray.cluster_resources().get("GPU", 0))
        cls = actor_class(gpu, threads)
        handles = [cls.remote(model, device if not gpu else "cuda", dtype, threads, max_jobs, realtime,
                              graphs and gpu, output, measure and i == 0) for i in range(count)]
        self.m: ModelInfo = ray.get(handles[0].model_info.remote())
        wheres = ray.get([h.where.remote() for h in handles])
        self.actors = [Actor(h, i, w) for i, (h, w) in enumerate(zip(handles, wheres))]
        self.max_jobs = max_jobs
        self.active: dict[tuple, RemoteJob] = {}
        self.finished: OrderedDict[tuple, RemoteJob] = OrderedDict()
        self.pending: dict[tuple, tuple] = {}  # a start sent, not yet started: key -> (cmd, play, actor, owner)
        self.owners: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # number -> owner
        self.numbers: dict[int, int] = {}  # id(owner) -> number
        self.next_number = 1
        self.latest: Actor | None = None
        self.lock = threading.RLock()
        self.saver = ThreadPoolExecutor(1, thread_name_prefix="loopgen-ray-save")
        self.readers: list[threading.Thread] = []
        self.saved = 0
        self.unsaved: list[str] = []
        self.closing = False
        self.transit: deque = deque(maxlen=4096)  # seconds from an actor's yield to its batch here (benchmarks)

    # -- the worker interface ------------------------------------------------------------------------------------
    def start(self) -> None:
        for a in self.actors:
            t = threading.Thread(target=self._read, args=(a,), name=f"loopgen-ray-{a.index}", daemon=True)
            t.start()
            self.readers.append(t)

    def submit(self, cmd: M.Command, owner: Any, play: bool = False) -> None:
        actor = self._actor_for(cmd, owner)
        if actor is None:
            raise M.ProtocolError("model_error", f"no worker of {self.m.name} is left", getattr(cmd, "id", None))
        if isinstance(cmd, M.Extend):
            of = self.own(owner, cmd.of) or self.find(cmd.of, owner)
            if of is not None and of.audio is not None and not self._holds(of):  # its actor is gone: it goes along
                spec = of.spec
                cmd = ExtendOf(cmd, of.params, of.audio.numpy(), None if spec is None else spec.melody,
                               None if spec is None else spec.melody_from)
        if isinstance(cmd, (M.Generate, M.Continue, M.Extend, ExtendOf)):
            if isinstance(cmd, (M.Generate, M.Continue)) and cmd.params.seed is None:  # the gateway knows every seed
                cmd = dataclasses.replace(cmd, params=dataclasses.replace(cmd.params, seed=check_seed(None)))
            with self.lock:
                self.pending[key(owner, cmd.id)] = (cmd, play, actor, owner)
                actor.sessions += 1
                self.latest = actor
        ref = actor.handle.submit.remote(cmd, self._number(owner), play)
        ref.future().add_done_callback(lambda f: self._refused(f, cmd, owner, actor))

    def stop_owner(self, owner: Any) -> None:
        n = self.numbers.get(id(owner))
        if n is not None:
            for a in self.actors:
                if a.alive:
                    a.handle.stop_owner.remote(n)

    def find(self, id: Any, owner: Any = None, finished: bool = True) -> RemoteJob | None:
        jobs = self.finished if finished else self.active
        with self.lock:
            if key(owner, id) in jobs:
                return jobs[key(owner, id)]
            return next((jobs[k] for k in reversed(list(jobs)) if k[1] == id), None)

    def own(self, owner: Any, id: Any, finished: bool = True) -> RemoteJob | None:
        jobs = self.finished if finished else self.active
        with self.lock:
            if id is None:
                return next((j for j in reversed(list(jobs.values())) if j.owner is owner), None)
            return jobs.get(key(owner, id))

    def starting(self, owner: Any, id: Any) -> bool:
        """Whether the owner's start `id` was sent and has not begun (queued on its actor, or on its way)."""
        return key(owner, id) in self.pending

    def shutdown(self, timeout: float = 30.0) -> None:
        """Every actor stops its takes (each sent here and written), then ends."""
        import ray

        self.closing = True
        alive = [a for a in self.actors if a.alive]
        try:
            ray.get([a.handle.shutdown.remote() for a in alive], timeout=timeout)
        except Exception as e:  # an actor already gone: what reached the gateway is saved by its reader
            log.warning("a worker did not shut down cleanly: %s", e)
        for t in self.readers:
            t.join(timeout)
        self.saver.shutdown(wait=True)
        for a in self.actors:  # a lost one Ray is restarting too
            with contextlib.suppress(Exception):
                ray.kill(a.handle)

    def workers(self) -> list[dict]:
        """What `workers` lists for this model: one entry per actor."""
        return [{"model": self.m.name, "kind": "ray", "device": a.where.get("device"), "node": a.where.get("node"),
                 "pid": a.where.get("pid"), "sessions": a.stats.sessions, "steps_per_s": round(a.rate, 1),
                 "threads": a.where.get("threads"), "alive": a.alive} for a in self.actors]

    # -- placement -------------------------------------------------------------------------------------------------
    def _actor_for(self, cmd: M.Command, owner: Any) -> Actor | None:
        alive = [a for a in self.actors if a.alive]
        if not alive:
            return None
        if isinstance(cmd, (M.Generate, M.Continue)):
            room = [a for a in alive if self.max_jobs is None or a.sessions < self.max_jobs] or alive
            return min(room, key=lambda a: (a.sessions, a.index))
        target = cmd.of if isinstance(cmd, M.Extend) else getattr(cmd, "id", None)
        if target is None:
            return self.latest if self.latest is not None and self.latest.alive else alive[0]
        with self.lock:
            pend = self.pending.get(key(owner, target))
        if pend is not None and pend[2].alive:
            return pend[2]
        job = (self.own(owner, target, finished=False) or self.find(target, owner, finished=False)
               or self.own(owner, target) or self.find(target, owner))
        if job is not None and self._holds(job):
            return job.actor
        if isinstance(cmd, M.Extend):  # its take's actor is gone: the least-loaded (the take goes along)
            return min(alive, key=lambda a: (a.sessions, a.index))
        return alive[0]  # it answers unknown_id

    @staticmethod
    def _holds(job: RemoteJob) -> bool:
        """Whether the take's actor still holds it (alive, and not restarted since: the same process)."""
        return job.actor.alive and job.actor.where.get("pid") == job.pid

    def _number(self, owner: Any) -> int | None:
        if owner is None:
            return None
        with self.lock:
            n = self.numbers.get(id(owner))
            if n is None or self.owners.get(n) is not owner:
                if len(self.numbers) > 4096:  # owners long gone (their weak entries died): forget them
                    self.numbers = {i: m for i, m in self.numbers.items() if m in self.owners}
                n, self.next_number = self.next_number, self.next_number + 1
                self.numbers[id(owner)] = n
                self.owners[n] = owner
            return n

    def _refused(self, fut, cmd: M.Command, owner: Any, actor: Actor) -> None:
        try:
            refusal = fut.result()
        except Exception as e:  # the actor died with the command on its way (its reader moves what it held)
            if isinstance(cmd, (M.Generate, M.Continue, M.Extend, ExtendOf)):
                return  # a start: sent again elsewhere by `_lost`
            refusal = ("model_error", f"the worker of {self.m.name} is gone: {type(e).__name__}")
        if refusal is not None:
            k = key(owner, getattr(cmd, "id", None))
            with self.lock:
                pend = self.pending.get(k)
                if pend is not None and pend[2] is actor:
                    del self.pending[k]
                    actor.sessions -= 1
            self.emit(owner, M.Error(refusal[0], refusal[1], getattr(cmd, "id", None)))

    # -- the stream ------------------------------------------------------------------------------------------------
    def _read(self, actor: Actor) -> None:
        """One actor's stream, for as long as it lives; after a loss, it rejoins if Ray restarts it."""
        import ray

        while not self.closing:
            try:
                for ref in actor.handle.events.options(num_returns="streaming").remote():
                    stats, items = ray.get(ref)
                    self.transit.append(time.monotonic() - stats.at)  # one machine's clock: loopback only
                    if actor.stats.at and stats.at > actor.stats.at:
                        actor.rate = (stats.steps - actor.stats.steps) / (stats.at - actor.stats.at)
                    actor.stats = stats
                    for item in items:
                        try:
                            self._item(actor, item)
                        except Exception:
                            log.exception("an event from %s's worker failed", self.m.name)
                return  # it ended its stream: shut down
            except Exception as e:
                if self.closing:
                    return
                log.warning("worker %d of %s is lost (%s): its takes go on elsewhere", actor.index, self.m.name,
                            type(e).__name__)
                self._lost(actor, e)
            if not self._restarted(actor):
                return  # gone for good (or the daemon stops)
            actor.stats, actor.rate, actor.sessions, actor.alive = HostStats(0, 0, 0.0), 0.0, 0, True
            log.warning("worker %d of %s is back (pid %s)", actor.index, self.m.name, actor.where.get("pid"))

    def _restarted(self, actor: Actor) -> bool:
        """Wait for Ray to restart a lost actor (it answers, with its new pid, once its model is loaded again)."""
        import ray
        from ray.exceptions import ActorUnavailableError, GetTimeoutError

        deadline = time.monotonic() + RESTART_WAIT_S
        while not self.closing and time.monotonic() < deadline:
            try:
                actor.where = ray.get(actor.handle.where.remote(), timeout=5.0)
                return True
            except (GetTimeoutError, ActorUnavailableError):  # restarting
                time.sleep(0.5)
            except Exception:  # dead for good
                return False
        return False

    def _item(self, actor: Actor, item: tuple) -> None:
        if item[0] == "saved":
            _, n, id, rendered, audio, frames = item
            owner = self._owner(n)
            job = self.active.get(key(owner, id))
            if job is not None:
                job.finishing = True
            self.saver.submit(self._write, owner, id, rendered, audio, frames)
            return
        spec = state = params = None
        if item[0] == "started":
            _, n, event, spec, params = item
        elif item[0] == "frames":
            _, n, event, state = item
        else:
            n, event = item
        owner = self._owner(n)
        k = key(owner, getattr(event, "id", None))
        if state is not None:  # every frame's codes and the session's state: kept to go on elsewhere
            job = self.active.get(k)
            if job is not None:
                job.codes.append(event.codes)
                if state[0] is not None:  # sent only when it changed
                    job.window = state[0]
                job.ticks = state[1]
                job.changes.extend(state[2])
            if self.wants_codes(owner):
                self.emit(owner, event)
            return
        if isinstance(event, M.Started):
            with self.lock:
                cmd, play, _, _ = self.pending.pop(k, (None, False, actor, owner))
                params = params or M.GenerateParams(event.prompts or (("", 1.0),))  # the actor's (an extend's too)
                job = RemoteJob(event.id, owner, params, play, actor,
                                TakeView(self.m, spec.length if spec is not None else
                                         result_length(params, self.m.sample_rate)),
                                total_frames=int(round(event.seconds * self.m.frame_rate)), spec=spec,
                                pid=actor.where.get("pid"))
                self.active[k] = job
            self.emit(owner, event)
            if self.on_start is not None:
                self.on_start(job)
            return
        job = self.active.get(k)
        if isinstance(event, M.Audio) and job is not None:
            x = np.frombuffer(event.pcm, "<f4").reshape(-1, event.channels)
            job.pcm.append(x)
            job.made += x.shape[0]
            job.seq += 1
            if self.on_audio is not None:
                self.on_audio(job, x)
        elif isinstance(event, M.Progress) and job is not None:
            job.frames = event.frames
        elif isinstance(event, M.Done) and job is not None:  # ended with nothing to save
            self._end(k, job)
        elif isinstance(event, M.Error):
            with self.lock:
                if self.pending.pop(k, None) is not None:  # a start refused by the actor's worker
                    actor.sessions -= 1
        self.emit(owner, event)

    def _owner(self, n: int | None) -> Any:
        return None if n is None else self.owners.get(n)

    def _end(self, k: tuple, job: RemoteJob) -> None:
        """A take left its actor: finished (kept for extend and play; what was kept to move it, let go)."""
        with self.lock:
            if self.active.pop(k, None) is not None:
                job.actor.sessions -= 1
            job.pcm, job.codes = [], []
            self.finished[k] = job
            while len(self.finished) > KEEP_FINISHED:
                self.finished.popitem(last=False)

    def _write(self, owner: Any, id: Any, rendered: Rendered | None, audio: np.ndarray | None, frames: int) -> None:
        """On the saver thread: a finished take from its actor, written here; then its owner is told."""
        k = key(owner, id)
        job = self.active.get(k) or self.finished.get(k)
        if rendered is None:  # it failed before its first audio (its owner has its error): nothing to write
            if job is not None:
                self._end(k, job)
            return
        try:
            path = write(rendered, self.loops_dir)
        except LoopgenError as e:
            self.unsaved.append(str(e))
            self.emit(owner, M.Error("save_failed", f"{e}; the audio was streamed to you, nothing else kept it", id))
            path = None
        if job is not None:
            job.audio = None if audio is None else torch.from_numpy(np.array(audio))
            job.path, job.frames = path, frames
            self._end(k, job)
        if path is not None:
            self.saved += 1
            seconds = 0.0 if audio is None else audio.shape[-1] / self.m.sample_rate
            self.emit(owner, M.Done(id, frames, seconds, path))

    def _lost(self, actor: Actor, e: Exception) -> None:
        """Its actor is gone: every take it held goes on on another actor of the model (`Resume`), or, with none
        left, is saved as far as it streamed; starts it had not begun are sent again."""
        actor.alive = False
        actor.stats, actor.rate = HostStats(0, actor.stats.steps, actor.stats.at), 0.0
        with self.lock:
            jobs = [(k, j) for k, j in self.active.items() if j.actor is actor and not j.finishing]
            pending = [(k, p) for k, p in self.pending.items() if p[2] is actor]
            for k, _ in pending:
                del self.pending[k]
            actor.sessions = 0
        for k, (cmd, play, _, owner) in pending:
            try:
                self.submit(cmd, owner, play)
            except M.ProtocolError as err:
                self.emit(owner, M.Error(err.code, err.message, cmd.id))
        for k, job in jobs:
            if not self._move(job):
                self._give_up(k, job, f"the worker of {self.m.name} was lost ({type(e).__name__})")

    def _move(self, job: RemoteJob) -> bool:
        """Send a take of a lost actor to the least-loaded other one. -> False when it cannot go on."""
        alive = [a for a in self.actors if a.alive]
        if not alive or job.spec is None or job.window is None:  # no actor left; not started; MAGNeT
            return False
        target = min(alive, key=lambda a: (a.sessions, a.index))
        codes = np.array(job.codes, dtype=np.int64).T.reshape(self.m.num_codebooks, len(job.codes))  # [K, n]
        cmd = Resume(job.id, job.params, job.spec, codes, job.window, job.ticks, list(job.changes), job.made,
                     job.seq)
        with self.lock:
            job.actor, job.pid = target, target.where.get("pid")
            target.sessions += 1
        ref = target.handle.submit.remote(cmd, self._number(job.owner), False)
        ref.future().add_done_callback(lambda f: self._resumed(f, job, target))
        self.emit(job.owner, M.Moved(job.id, len(job.codes), target.where.get("pid")))
        log.warning("take %s moved to worker %d of %s at frame %d", job.id, target.index, self.m.name, len(job.codes))
        return True

    def _resumed(self, fut, job: RemoteJob, actor: Actor) -> None:
        try:
            refusal = fut.result()
        except Exception as e:
            refusal = ("model_error", f"{type(e).__name__}")
        if refusal is not None and job.actor is actor:  # refused at once (busy): saved as far as it came
            self._give_up(key(job.owner, job.id), job, f"its move to another worker failed: {refusal[1]}")

    def _give_up(self, k: tuple, job: RemoteJob, why: str) -> None:
        self.emit(job.owner, M.Error("model_error", f"{why}; the take is saved as far as it was made", job.id))
        job.stopped = True
        self.saver.submit(self._write_partial, k, job)

    def _write_partial(self, k: tuple, job: RemoteJob) -> None:
        audio = np.concatenate(job.pcm) if job.pcm else np.zeros((0, self.m.channels), np.float32)  # [n, C]
        p, spec = job.params, job.spec
        keep = spec is not None and spec.keep_original and spec.original is not None and audio.shape[0] > 0
        if keep:  # an extend holds the take it extended (spliced hard: the crossfade was its lost actor's)
            audio = np.concatenate([spec.original.T.astype(np.float32), audio])
        record = TakeRecord(model=self.m.name, prompts=[list(x) for x in (spec.prompts if spec else p.prompts)],
                            parameters=dict(spec.sampling if spec else p.sampling),
                            seed=spec.seed if spec else (p.seed or 0), length_samples=job.take.length,
                            frames=len(job.codes), id=job.id, sample_rate=self.m.sample_rate,
                            model_sample_rate=self.m.sample_rate, channels=self.m.channels,
                            seconds=audio.shape[0] / self.m.sample_rate, bpm=p.bpm, bars=p.bars,
                            beats_per_bar=p.beats_per_bar, loop=p.loop, stopped_early=True,
                            changes=list(job.changes), keeps_original=keep,
                            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), dtype=self.m.dtype_name,
                            kernels=dict(self.m.kernels))
        rendered = Rendered(job.id, p.prompts[0][0], audio, self.m.sample_rate, "float", record, None,
                            self.m.sample_rate)
        if audio.shape[0]:
            self._write(job.owner, job.id, rendered, np.ascontiguousarray(audio.T), len(job.codes))
        else:
            self._end(k, job)
