"""A take's record: everything `loopgen render --from` needs to make the take again, and what a person reads in the
sidecar beside its WAV. One typed, versioned type: `record_of` makes one of a finished take, the daemon writes it
(server/jobs.py), `render --from` reads it (streaming/render.py); sidecars of record 1 (before the version field)
load too.

Record 2: `parameters` are the sampling values the take started with, in request names (temperature, top_k, top_p,
cfg_coef), whatever the model family. Record 1 wrote MusicGen's values for every family, and a MAGNeT take then used
its own default wherever a value equalled MusicGen's default: read back the same way.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import LoopgenError, short
from ..models.chroma import pitch_classes
from ..models.kernels import CANDIDATES as KERNELS
from ..models.loading import DTYPE_NAMES
from ..params import (LENGTH_LIMITS, LOUDNESS_RANGE, MAX_PROMPT_CHARS, MAX_PROMPTS, MAX_SEED, OUTPUT_FORMATS,
                      OUTPUT_RATES, REQUEST_LIMITS, SamplingParams, request_problem)
from .output import Output
from .take import Take

VERSION = 2


@dataclass(frozen=True)
class TakeRecord:
    model: str  # the model id it was made with
    prompts: list[tuple[str, float]]  # its weighted prompts at the start (live changes: `changes`)
    parameters: dict[str, float]  # sampling values at the start, in request names
    seed: int
    length_samples: int  # samples of the result at the model's rate
    frames: int  # frames the model made (a stopped take: where it stopped)
    id: Any = None  # the id its client gave
    sample_rate: int | None = None  # the file's rate
    model_sample_rate: int | None = None
    output_format: str = "float"
    loudness: float | None = None
    loudness_reached: float | None = None  # LUFS, when the peak cap kept the take below `loudness`
    channels: int | None = None
    seconds: float | None = None
    bpm: float | None = None
    bars: float | None = None
    beats_per_bar: int = 4
    loop: bool = False
    stopped_early: bool = False
    changes: list[dict] = field(default_factory=list)  # live changes, each with the session tick it applied at
    continues: str | None = None  # the file beside it holding the audio it continued (NAME.source.wav)
    keeps_original: bool = False  # the result holds the audio it continued (extend) or only the new audio
    prefill_chunk: int | None = None  # the daemon's prefill chunk (a continuation primes in steps of it)
    threads: int | None = None  # CPU threads of the decode (a batched decode's last bits depend on it)
    # its decoder's moves into the daemon's bank (2 rows or more) and out of it, alone (1 row): [[frame, rows], ...]
    # (bank.BankStream.log); None: banked from its first steady frame on (a record made before, or on a GPU)
    decode_rows: list | None = None
    created: str | None = None
    melody: dict | None = None  # {"pitch_classes": [...], "chroma_from": ...}: a melody model's conditioning
    dtype: str | None = None  # the precision its model ran in (load_model's name: "int8", "float32", ...)
    # the CPU matmul each float dtype ran, by dtype name ({"float32": "packed"}: CodecLM.use_kernels; their last bits
    # differ); None: not recorded (a record made before: render measures afresh)
    kernels: dict | None = None
    record: int = VERSION

    @property
    def family_parameters(self) -> dict[str, float]:
        """The sampling values to make it again with (see the module docstring for record 1)."""
        if self.record < 2 and "magnet" in self.model.lower():
            d = SamplingParams().as_dict()
            return {k: v for k, v in self.parameters.items() if v != d.get(k)}
        return dict(self.parameters)

    @property
    def bars_at(self) -> tuple[float, float, int] | None:
        """(bars, bpm, beats per bar) of a take made in bars, else None."""
        return (self.bars, self.bpm, self.beats_per_bar) if self.bars and self.bpm else None

    def to_json(self) -> str:
        d = asdict(self)
        d["prompts"] = [list(p) for p in self.prompts]
        return json.dumps(d, indent=2)

    @classmethod
    def from_json(cls, text: str, where: str = "the sidecar") -> "TakeRecord":
        """Parse and check a sidecar; raises LoopgenError saying what is wrong (never a traceback)."""
        try:
            d = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise LoopgenError(f"cannot make a take from {where}: not JSON ({type(e).__name__})") from None
        if not isinstance(d, dict):
            raise LoopgenError(f"cannot make a take from {where}: not a take's record")
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}  # fields a later version adds are not ours to read
        d.setdefault("record", 1)  # written before records had a version
        missing = [k for k in ("model", "prompts", "parameters", "seed", "length_samples", "frames") if k not in d]
        if missing:
            raise LoopgenError(f"cannot make a take from {where}: no {', '.join(missing)}")
        try:
            r = cls(**d)
            r._check()
        except (TypeError, ValueError, RecursionError) as e:  # nesting too deep to even name
            raise LoopgenError(f"cannot make a take from {where}: {e}") from None
        return r

    def _check(self) -> None:
        """Every field against its type and the daemon's own limits, before any work (a hostile sidecar gets one
        line naming the bad field: no traceback, no unbounded work). Raises ValueError."""
        _whole("record", self.record, 1, VERSION)
        _text("model", self.model, 200)
        if self.dtype is not None and self.dtype not in DTYPE_NAMES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPE_NAMES)}, got {short(self.dtype)}")
        if self.kernels is not None and not (isinstance(self.kernels, dict) and all(
                k in DTYPE_NAMES and v in KERNELS for k, v in self.kernels.items())):
            raise ValueError(f"kernels must map dtype names to one of {', '.join(KERNELS)}, got {short(self.kernels)}")
        object.__setattr__(self, "prompts", _prompts("prompts", self.prompts))
        _sampling("parameters", self.parameters)
        _whole("seed", self.seed, 0, MAX_SEED)
        _whole("length_samples", self.length_samples, 1, int(MAX_TAKE_SECONDS * MAX_MODEL_RATE))
        _whole("frames", self.frames, 0, self.length_samples)
        _optional(_whole, "sample_rate", self.sample_rate, *OUTPUT_RATES)
        _optional(_whole, "model_sample_rate", self.model_sample_rate, 8000, MAX_MODEL_RATE)
        if self.output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, "
                             f"got {short(self.output_format)}")
        _optional(_number, "loudness", self.loudness, *LOUDNESS_RANGE)
        _optional(_number, "loudness_reached", self.loudness_reached, -200.0, 0.0)
        _optional(_whole, "channels", self.channels, 1, 2)
        _optional(_number, "seconds", self.seconds, 0, MAX_TAKE_SECONDS)
        for name in ("bpm", "bars", "beats_per_bar"):
            lo, hi, whole = LENGTH_LIMITS[name]
            _optional(_whole if whole else _number, name, getattr(self, name), lo, hi)
        for name in ("loop", "stopped_early", "keeps_original"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {short(getattr(self, name))}")
        if self.id is not None and not (isinstance(self.id, (str, int)) and not isinstance(self.id, bool)
                                        and len(str(self.id)) <= 200):
            raise ValueError(f"id must be a short string or number, got {short(self.id)}")
        _optional(_text, "created", self.created, 100)
        _optional(_whole, "prefill_chunk", self.prefill_chunk, 1, 4096)
        _optional(_whole, "threads", self.threads, 1, MAX_THREADS)
        if self.continues is not None and not (isinstance(self.continues, str) and 0 < len(self.continues) <= 255
                                               and "/" not in self.continues and "\\" not in self.continues
                                               and "\0" not in self.continues and not self.continues.startswith(".")):
            raise ValueError("continues must be the bare name of a file beside the sidecar")
        if self.melody is not None:
            if not isinstance(self.melody, dict):
                raise ValueError("melody must be {pitch_classes: [...], chroma_from: ...}")
            _pitch_classes("melody.pitch_classes", self.melody.get("pitch_classes"))
            _optional(_text, "melody.chroma_from", self.melody.get("chroma_from"), 100)
        _changes(self.changes, self.frames)
        if self.decode_rows is not None:
            moves = self.decode_rows
            if not (isinstance(moves, list) and len(moves) <= MAX_CHANGES and all(
                    isinstance(m, list) and len(m) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                for v in m)
                    and 0 <= m[0] < 2**31 and m[1] in (1, 2) for m in moves)
                    and all(a[0] < b[0] for a, b in zip(moves, moves[1:]))):
                raise ValueError(f"decode_rows must be [[frame, 1 | 2], ...] at rising frames, got {short(moves)}")


MAX_TAKE_SECONDS = 3600.0  # a take read back: its new audio and what it kept (chained extends) at most this long
MAX_MODEL_RATE = 48000  # no model loopgen runs has a higher sample rate
MAX_THREADS = 256
MAX_CHANGES = 100_000  # live changes in one take
MAX_PITCH_FRAMES = 4096  # a melody's chroma frames (30 s is 235 of them)
MAX_SIDECAR_BYTES = 16 * 2**20  # read no more than this of a sidecar


def _optional(check, name: str, v: Any, *args) -> None:
    if v is not None:
        check(name, v, *args)


def _whole(name: str, v: Any, lo: int, hi: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {short(v)}")


def _number(name: str, v: Any, lo: float, hi: float) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {short(v)}")


def _text(name: str, v: Any, most: int) -> None:
    if not isinstance(v, str) or not 0 < len(v) <= most:
        raise ValueError(f"{name} must be a text of 1 to {most} characters, got {short(v)}")


def _prompts(name: str, v: Any) -> list[tuple[str, float]]:
    if not isinstance(v, list) or not 1 <= len(v) <= MAX_PROMPTS or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and 0 < len(p[0]) <= MAX_PROMPT_CHARS
            and isinstance(p[1], (int, float)) and not isinstance(p[1], bool) and math.isfinite(p[1])
            and 0 <= p[1] <= 1e6 for p in v) or sum(p[1] for p in v) <= 0:
        raise ValueError(f"{name} must be 1 to {MAX_PROMPTS} [text, weight 0-1e6] pairs (some weight > 0), texts "
                         f"of 1 to {MAX_PROMPT_CHARS} characters")
    return [(t, float(w)) for t, w in v]


def _sampling(name: str, v: Any) -> None:
    if not isinstance(v, dict) or set(v) - set(REQUEST_LIMITS):
        raise ValueError(f"{name} must map some of {', '.join(REQUEST_LIMITS)} to numbers")
    for k, x in v.items():
        problem = request_problem(k, x)
        if problem is not None:
            raise ValueError(f"{name}.{k} {problem}")


def _pitch_classes(name: str, v: Any) -> None:
    if not isinstance(v, list) or not 0 < len(v) <= MAX_PITCH_FRAMES or not all(
            isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 12 for x in v):
        raise ValueError(f"{name} must be 1 to {MAX_PITCH_FRAMES} pitch classes (whole numbers 0-11)")


def _changes(changes: Any, frames: int) -> None:
    """Live changes: [{tick, frame, params | prompts | melody | threads}]: the step and frame each applied at."""
    if not isinstance(changes, list) or len(changes) > MAX_CHANGES:
        raise ValueError(f"changes must be a list of at most {MAX_CHANGES} {{tick, ...}}")
    for i, c in enumerate(changes):
        where = f"changes[{i}]"
        if not isinstance(c, dict) or set(c) - {"tick", "frame", "params", "prompts", "melody", "threads"}:
            raise ValueError(f"{where} must be {{tick, frame, params | prompts | melody | threads}}")
        _whole(f"{where}.tick", c.get("tick"), 0, 2**31)
        _optional(_whole, f"{where}.frame", c.get("frame"), 0, 2**31)
        if "params" in c:
            _sampling(f"{where}.params", c["params"])
        if "prompts" in c:
            c["prompts"] = _prompts(f"{where}.prompts", c["prompts"])
        if "melody" in c and c["melody"] is not None:
            _pitch_classes(f"{where}.melody", c["melody"])
        if "threads" in c:
            _whole(f"{where}.threads", c["threads"], 1, MAX_THREADS)


def record_of(take: Take, *, id, model: str, model_sample_rate: int, data_rate: int, data_frames: int,
              out: Output, bars: float | None, bpm: float | None, beats_per_bar: int, loop: bool, stopped: bool,
              continues: Path | None, prefill_chunk: int | None, threads: int, created: str,
              loudness_reached: float | None = None) -> TakeRecord:
    """The record of a finished take (what the daemon writes beside its WAV)."""
    return TakeRecord(
        model=model, prompts=list(take.prompts),
        parameters=dict(take.sampling), seed=take.seed, length_samples=take.length, frames=take.frames, id=id,
        sample_rate=data_rate, model_sample_rate=model_sample_rate, output_format=out.format,
        loudness=out.loudness, loudness_reached=loudness_reached, channels=take.m.channels,
        seconds=data_frames / data_rate, bpm=bpm, bars=bars,
        beats_per_bar=beats_per_bar, loop=loop, stopped_early=stopped, changes=list(take.changes),
        continues=None if continues is None else continues.name, keeps_original=take.keep_original,
        prefill_chunk=prefill_chunk, threads=threads, created=created, dtype=take.m.dtype_name,
        kernels=dict(take.m.kernels),
        decode_rows=None if take.decoder.log is None else [list(m) for m in take.decoder.log],
        melody=None if take.melody is None else {"pitch_classes": pitch_classes(take.melody),
                                                 "chroma_from": take.melody_from},
    )
