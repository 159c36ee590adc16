"""One generation inside the daemon: its take, its owner, and saving it."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..protocol import messages as M
from ..streaming.take import Take


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
    stopped: bool = False

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
        "parameters": job.session.params.as_dict(), "seed": job.take.seed, "bpm": p.bpm, "bars": p.bars,
        "beats_per_bar": p.beats_per_bar, "loop": p.loop, "stopped_early": job.stopped,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    base.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return str(base.with_suffix(".wav"))


def result_length(p: M.GenerateParams, sample_rate: int) -> int:
    """Samples of a generation's result: a loop's exact length, or seconds * rate."""
    return int(round(p.total_seconds() * sample_rate))


def to_numpy_interleaved(x: torch.Tensor) -> bytes:
    """[C, n] float32 -> interleaved little-endian float32 bytes."""
    return np.ascontiguousarray(x.T.cpu().numpy(), dtype="<f4").tobytes()
