"""The model worker: one thread that owns the model and steps every running generation in one batch.

The event loop hands it commands through a queue and never waits for it; it hands events back through `emit`,
which must be thread-safe (the server uses loop.call_soon_threadsafe). A failure in one session's own work (its
text, its window) ends that session only; a failure of the shared step ends every take in it. Either way each take
is saved with the audio it made. The frames every take completed at a step are decoded together (one codec call
per step, `streaming.bank`). Saving (disk, resampling, loudness) runs on a saver thread, reading client files on
the event loop's helper threads: the model thread only steps, encodes and decodes.

Admission: at most MAX_JOBS_PER_CLIENT running generations per client and `max_jobs` in all ("busy" beyond), an
inbox of INBOX commands, and COMMANDS_PER_STEP commands handled between two steps while something plays.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import LoopgenError
from ..models.audio import prepare_audio
from ..models.base import CodecLM
from ..models.threads import ThreadGovernor, one_thread
from ..protocol import messages as M
from ..streaming.family import Batch, family
from ..streaming.types import Stream
from ..streaming.dsp import loudness_meter
from ..streaming.bank import DecoderBank
from ..streaming.take import Take, push_frames, usable_tail
from ..streaming.output import Output
from .capacity import Capacity
from .jobs import ExtendOf, Job, Rendered, Resume, interleaved, render, result_length, to_host, write

log = logging.getLogger("loopgen.worker")
PROGRESS_EVERY = 25  # frames
KEEP_FINISHED = 64  # finished jobs kept for `extend`
PREFILL_CHUNK = 32  # tokens of a long prompt per step, so other streams keep playing while it primes
MAX_JOBS_PER_CLIENT = 8  # running generations one client (connection, OSC peer) may have
MAX_JOBS = {"cpu": 32, "cuda": 128}  # running generations in all, by device (a setting: `serve --max-generations`)
INBOX = 1024  # commands waiting for the worker; past that, senders are told "busy"
COMMANDS_PER_STEP = 16  # commands handled between two model steps while something plays
MAX_WAITING = 32  # starts waiting for room (when_busy: queue)


class ModelWorker:
    def __init__(
        self,
        m: CodecLM,
        emit: Callable[[Any, M.Event], None],
        loops_dir: Path,
        on_audio: Callable[[Job, np.ndarray], None] | None = None,
        on_start: Callable[[Job], None] | None = None,
        wants_codes: Callable[[Any], bool] = lambda owner: False,
        output: Output = Output(),
        graphs: bool = False,
        max_jobs: int | None = None,
        realtime: bool = True,
        store: Callable[[Job, Rendered | None], None] | None = None,
        governor: ThreadGovernor | None = None,
        threads: int | None = None,
    ):
        """graphs: the model step and the decode replayed as CUDA graphs (a CUDA model; MAGNeT's passes are not).
        max_jobs: running generations in all (None: MAX_JOBS for the model's device). realtime: admit a new stream
        only while every stream is still made in real time (capacity.py); False: by count alone. store: where a
        finished take goes, rendered, instead of into `loops_dir` (a Ray actor's go to the gateway, which writes
        them and answers `done`); given None, the take ended with nothing to write (it failed before its first
        audio). governor: the CPU thread count chosen step by step from the steps' times (the adaptive policy);
        None: `threads` (default: the count of the thread that makes the worker), kept. Only the model's thread runs
        torch on several threads; the saver runs on one (threads.one_thread says why)."""
        self.max_jobs = max_jobs or MAX_JOBS.get(m.device.type, MAX_JOBS["cpu"])
        self.realtime = realtime
        self.capacity = Capacity(None if family(m).per_pass else 1.0 / m.frame_rate)
        self.output = output  # how files are written unless a request says otherwise
        self.thread = threading.Thread(target=self.run, name="loopgen-model", daemon=True)
        self._count = threads or torch.get_num_threads()  # the model thread's count without a governor
        self.saver = ThreadPoolExecutor(1, thread_name_prefix="loopgen-save",  # one at a time, in order
                                        initializer=one_thread)
        self.m = m
        self.emit = emit
        self.loops_dir = Path(loops_dir)
        self.on_audio = on_audio
        self.on_start = on_start  # a take was accepted and started (the speakers play it from here, if asked)
        self.wants_codes = wants_codes
        self.inbox: queue.Queue = queue.Queue(INBOX)
        self.batch = Batch(m, prefill_chunk=PREFILL_CHUNK, graphs=graphs)  # the model family's stepper
        self.decoders = DecoderBank(m, 1, graphs=graphs)  # every take's decoder, one call a step
        self.per_pass = family(m).per_pass  # a step is a decoding pass (MAGNeT): progress after each, not per frames
        self.active: dict[Any, Job] = {}
        self.by_session: dict[int, Job] = {}
        self.finished: OrderedDict[Any, Job] = OrderedDict()
        self.waiting: deque = deque()  # (cmd, owner, play): starts that asked to wait for room (when_busy: queue)
        self.halt = threading.Event()
        self.steps = 0
        self.step_times: deque = deque(maxlen=50)  # when the latest steps started (workers' steps/s)
        self._last_step: tuple[float, int] | None = None  # (when the last step started, its streams)
        self.saved = 0
        self.unsaved: list[str] = []  # why each unsaved take could not be saved
        self.store = store  # None: this worker writes its takes (into loops_dir)
        self.governor = governor
        self.threads: int | None = None  # the CPU threads the model thread steps on (its own count), once it runs

    # -- from the event loop (thread-safe) -------------------------------------------------------------------
    def submit(self, cmd: M.Command, owner: Any, play: bool = False) -> None:
        """Queue a command; raises ProtocolError("busy") when the worker is that far behind (never blocks).
        play: a take it starts goes to `on_start` marked to be played (a refused one never does)."""
        try:
            self.inbox.put_nowait((cmd, owner, play))
        except queue.Full:
            raise M.ProtocolError("busy", "the server is busy: too many commands waiting; try again shortly",
                                  getattr(cmd, "id", None)) from None

    def stop_owner(self, owner: Any) -> None:
        """Stop (and save) every running take of `owner`; from any thread."""
        self.inbox.put(("stop_owner", owner, False))

    def start(self) -> None:
        self.thread.start()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every generation (audio so far saved, owners told), then end the thread."""
        self.inbox.put(("shutdown", None, False))
        self.thread.join(timeout)
        self.saver.shutdown(wait=True)  # every take on disk (or reported) before the daemon says so

    # -- the thread --------------------------------------------------------------------------------------------
    def run(self) -> None:
        torch.set_grad_enabled(False)
        # the count is per thread (OpenMP's): set here, on this one
        torch.set_num_threads(self.governor.now if self.governor is not None else self._count)
        self.threads = torch.get_num_threads()
        while not self.halt.is_set():
            try:
                self._drain(block=not self.active and not self.waiting)
                self._admit_waiting()
                if self.active:
                    self._step()
            except Exception:  # never let the worker die: log and go on
                log.exception("worker loop error")

    def _drain(self, block: bool) -> None:
        budget = COMMANDS_PER_STEP if self.active else INBOX  # while streams play, they step between batches
        while budget > 0:
            budget -= 1
            try:
                cmd, owner, play = self.inbox.get(timeout=0.1) if block else self.inbox.get_nowait()
            except queue.Empty:
                return
            block = False
            if cmd == "shutdown":
                for job in list(self.active.values()):
                    self._stop(job)
                self.halt.set()
                return
            if cmd == "stop_owner":  # its owner was dropped (too slow to read): nobody hears these takes
                for job in [j for j in self.active.values() if j.owner is owner]:
                    self._stop(job)
                self.waiting = deque(w for w in self.waiting if w[1] is not owner)  # nor would they hear these
                continue
            try:
                self._handle(cmd, owner, play)
            except (M.ProtocolError, LoopgenError) as e:
                code = e.code if isinstance(e, M.ProtocolError) else "bad_field"  # the model refused its content
                self.emit(owner, M.Error(code, str(e), getattr(cmd, "id", None)))
            except Exception as e:
                log.exception("command failed")
                self.emit(owner, M.Error("server_error", f"{type(e).__name__}: {e}", getattr(cmd, "id", None)))

    def _admit_waiting(self) -> None:
        """Queued starts, in order, as room comes (capacity.py); each answered as if it had just arrived."""
        while self.waiting:
            ok = self.capacity.admits(len(self.active))[0] if self.realtime else True
            if not ok or len(self.active) >= self.max_jobs:
                return
            cmd, owner, play = self.waiting.popleft()
            try:
                self._handle(cmd, owner, play, queued=True)
            except (M.ProtocolError, LoopgenError) as e:
                code = e.code if isinstance(e, M.ProtocolError) else "bad_field"
                self.emit(owner, M.Error(code, str(e), cmd.id))

    def _unqueue(self, owner: Any, id: Any) -> bool:
        """A stop for a start still waiting: it leaves the queue (nothing was made). -> whether it was there."""
        for item in list(self.waiting):
            if item[1] is owner and (id is None or item[0].id == id):
                self.waiting.remove(item)
                self.emit(owner, M.Done(item[0].id, 0, 0.0, ""))
                return True
        return False

    def _handle(self, cmd: M.Command, owner: Any, play: bool = False, queued: bool = False) -> None:
        if isinstance(cmd, Resume):
            self._resume(cmd, owner)
            return
        if isinstance(cmd, (M.Generate, M.Continue, M.Extend, ExtendOf)):
            if key(owner, cmd.id) in self.active:
                raise M.ProtocolError("bad_field", f"a generation with id {M.short(cmd.id)} is already running", cmd.id)
            mine = sum(1 for j in self.active.values() if j.owner is owner)
            if mine >= MAX_JOBS_PER_CLIENT or len(self.active) >= self.max_jobs:
                limit = (f"{MAX_JOBS_PER_CLIENT} running generations per client" if mine >= MAX_JOBS_PER_CLIENT
                         else f"{self.max_jobs} running generations in all")
                raise M.ProtocolError("busy", f"busy: {limit}; stop one or wait for one to finish", cmd.id)
            if any(o is owner and c.id == cmd.id for c, o, _ in self.waiting):
                raise M.ProtocolError("bad_field", f"a generation with id {M.short(cmd.id)} is already queued", cmd.id)
            ok, why = self.capacity.admits(len(self.active)) if self.realtime else (True, "")
            if not ok or (self.waiting and not queued):  # one more would take every stream below real time
                if isinstance(cmd, M.Generate | M.Continue) and cmd.params.queue and not queued:
                    if len(self.waiting) >= MAX_WAITING:
                        raise M.ProtocolError("busy", f"busy: {MAX_WAITING} requests already wait for room", cmd.id)
                    self.waiting.append((cmd, owner, play))
                    self.emit(owner, M.Queued(cmd.id, len(self.waiting) - 1))
                    return
                if not ok:
                    raise M.ProtocolError("busy", f"busy: {why}; stop one or wait for one to finish", cmd.id)
        if isinstance(cmd, M.Generate):
            self._start(cmd.id, owner, cmd.params, play=play)
        elif isinstance(cmd, M.Continue):
            self._start(cmd.id, owner, cmd.params, audio=(cmd.audio, cmd.sample_rate), play=play)
        elif isinstance(cmd, M.Extend):
            of = self.find(cmd.of, owner)
            if of is None or of.audio is None:
                raise M.ProtocolError("unknown_id", f"no finished generation with id {cmd.of!r} to extend", cmd.id)
            self._extend(cmd, owner, play, of.params, of.audio, (of.take.melody, of.take.melody_from))
        elif isinstance(cmd, ExtendOf):
            self._extend(cmd.cmd, owner, play, cmd.params, self._on_device(cmd.audio),
                         (self._on_device(cmd.melody), cmd.melody_from))
        elif isinstance(cmd, M.Set):
            job = self._running(owner, cmd.id)
            if job is None:
                if cmd.id is None or self.find(cmd.id, owner) is not None:
                    return  # it finished: the value stays with the sender for its next take, not an error
                raise M.ProtocolError("unknown_id", f"no generation with id {cmd.id!r}", cmd.id)
            if cmd.melody is not None and not self.m.prefixed:  # removing a melody it never had is refused alike
                raise M.ProtocolError("bad_field", str(self.m.no_melody()), cmd.id)
            if cmd.changes:
                try:
                    job.take.set_params(**cmd.changes)  # in the model family's own ranges
                except LoopgenError as e:
                    raise M.ProtocolError("out_of_range", str(e), cmd.id) from None
            if cmd.prompts is not None:
                job.take.set_prompts(list(cmd.prompts))
            if cmd.melody is not None:
                job.take.set_melody(self._chroma(cmd.melody, cmd.id)[0])
        elif isinstance(cmd, M.Stop):
            job = self._running(owner, cmd.id)
            if job is None and self._unqueue(owner, cmd.id):
                return
            if job is None:
                if cmd.id is not None and self.find(cmd.id, owner) is not None:
                    return  # already finished and saved: nothing to stop
                what = "nothing is running" if cmd.id is None else f"no generation with id {cmd.id!r}"
                raise M.ProtocolError("unknown_id", what, cmd.id)
            self._stop(job)

    def starting(self, owner: Any, id: Any) -> bool:
        """Whether the owner's start `id` waits for room (when_busy: queue); from any thread."""
        for _ in range(3):  # the model thread may change the queue while it is read
            try:
                return any(o is owner and c.id == id for c, o, _ in list(self.waiting))
            except RuntimeError:
                continue
        return False

    def _running(self, owner: Any, id: Any) -> Job | None:
        """A running job: id None = the latest anyone started; else the owner's own, else anyone's with that id (so
        another process, say `loopgen send stop ID`, can reach it)."""
        if id is None:
            return next(reversed(self.active.values()), None)
        return self.find(id, owner, finished=False)

    def own(self, owner: Any, id: Any, finished: bool = True) -> Job | None:
        """The owner's own job with that id (id None: its latest), never anyone else's."""
        jobs = self.finished if finished else self.active
        if id is None:
            return next((j for j in reversed(list(jobs.values())) if j.owner is owner), None)
        return jobs.get(key(owner, id))

    def find(self, id: Any, owner: Any = None, finished: bool = True) -> Job | None:
        """A job by id: the owner's own first, else the latest of anyone's with that id."""
        jobs = self.finished if finished else self.active
        if key(owner, id) in jobs:
            return jobs[key(owner, id)]
        for k in reversed(list(jobs)):
            if k[1] == id:
                return jobs[k]
        return None

    def _start(self, id, owner, p: M.GenerateParams, audio=None, original: torch.Tensor | None = None,
               length: int | None = None, play: bool = False, melody: tuple | None = None) -> None:
        """A take of `p`: continuing `audio` (only the new audio is the result), or extending `original` (kept in a
        result of `length` samples). melody: (chroma, how) already made (an extend keeps its take's), else p's."""
        m = self.m
        try:
            family(m).sampling(m, p.sampling)  # the given values, checked
        except LoopgenError as e:  # in the family's own ranges (MAGNeT's temperature goes to 10, MusicGen's to 5)
            raise M.ProtocolError("out_of_range", str(e), id) from None
        if self.output.over(p.output_rate, p.output_format, p.loudness).loudness is not None:
            loudness_meter()  # refused now, not after the take was made
        if audio is not None:  # only the tail a window can use is resampled and encoded: work bounded by time
            data, rate = audio
            data = usable_tail(m, data, rate)
            original = prepare_audio(data, rate, m.sample_rate, m.channels)[0].to(m.device)
        chroma, how = self._chroma(p.melody, id) if melody is None else melody
        p = dataclasses.replace(p, melody=None)  # the job keeps the chroma (in its take), never the melody's audio
        n = result_length(p, m.sample_rate) if length is None else length
        take = Take(m, [list(p.prompts)], p.sampling, p.seed, n, loop=p.loop, original=original,
                    keep_original=length is not None, guided=True, melody=chroma, melody_from=how, bank=self.decoders)
        job = Job(id, owner, p, take, play=play)
        self.active[key(owner, id)] = job
        self.by_session[id_of(take.session)] = job
        self.batch.add(take.session)
        self.emit(owner, M.Started(id, job.total_frames / m.frame_rate, tuple(tuple(x) for x in p.prompts)))
        if self.on_start is not None:
            self.on_start(job)

    def _resume(self, cmd: Resume, owner: Any) -> None:
        """A take another worker was making, made again to where it was (`Take.resume`) and stepped on from there;
        the audio its owner has not had yet (made but not sent before the move) is sent first."""
        s, dev = cmd.spec, self._on_device
        take = Take(self.m, [list(s.prompts)], s.sampling, s.seed, s.length, loop=s.loop, original=dev(s.original),
                    keep_original=s.keep_original, guided=True, melody=dev(s.melody), melody_from=s.melody_from,
                    bank=self.decoders)
        take.resume(dev(cmd.codes)[None], cmd.window, cmd.ticks, cmd.changes)
        job = Job(cmd.id, owner, cmd.params, take, seq=cmd.seq)
        self.active[key(owner, cmd.id)] = job
        self.by_session[id_of(take.session)] = job
        self.batch.add(take.session)
        if take.made > cmd.made:
            unsent = torch.cat(take.pcm, dim=-1)[:, cmd.made - take.made :]
            self._audio(job, to_host([unsent])[0])

    def _on_device(self, x: np.ndarray | None) -> torch.Tensor | None:
        """An array sent from the gateway (a take's audio, codes, a chroma) as a tensor on the model's device."""
        return None if x is None else torch.from_numpy(np.array(x)).to(self.m.device)

    def _chroma(self, melody: M.Melody | None, id: Any) -> tuple[torch.Tensor | None, str | None]:
        """A request's melody -> (the model's one-hot chroma, how it was made), or (None, None) for no melody."""
        if melody is None or melody.none:
            return None, None
        if not self.m.prefixed:
            raise M.ProtocolError("bad_field", str(self.m.no_melody()), id)
        return self.m.melody_chroma(melody.audio, melody.sample_rate)

    def _extend(self, cmd: M.Extend, owner, play: bool, p: M.GenerateParams, audio: torch.Tensor,
                melody: tuple) -> None:
        """A take of `p` extended: `audio` [C, N] the finished take, `melody` its (chroma, how)."""
        sr = self.m.sample_rate
        if cmd.bars is not None:
            if p.bpm is None:
                raise M.ProtocolError("bad_field", "extend by bars needs a generation made with bars + bpm", cmd.id)
            params = M.GenerateParams(**{**p.__dict__, "bars": p.bars + cmd.bars, "seconds": None})
            length = result_length(params, sr)
        else:
            params = M.GenerateParams(**{**p.__dict__, "seconds": (p.seconds or 0) + cmd.seconds, "bars": None,
                                         "bpm": None, "loop": False})
            length = audio.shape[-1] + int(round(cmd.seconds * sr))
        if length - audio.shape[-1] > M.MAX_NEW_SECONDS * sr:  # bars at a slow tempo add up too
            raise M.ProtocolError("out_of_range", f"at most {M.MAX_NEW_SECONDS:g} s of new audio per request, got "
                                  f"{(length - audio.shape[-1]) / sr:.0f} s", cmd.id)
        self._start(cmd.id, owner, params, original=audio.to(self.m.device), length=length, play=play,
                    melody=melody)

    # -- stepping ----------------------------------------------------------------------------------------------
    def _step(self) -> None:
        t0, n = time.perf_counter(), len(self.batch.sessions)
        made = self._step_batch()
        # a step as the streams feel it: from the last step's start (the commands handled between two steps, a new
        # take's text encoding, included) or, after a pause, its own time
        last, self._last_step = self._last_step, (t0, n)
        since = t0 - last[0] if last is not None and last[1] == n else 0.0
        took = time.perf_counter() - t0
        self.capacity.record(n, max(took, since) if since < 4 * took else took, made / self.m.frame_rate)
        if self.governor is not None:
            self._govern(took, n)

    def _govern(self, took: float, streams: int) -> None:
        """The thread policy's count for the next step; a change is recorded in every running take (its bits
        depend on it: `render --from` replays it at the same step)."""
        threads = self.governor.observe(took, streams)
        if threads != self.threads:
            torch.set_num_threads(threads)
            self.threads = threads
            for job in self.active.values():
                job.take.note_threads(threads)

    def _step_batch(self) -> int:
        """One step of every session, its frames decoded and sent -> frames made (all streams)."""
        try:
            done = self.batch.step()
        except Exception as e:  # the shared step failed (a device error): every take in it ends, saved
            log.exception("model step failed")
            done = []
            for job in list(self.active.values()):
                self._fail(job, e)
        for s, e in self.batch.failed:  # sessions that failed alone: only they end
            self._fail(self.by_session[id_of(s)], e)
        self.batch.failed.clear()
        self.steps += 1
        self.step_times.append(time.monotonic())
        jobs = [(self.by_session[id_of(s)], f) for s, f in done]
        try:
            pcm = to_host(push_frames([(job.take, f) for job, f in jobs]))  # one decode, one copy off the device
            codes = None
            if any(self.wants_codes(job.owner) for job, _ in jobs):
                codes = torch.stack([f.codes[0] for _, f in jobs]).tolist()
        except Exception as e:  # the shared decode failed (a device error): every take in it ends, saved
            log.exception("decoding failed")
            for job in list(self.active.values()):
                self._fail(job, e)
            return 0
        for i, ((job, f), x) in enumerate(zip(jobs, pcm)):
            self._frame(job, f, x, None if codes is None else codes[i])
        if self.per_pass:  # MAGNeT: progress after every decoding pass
            for job in self.active.values():
                self._progress(job)
        for job in list(self.active.values()):
            if job.session.done:
                self._finish(job)
        return len(jobs)

    def workers(self) -> list[dict]:
        """What `workers` lists for this model: this thread, in the daemon's process."""
        import os
        import socket

        t = list(self.step_times)
        recent = len(t) > 1 and time.monotonic() - t[-1] < 1.0
        rate = (len(t) - 1) / (t[-1] - t[0]) if recent and t[-1] > t[0] else 0.0
        return [{"model": self.m.name, "kind": "thread", "device": str(self.m.device), "node": socket.gethostname(),
                 "pid": os.getpid(), "sessions": len(self.active), "steps_per_s": round(rate, 1),
                 "threads": self.threads, "alive": True}]

    def _fail(self, job: Job, e: Exception) -> None:
        self.emit(job.owner, M.Error("model_error", f"{type(e).__name__}: {e}", job.id))
        job.failed = job.stopped = True
        job.session.cancel()
        self._finish(job)

    def _frame(self, job: Job, f, pcm: np.ndarray, codes: list[int] | None) -> None:
        """A frame `f` of the job's take was decoded into `pcm` [n, C] (its new audio); `codes`: the frame's codes
        on the host when some owner wants codes."""
        if self.wants_codes(job.owner):
            self.emit(job.owner, M.Frames(job.id, f.index, codes))
        self._audio(job, pcm)
        if job.frames % PROGRESS_EVERY == 0 and not self.per_pass:
            self._progress(job)

    def _audio(self, job: Job, x: np.ndarray) -> None:
        """New audio of a job, [n, C] on the host: to its owner and the speakers."""
        if not x.shape[0]:
            return
        self.emit(job.owner, M.Audio(job.id, job.seq, job.made - x.shape[0], interleaved(x), x.shape[1]))
        job.seq += 1
        if self.on_audio is not None:
            self.on_audio(job, x)

    def _progress(self, job: Job) -> None:
        elapsed = max(1e-6, time.perf_counter() - job.started)
        frames = min(getattr(job.session, "progress_frames", job.frames), job.total_frames)  # MAGNeT: by passes
        rtf = frames / self.m.frame_rate / elapsed
        self.emit(job.owner, M.Progress(job.id, frames, job.total_frames, rtf))

    def _stop(self, job: Job) -> None:
        job.stopped = True
        job.session.cancel()
        self._finish(job)

    def _finish(self, job: Job) -> None:
        """Flush, wrap a loop, save WAV + JSON, tell the owner. Runs once per job."""
        k = key(job.owner, job.id)
        if k not in self.active or job.finishing:
            return
        job.finishing = True
        self.by_session.pop(id_of(job.session), None)
        if job.session in self.batch.sessions:
            self.batch.remove(job.session)
        try:
            tail = to_host([job.take.flush()])[0]
        except Exception as e:  # the decoder failed at the take's very end: it keeps what it made, and says so
            log.exception("decoding the end of %s failed", job.id)
            if not job.failed:
                self.emit(job.owner, M.Error("model_error", f"{type(e).__name__}: {e}", job.id))
            job.failed = job.stopped = True  # saved as made, unwrapped
        else:
            self._audio(job, tail)
        job.finish()
        self.finished[k] = job  # kept for extend, saved or not; in `finished` before it leaves `active`, so a
        del self.active[k]  # reader on another thread never sees a take in neither
        while len(self.finished) > KEEP_FINISHED:
            self.finished.popitem(last=False)
        self.saver.submit(self._save, job)  # disk, resampling, loudness: off the model thread

    def _save(self, job: Job) -> None:
        """On the saver thread: write the take, then tell its owner (done, or save_failed naming the path). A take
        stopped before its first audio saves nothing: done with no path and 0 s (one that failed: its error only)."""
        if job.audio is None or job.audio.shape[-1] == 0:
            if not job.failed:  # a failed one was answered with its error already
                self.emit(job.owner, M.Done(job.id, 0, 0.0, ""))
            elif self.store is not None:
                self.store(job, None)  # nothing to write (a gateway elsewhere learns that the take has ended)
            return
        folder = self.loops_dir  # the takes folder as the take finished
        try:
            rendered = render(job, self.m.name, self.m.sample_rate, PREFILL_CHUNK, self.output)
            if self.store is not None:  # written elsewhere: its writer answers
                self.store(job, rendered)
                return
            job.path = write(rendered, folder)
        except Exception as e:  # LoopgenError from the disk; anything else is a bug, still reported, never silent
            if not isinstance(e, LoopgenError):
                log.exception("saving %s failed", job.id)
            self.unsaved.append(str(e))
            self.emit(job.owner, M.Error("save_failed", f"{e}; the audio was streamed to you, nothing else kept it",
                                         job.id))
        else:
            self.saved += 1
            self._progress(job)
            self.emit(job.owner, M.Done(job.id, job.frames, job.audio.shape[-1] / self.m.sample_rate, job.path))


def key(owner: Any, ident: Any) -> tuple:
    """Ids are the client's own: two clients may both say "1"."""
    return (0 if owner is None else id(owner), ident)


def id_of(session: Stream) -> int:
    return id(session)
