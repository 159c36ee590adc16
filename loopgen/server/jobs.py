"""One generation inside the daemon: its session, its incremental decoder, what it has made, and saving it."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models.sampling import SamplingParams
from ..protocol import messages as M
from ..streaming import IncrementalDecoder, Session
from ..streaming.loops import CROSSFADE_SECONDS, SPLICE_SECONDS, equal_power, wrap


@dataclass
class Job:
    id: Any
    owner: Any  # who gets its events (a client handle), or None once they are gone
    params: M.GenerateParams
    session: Session
    decoder: IncrementalDecoder
    length: int  # samples of the result (a loop's exact length, or seconds * rate)
    skip: int = 0  # decoded samples that belong to a prompt, not to this job's audio
    original: torch.Tensor | None = None  # [C, n] audio this job continues (kept in the result)
    pcm: list = field(default_factory=list)  # [C, n] chunks of new audio
    made: int = 0  # new samples so far
    seq: int = 0
    frames: int = 0
    started: float = field(default_factory=time.perf_counter)
    total_frames: int = 0
    audio: torch.Tensor | None = None  # the finished result [C, N]
    path: str | None = None
    stopped: bool = False

    def take(self, pcm: torch.Tensor) -> torch.Tensor:
        """Decoder output [1, C, n] -> the part that is this job's new audio [C, m] (prompt rendering dropped)."""
        x = pcm[0]
        if self.skip:
            cut = min(self.skip, x.shape[-1])
            x, self.skip = x[:, cut:], self.skip - cut
        if x.shape[-1]:
            self.pcm.append(x)
            self.made += x.shape[-1]
        return x

    def finish(self, sample_rate: int) -> torch.Tensor:
        new = torch.cat(self.pcm, dim=-1) if self.pcm else torch.zeros(self.session.m.channels, 0)
        if self.original is not None and self.original.shape[-1]:
            new = splice(self.original, new, int(SPLICE_SECONDS * sample_rate))
        if self.params.loop and not self.stopped and new.shape[-1] >= self.length:
            fade = min(int(CROSSFADE_SECONDS * sample_rate), self.length // 4, new.shape[-1] - self.length)
            self.audio = wrap(new, self.length, fade)
        else:
            self.audio = new[:, : self.length] if not self.stopped else new
        return self.audio


def splice(original: torch.Tensor, new: torch.Tensor, fade: int) -> torch.Tensor:
    """original [C, n] then new [C, m], the last `fade` samples of the original crossfaded into the start of new."""
    fade = min(fade, original.shape[-1], new.shape[-1])
    if fade == 0:
        return torch.cat([original, new], dim=-1)
    fin, fout = equal_power(fade, new.device)
    mid = original[:, -fade:] * fout + new[:, :fade] * fin
    return torch.cat([original[:, :-fade], mid, new[:, fade:]], dim=-1)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "loop"


def save(job: Job, folder: Path, model_name: str, sample_rate: int) -> str:
    """Write the result as WAV + JSON sidecar; returns the WAV path."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = folder / f"{stamp}-{slug(str(job.id))}-{slug(job.params.prompts[0][0])}"
    n = 1
    while base.with_suffix(".wav").exists():
        n += 1
        base = base.with_name(base.name + f"-{n}")
    audio = job.audio if job.audio is not None else torch.zeros(1, 0)
    sf.write(str(base.with_suffix(".wav")), audio.T.cpu().numpy(), sample_rate, subtype="FLOAT")
    p = job.params
    meta = {
        "id": job.id, "model": model_name, "sample_rate": sample_rate, "channels": int(audio.shape[0]),
        "seconds": audio.shape[-1] / sample_rate, "prompts": [list(x) for x in p.prompts],
        "parameters": {**p.sampling()}, "seed": p.seed, "bpm": p.bpm, "bars": p.bars,
        "beats_per_bar": p.beats_per_bar, "loop": p.loop, "stopped_early": job.stopped,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    base.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return str(base.with_suffix(".wav"))


def result_length(p: M.GenerateParams, sample_rate: int) -> int:
    """Samples of a generation's result: a loop's exact length, or seconds * rate."""
    return int(round(p.total_seconds() * sample_rate))


def sampling(p: M.GenerateParams) -> SamplingParams:
    return SamplingParams(**p.sampling()).validate()


def to_numpy_interleaved(x: torch.Tensor) -> bytes:
    """[C, n] float32 -> interleaved little-endian float32 bytes."""
    return np.ascontiguousarray(x.T.cpu().numpy(), dtype="<f4").tobytes()
