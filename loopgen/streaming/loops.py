"""Loops that loop: exact length at a tempo, a seamless wrap, and continue / extend / vary.

A loop of `bars` bars at `bpm` has round(bars * beats_per_bar * 60 / bpm * sample_rate) samples. It is a `Take`:
generated past its end, the overrun crossfaded (equal power) into the head, so the sample after the last one is the
natural continuation of the music. Continuing existing audio re-uses its whole frames as the model's prompt and
splices the codec's rendering back onto the original with a short crossfade (see take.py and dsp.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..errors import LoopgenError
from ..models.audio import prepare_audio
from ..models.base import CodecLM
from ..params import music_seconds
from .take import Take

@dataclass
class Loop:
    audio: torch.Tensor  # [C, N] float32, N == loop_samples(bars, bpm, beats_per_bar, sample_rate)
    sample_rate: int
    bpm: float
    bars: int
    beats_per_bar: int = 4
    prompt: str | list = ""
    seed: int | None = None
    params: dict = field(default_factory=dict)  # the sampling values it was made with, in request names

    @property
    def seconds(self) -> float:
        return self.audio.shape[-1] / self.sample_rate


def loop_samples(bars: float, bpm: float, beats_per_bar: int, sample_rate: int) -> int:
    if not all(0 < v < math.inf for v in (bars, bpm, beats_per_bar)):  # NaN and infinities too
        raise LoopgenError(f"bars, bpm and beats_per_bar must be finite numbers > 0, got {bars}, {bpm}, "
                           f"{beats_per_bar}")
    n = int(round(music_seconds(None, bars, bpm, beats_per_bar) * sample_rate))
    if n < 1:
        raise LoopgenError(f"{bars:g} bar(s) at {bpm:g} bpm is shorter than one sample")
    return n


def take_length(sample_rate: int, seconds: float | None, bars: float | None = None, bpm: float | None = None,
                beats_per_bar: int = 4) -> int:
    """Samples of a take: a whole number of bars at a tempo (exact, as `loop_samples`), else seconds."""
    if bars is not None and bpm is not None:
        return loop_samples(bars, bpm, beats_per_bar, sample_rate)
    return int(round(music_seconds(seconds) * sample_rate))


def make_loop(
    m: CodecLM,
    prompt: str | list,
    bpm: float = 120.0,
    bars: int = 4,
    beats_per_bar: int = 4,
    seed: int | None = None,
    prompt_audio: torch.Tensor | np.ndarray | None = None,
    prompt_sample_rate: int | None = None,
    **sampling,
) -> Loop:
    """A seamless loop of `bars` bars at `bpm`. With prompt_audio (any rate, any channel count) the loop continues
    that audio (the loop itself holds only the new bars). sampling: temperature, top_k, top_p, cfg_coef; those not
    given are the model family's own defaults."""
    length = loop_samples(bars, bpm, beats_per_bar, m.sample_rate)
    original = None
    if prompt_audio is not None:
        if prompt_sample_rate is None:
            raise LoopgenError("prompt_sample_rate is required with prompt_audio")
        original = prepare_audio(prompt_audio, prompt_sample_rate, m.sample_rate, m.channels)[0].to(m.device)
    take = Take(m, [prompt], sampling, seed, length, loop=True, original=original)
    return Loop(take.run(), m.sample_rate, bpm, bars, beats_per_bar, prompt, take.seed, take.session.sampling)


def extend_loop(m: CodecLM, loop: Loop, bars: int = 4, prompt: str | list | None = None, seed: int | None = None) -> Loop:
    """The loop followed by `bars` new bars that continue it; the longer loop wraps seamlessly too. The original
    bars are kept sample for sample, except the last 10 ms (spliced into the new bars) and the head (crossfaded
    with the new ending, so the wrap stays seamless)."""
    length = loop_samples(loop.bars + bars, loop.bpm, loop.beats_per_bar, m.sample_rate)
    prompt = loop.prompt if prompt is None else prompt
    take = Take(m, [prompt], loop.params, seed, length, loop=True, original=loop.audio.to(m.device), keep_original=True)
    return replace(loop, audio=take.run(), bars=loop.bars + bars, prompt=prompt, seed=take.seed)


def vary_loop(m: CodecLM, loop: Loop, bars: int = 1, prompt: str | list | None = None, seed: int | None = None) -> Loop:
    """Regenerate the loop's last `bars` bars, continuing from its start; same length, still seamless."""
    if not 0 < bars < loop.bars:
        raise LoopgenError(f"can vary 1 to {loop.bars - 1} bars of a {loop.bars}-bar loop, got {bars}")
    length = loop.audio.shape[-1]
    keep = loop_samples(loop.bars - bars, loop.bpm, loop.beats_per_bar, m.sample_rate)
    prompt = loop.prompt if prompt is None else prompt
    take = Take(m, [prompt], loop.params, seed, length, loop=True, original=loop.audio[:, :keep].to(m.device),
                keep_original=True)
    return replace(loop, audio=take.run(), prompt=prompt, seed=take.seed)
