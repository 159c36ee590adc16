"""One generation inside the daemon: its take, its owner, and saving it."""
from __future__ import annotations

import logging

import contextlib
import dataclasses
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import audio_files
from ..errors import LoopgenError
from ..protocol import messages as M
from ..streaming.loops import take_length
from ..streaming.output import Output
from ..streaming.record import record_of
from ..streaming.take import Take

log = logging.getLogger("loopgen.takes")


@dataclass
class Job:
    """A take inside the daemon: who asked, what was sent, where it was saved. The audio is the Take's."""

    id: Any
    owner: Any  # who gets its events (a client handle), or None once they are gone
    params: M.GenerateParams
    take: Take
    seq: int = 0  # audio chunks sent
    started: float = field(default_factory=time.perf_counter)
    audio: torch.Tensor | None = None  # the finished result [C, N]
    path: str | None = None
    stopped: bool = False  # ended before its length (stopped, or failed): kept as made
    failed: bool = False  # its owner was told of a model error
    play: bool = False  # its request asked for it on the speakers (from when it started)
    finishing: bool = False  # its end is being flushed: still active until it is in `finished`

    @property
    def session(self):
        return self.take.session

    @property
    def frames(self) -> int:
        return self.take.frames

    @property
    def total_frames(self) -> int:
        return self.take.total_frames

    @property
    def made(self) -> int:
        return self.take.made

    def finish(self) -> torch.Tensor:
        self.audio = self.take.audio(self.stopped)
        return self.audio


@dataclass(frozen=True)
class TakeSpec:
    """Everything a worker needs to make a take again from its start (on another worker, after its own was lost):
    what `ModelWorker` made of the request, on the host."""

    prompts: tuple  # its weighted prompts at the start
    sampling: dict  # the values given
    seed: int
    length: int  # samples of the result
    loop: bool
    original: np.ndarray | None  # [C, n0] at the model's rate: the audio it continues
    keep_original: bool
    melody: np.ndarray | None  # one-hot chroma [T, 12]
    melody_from: str | None


@dataclass(frozen=True)
class Resume:
    """Go on with a take another worker was making (never from a client: the gateway makes it from what the lost
    worker streamed). codes [K, n]: the frames it made; window, ticks: its session's; changes: its live changes;
    made, seq: the samples and audio chunks its owner already has."""

    id: Any
    params: M.GenerateParams
    spec: TakeSpec
    codes: np.ndarray
    window: Any  # streaming.session.WindowState
    ticks: int
    changes: list
    made: int
    seq: int


@dataclass(frozen=True)
class ExtendOf:
    """An extend of a finished take this worker does not hold (its own worker was lost): the take comes with it,
    from the gateway (never from a client). audio [C, N] at the model's rate; melody: its chroma [T, 12]."""

    cmd: M.Extend
    params: M.GenerateParams
    audio: np.ndarray
    melody: np.ndarray | None
    melody_from: str | None

    @property
    def id(self) -> Any:
        return self.cmd.id


def spec_of(job: Job) -> TakeSpec:
    t = job.take
    host = lambda x: None if x is None else x.cpu().numpy()  # noqa: E731
    return TakeSpec(tuple(tuple(p) for p in t.prompts), dict(job.params.sampling), t.seed, t.length, t.loop,
                    host(t.original), t.keep_original, host(t.melody), t.melody_from)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "loop"


def continue_limits(m) -> audio_files.Limits:
    """A file to continue: at most MAX_CONTINUE_SECONDS, and only the end a continuation uses (`usable_tail`)."""
    return audio_files.Limits(M.MAX_CONTINUE_SECONDS, (8000, 384000), 16, use=m.max_frames / m.frame_rate + 1,
                              end=True)


def read_allowed(path: str, allowed: tuple[Path, ...], limits: audio_files.Limits, what: str, id: Any = None
                 ) -> tuple[np.ndarray, int]:
    """An audio file a client named (OSC /continue PATH, a melody path) -> (float32 [C, N], rate). Only a regular
    file inside one of the `allowed` folders, within `limits` (its header checked first, only what is used
    decoded); one answer for missing, not allowed and not audio, so the error tells nothing about files outside
    or their kind. Call it off the event loop and off the model thread."""
    refuse = M.ProtocolError("bad_audio", f"cannot read {M.short(path, 200)}: not an audio file in a folder loopgen "
                             "may read (the takes folder, your home folder, or --read-dir)", id)
    try:
        p = Path(path).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        raise refuse from None
    if not any(p.is_relative_to(Path(a).expanduser().resolve()) for a in allowed):
        raise refuse
    try:
        if not p.is_file():  # a FIFO, a device or a folder is not a file: never opened
            raise refuse
        return audio_files.read(p, limits)
    except audio_files.LimitError as e:
        raise M.ProtocolError("out_of_range", f"{what}: {e}", id) from e
    except (LoopgenError, OSError):
        raise refuse from None


def check_folder(folder: Path) -> Path:
    """The takes folder, created if missing; refuses one that cannot be written (a file, read-only, gone)."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".loopgen-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise LoopgenError(f"cannot save takes in {folder}: {e.strerror or e}; choose another with --loops-dir") from e
    return folder


def _write_wav(path: Path, audio: torch.Tensor | np.ndarray, sample_rate: int, fmt: str = "float") -> None:
    """audio: [C, N] tensor or [N, C] array -> a WAV (under a temporary name: the format is not the suffix's)."""
    data = audio.T.cpu().numpy() if isinstance(audio, torch.Tensor) else audio
    audio_files.write(path, data, sample_rate, fmt, container="WAV")


@dataclass
class Rendered:
    """A finished take as its files will hold it, not yet written: made where the model is (a Ray actor sends it
    to the gateway, which writes it)."""

    id: Any
    prompt: str  # its first prompt (the file's name)
    data: np.ndarray  # [n, C] the file's samples
    rate: int
    format: str
    record: Any  # streaming.record.TakeRecord (its `continues` named when written)
    original: np.ndarray | None  # [C, n0] the audio it continued, at the model's rate (written beside it)
    sample_rate: int  # the model's


def render(job: Job, model_name: str, sample_rate: int, prefill_chunk: int | None = None,
           output: Output = Output()) -> Rendered:
    """The take's file data and its sidecar record (the loudness and the rate of `output` applied)."""
    take, p = job.take, job.params
    audio = job.audio if job.audio is not None else torch.zeros(1, 0)
    out = output.over(p.output_rate, p.output_format, p.loudness)
    bars = (p.bars, p.bpm, p.beats_per_bar) if p.bars is not None and p.bpm is not None else None
    report: dict = {}
    data, rate = out.render(audio, sample_rate, p.loop and not job.stopped, bars, report)
    if "loudness_reached" in report:  # the peak cap kept it quieter than asked: said, not silent
        log.warning("take %s: %.1f LUFS, not the %.1f asked for (its peaks would clip)", job.id,
                    report["loudness_reached"], out.loudness)
    record = record_of(take, id=job.id, model=model_name, model_sample_rate=sample_rate, data_rate=rate,
                       data_frames=data.shape[0], out=out, bars=p.bars, bpm=p.bpm, beats_per_bar=p.beats_per_bar,
                       loop=p.loop, stopped=job.stopped, continues=None,
                       prefill_chunk=prefill_chunk, threads=take.threads,
                       created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), loudness_reached=report.get("loudness_reached"))
    original = None if take.original is None else take.original.cpu().numpy()
    return Rendered(job.id, p.prompts[0][0], np.asarray(data), rate, out.format, record, original, sample_rate)


def write(r: Rendered, folder: Path) -> str:
    """Write a rendered take as WAV + JSON sidecar (+ the audio it continued, as NAME.source.wav), atomically: each
    file is written under a temporary name and renamed, the WAV last, so a WAV on disk always has its sidecar. The
    sidecar holds all `loopgen render --from` needs to make the take again. Returns the WAV path; raises
    LoopgenError naming the path when the disk refuses."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    stem = f"{stamp}-{slug(str(r.id))}-{slug(r.prompt)}"
    base, n = folder / stem, 1
    while base.with_suffix(".wav").exists():
        n += 1
        base = folder / f"{stem}-{n}"
    wav, side, src = base.with_suffix(".wav"), base.with_suffix(".json"), base.with_name(base.name + ".source.wav")
    record = r.record if r.original is None else dataclasses.replace(r.record, continues=src.name)
    parts = []
    try:
        if r.original is not None:
            _write_wav(src.with_suffix(".part"), r.original.T, r.sample_rate)
            parts.append((src.with_suffix(".part"), src))
        side.with_suffix(".part.json").write_text(record.to_json())
        parts.append((side.with_suffix(".part.json"), side))
        _write_wav(wav.with_suffix(".part"), r.data, r.rate, r.format)
        parts.append((wav.with_suffix(".part"), wav))
        for tmp, final in parts:  # the WAV last
            os.replace(tmp, final)
    except Exception as e:  # OSError, or soundfile's own error for a full disk
        for tmp, _ in parts:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise LoopgenError(f"could not save the take {r.id!r} to {wav}: {getattr(e, 'strerror', None) or e}") from e
    return str(wav)


def result_length(p: M.GenerateParams, sample_rate: int) -> int:
    """Samples of a generation's result: a loop's exact length, or seconds * rate."""
    return take_length(sample_rate, p.seconds, p.bars, p.bpm, p.beats_per_bar)


def to_host(pcm: list[torch.Tensor]) -> list[np.ndarray]:
    """PCM chunks [C, n_i] on the model's device -> [n_i, C] float32 arrays, in one copy off the device."""
    if not pcm:
        return []
    host = torch.cat([x.T for x in pcm]).float().cpu().numpy()  # [sum n_i, C]
    return np.split(host, np.cumsum([x.shape[-1] for x in pcm[:-1]]).tolist())


def interleaved(a: np.ndarray) -> bytes:
    """[n, C] -> interleaved little-endian float32 bytes."""
    return np.ascontiguousarray(a, dtype="<f4").tobytes()
