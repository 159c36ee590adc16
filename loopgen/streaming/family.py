"""The model families, by table: what makes a family's streams, what steps them, and their windows. Everything above
the sessions (takes, loops, `stream`, the daemon) picks from here by the model's `family`, never by its type.

MusicGen (and its melody models): `Session`s stepped token by token in one engine (`EngineBatch`). MAGNeT:
`SegmentSession`s stepped one decoding pass at a time (`SegmentBatch`), a segment's frames completing together.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import LoopgenError
from ..models.base import CodecLM
from ..params import musicgen_sampling
from .batch import EngineBatch
from .segments import SegmentBatch, SegmentSession, magnet_params
from .session import Session, window_frames
from .types import Stepper, Stream, given_values


@dataclass(frozen=True)
class Family:
    open: Callable[..., Stream]  # see `open_stream`
    stepper: Callable[..., Stepper]  # (m, sessions, prefill_chunk=, compile=, graphs=)
    window: Callable[[CodecLM], tuple[int, int]]  # (frames one window holds, frames of context the next starts from)
    per_pass: bool  # a step is a decoding pass over a segment (report progress after each), not a frame
    sampling: Callable[[CodecLM, dict], Any]  # given values -> the family's parameters (raises out of its ranges)


def _open_musicgen(m, prompts, sampling, seed, seconds, prompt_codes, guided, melody, window) -> Stream:
    return Session(m, prompts, sampling, seed, seconds, prompt_codes, *window, guided=guided, melody=melody)


def _open_magnet(m, prompts, sampling, seed, seconds, prompt_codes, guided, melody, window) -> Stream:
    if melody is not None and any(x is not None for x in melody):
        raise m.no_melody()
    if window != DEFAULT_WINDOW:
        raise LoopgenError("window_seconds and stride_seconds are MusicGen's: MAGNeT streams segment by segment")
    return SegmentSession(m, prompts, given_values(sampling), seed, seconds, prompt_codes)  # always guided


DEFAULT_WINDOW = (None, 18.0)  # (window_seconds, stride_seconds): the model's window, audiocraft's stride


FAMILIES: dict[str, Family] = {
    "musicgen": Family(_open_musicgen, EngineBatch, window_frames, per_pass=False,
                       sampling=lambda m, given: musicgen_sampling(given)),
    "magnet": Family(_open_magnet, SegmentBatch, lambda m: (m.max_frames, m.max_frames // 2), per_pass=True,
                     sampling=magnet_params),
}


def family(m: CodecLM) -> Family:
    try:
        return FAMILIES[m.family]
    except KeyError:
        raise LoopgenError(f"{m.name}: loopgen streams no model of family {m.family!r}") from None


def open_stream(m: CodecLM, prompts: str | list, sampling: Mapping[str, float] | Any | None = None,
                seed: int | None = None, seconds: float | None = None, prompt_codes: torch.Tensor | None = None,
                guided: bool | None = None, melody: list[torch.Tensor | None] | None = None,
                window_seconds: float | None = None, stride_seconds: float = 18.0) -> Stream:
    """A stream of the model's family. sampling: the values given, in request names (temperature, top_k, top_p,
    cfg_coef), over the family's own defaults; seconds None: endless; prompt_codes [B, K, P]: codes to continue;
    guided (MusicGen): keep unconditional rows so cfg can be steered; melody (a melody model): chroma per row;
    window_seconds / stride_seconds (MusicGen): its sliding window (MAGNeT goes segment by segment)."""
    return family(m).open(m, prompts, sampling, seed, seconds, prompt_codes, guided, melody,
                          (window_seconds, stride_seconds))


def Batch(m: CodecLM, sessions: list = (), prefill_chunk: int | None = None, compile: bool | str | None = None,
          graphs: bool = False) -> Stepper:
    """Steps several streams of one model together, one forward pass per step: the model family's stepper
    (`EngineBatch` for MusicGen, `SegmentBatch` for MAGNeT). prefill_chunk: at most this many tokens of a window
    start per step (MusicGen), so one stream's long prompt does not hold up the others; compile, graphs: see
    `models.engine.Engine` (MusicGen)."""
    return family(m).stepper(m, list(sessions), prefill_chunk=prefill_chunk, compile=compile, graphs=graphs)
