"""`stream`: frames as they are made; `stream_audio`: PCM chunks as soon as they are final."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..models.musicgen import MusicGen
from ..models.sampling import SamplingParams
from .decoder import IncrementalDecoder
from .session import Frame, Session


@dataclass(frozen=True)
class Chunk:
    """Final PCM of every row, with where it sits in the stream and what made its newest frame."""

    first_sample: int  # stream sample index of pcm[..., 0]
    pcm: torch.Tensor  # [B, C, n] float32
    frame: int  # index of the newest frame decoded into it (-1 for the flush of an empty stream)
    prompts: tuple
    params: SamplingParams | None


def open_session(
    m: MusicGen,
    prompts: str | list,
    seconds: float | None = None,
    *,
    temperature: float = SamplingParams.temperature,
    top_k: int = SamplingParams.top_k,
    top_p: float = SamplingParams.top_p,
    cfg_coef: float = SamplingParams.cfg_coef,
    seed: int | None = None,
    prompt_audio: torch.Tensor | np.ndarray | None = None,
    prompt_sample_rate: int | None = None,
    window_seconds: float | None = None,
    stride_seconds: float = 18.0,
) -> Session:
    """A Session with the same arguments as MusicGen.generate (prompt audio is encoded here)."""
    rows = 1 if isinstance(prompts, str) else len(prompts)
    codes = m.prompt_codes(prompt_audio, prompt_sample_rate, rows)
    params = SamplingParams(temperature, top_k, top_p, cfg_coef)
    return Session(m, prompts, params, seed, seconds, codes, window_seconds, stride_seconds)


def stream(m: MusicGen, prompts: str | list, seconds: float | None = None, **kw) -> Iterator[Frame]:
    """Yield each frame (all rows, all codebooks) the moment it is complete; seconds=None streams without end.

    Takes generate's sampling and prompt-audio arguments; with the same seed it yields generate's frames."""
    yield from open_session(m, prompts, seconds, **kw)


def decode_frames(m: MusicGen, frames: Iterator[Frame], batch_size: int) -> Iterator[Chunk]:
    """Incrementally decode a frame stream into PCM chunks (one per frame once the decoder's look-ahead is filled),
    then flush at the end. The first chunk starts at the first frame's first sample."""
    dec = IncrementalDecoder(m, batch_size)
    start = None
    made = 0
    last: Frame | None = None
    for f in frames:
        if start is None:
            start = f.index * dec.hop
        last = f
        pcm = dec.push(f.codes[..., None])
        if pcm.shape[-1]:
            yield Chunk(start + made, pcm, f.index, f.prompts, f.params)
            made += pcm.shape[-1]
    pcm = dec.flush()
    if pcm.shape[-1]:
        yield Chunk((start or 0) + made, pcm, last.index if last else -1, last.prompts if last else (), last.params if last else None)


def stream_audio(m: MusicGen, prompts: str | list, seconds: float | None = None, **kw) -> Iterator[Chunk]:
    """PCM as soon as it is final: `stream` through an IncrementalDecoder."""
    session = open_session(m, prompts, seconds, **kw)
    yield from decode_frames(m, iter(session), len(session.rows))
