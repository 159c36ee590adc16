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

from ..errors import LoopgenError
from ..models.chroma import pitch_classes
from ..params import LIMITS, SamplingParams
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
    created: str | None = None
    melody: dict | None = None  # {"pitch_classes": [...], "chroma_from": ...}: a melody model's conditioning
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
        except (TypeError, ValueError) as e:
            raise LoopgenError(f"cannot make a take from {where}: {e}") from None
        return r

    def _check(self) -> None:
        def whole(name: str, v: Any, lo: int = 0) -> None:
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be a whole number >= {lo}, got {v!r}")

        if not isinstance(self.model, str) or not self.model:
            raise ValueError("model must be a model id")
        if not isinstance(self.prompts, list) or not self.prompts or not all(
                isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str)
                and isinstance(p[1], (int, float)) and not isinstance(p[1], bool) and math.isfinite(p[1])
                for p in self.prompts):
            raise ValueError("prompts must be [[text, weight], ...]")
        object.__setattr__(self, "prompts", [(str(t), float(w)) for t, w in self.prompts])
        if not isinstance(self.parameters, dict) or set(self.parameters) - set(LIMITS) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in self.parameters.values()):
            raise ValueError(f"parameters must map {', '.join(LIMITS)} to finite numbers")
        whole("seed", self.seed)
        whole("length_samples", self.length_samples, 1)
        whole("frames", self.frames)
        whole("record", self.record, 1)
        if not isinstance(self.changes, list) or not all(isinstance(c, dict) and isinstance(c.get("tick"), int)
                                                         for c in self.changes):
            raise ValueError("changes must be a list of {tick, ...}")
        for name in ("prefill_chunk", "threads"):
            v = getattr(self, name)
            if v is not None:
                whole(name, v, 1)
        if self.continues is not None and (not isinstance(self.continues, str) or "/" in self.continues
                                           or "\\" in self.continues or self.continues.startswith(".")):
            raise ValueError("continues must be the bare name of a file beside the sidecar")
        if self.melody is not None and not (isinstance(self.melody, dict)
                                            and isinstance(self.melody.get("pitch_classes"), list)):
            raise ValueError("melody must be {pitch_classes: [...]}")


def record_of(take: Take, *, id, model: str, model_sample_rate: int, data_rate: int, data_frames: int,
              out: Output, bars: float | None, bpm: float | None, beats_per_bar: int, loop: bool, stopped: bool,
              continues: Path | None, prefill_chunk: int | None, threads: int, created: str) -> TakeRecord:
    """The record of a finished take (what the daemon writes beside its WAV)."""
    return TakeRecord(
        model=model, prompts=list(take.prompts),
        parameters=dict(take.sampling), seed=take.seed, length_samples=take.length, frames=take.frames, id=id,
        sample_rate=data_rate, model_sample_rate=model_sample_rate, output_format=out.format,
        loudness=out.loudness, channels=take.m.channels, seconds=data_frames / data_rate, bpm=bpm, bars=bars,
        beats_per_bar=beats_per_bar, loop=loop, stopped_early=stopped, changes=list(take.changes),
        continues=None if continues is None else continues.name, keeps_original=take.keep_original,
        prefill_chunk=prefill_chunk, threads=threads, created=created,
        melody=None if take.melody is None else {"pitch_classes": pitch_classes(take.melody),
                                                 "chroma_from": take.melody_from},
    )
