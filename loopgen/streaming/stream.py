"""`stream`: frames as they are made; `stream_audio`: PCM chunks as soon as they are final."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..models.base import CodecLM
from .decoder import IncrementalDecoder
from .family import open_stream
from .types import Frame, Stream


@dataclass(frozen=True)
class Chunk:
    """Final PCM of every row, with where it sits in the stream and what made its newest frame."""

    first_sample: int  # stream sample index of pcm[..., 0]
    pcm: torch.Tensor  # [B, C, n] float32
    frame: int  # index of the newest frame decoded into it (-1 for the flush of an empty stream)
    prompts: tuple
    params: object  # the family's sampling parameters


def open_session(
    m: CodecLM,
    prompts: str | list,
    seconds: float | None = None,
    *,
    temperature: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
    cfg_coef: float | None = None,
    seed: int | None = None,
    prompt_audio: torch.Tensor | np.ndarray | None = None,
    prompt_sample_rate: int | None = None,
    window_seconds: float | None = None,
    stride_seconds: float = 18.0,
) -> Stream:
    """A stream of the model's family with generate's arguments (prompt audio is encoded here). Sampling values left
    None are the family's own defaults (MusicGen's temperature 1, top_k 250, cfg 3; MAGNeT's annealed decoding).
    window_seconds / stride_seconds: MusicGen's sliding window (MAGNeT goes segment by segment)."""
    rows = 1 if isinstance(prompts, str) else len(prompts)
    codes = m.prompt_codes(prompt_audio, prompt_sample_rate, rows)
    given = {k: v for k, v in (("temperature", temperature), ("top_k", top_k), ("top_p", top_p),
                               ("cfg_coef", cfg_coef)) if v is not None}
    return open_stream(m, prompts, given, seed, seconds, codes, window_seconds=window_seconds,
                       stride_seconds=stride_seconds)


def stream(m: CodecLM, prompts: str | list, seconds: float | None = None, **kw) -> Iterator[Frame]:
    """Yield each frame (all rows, all codebooks) the moment it is complete; seconds=None streams without end.

    Takes generate's sampling and prompt-audio arguments; with the same seed it yields generate's frames."""
    yield from open_session(m, prompts, seconds, **kw)


def decode_frames(m: CodecLM, frames: Iterator[Frame], batch_size: int) -> Iterator[Chunk]:
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


def stream_audio(m: CodecLM, prompts: str | list, seconds: float | None = None, **kw) -> Iterator[Chunk]:
    """PCM as soon as it is final: `stream` through an IncrementalDecoder."""
    session = open_session(m, prompts, seconds, **kw)
    yield from decode_frames(m, iter(session), len(session.rows))
