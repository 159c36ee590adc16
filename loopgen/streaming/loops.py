"""Loops that loop: exact length at a tempo, a seamless wrap, and continue / extend / vary.

A loop of `bars` bars at `bpm` has round(bars * beats_per_bar * 60 / bpm * sample_rate) samples. It is generated
past its end; the overrun is crossfaded (equal power) into the head, so the sample after the last one is the
natural continuation of the music. Continuing existing audio re-uses its whole frames as the model's prompt and
splices the codec's rendering back onto the original with a short crossfade.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..errors import LoopgenError
from ..models.audio import prepare_audio
from ..models.musicgen import MusicGen
from ..models.sampling import SamplingParams
from .session import Session

CROSSFADE_SECONDS = 0.1  # wrap crossfade (at most a quarter of the loop)
SPLICE_SECONDS = 0.01  # original -> continuation splice


@dataclass
class Loop:
    audio: torch.Tensor  # [C, N] float32, N == loop_samples(bars, bpm, beats_per_bar, sample_rate)
    sample_rate: int
    bpm: float
    bars: int
    beats_per_bar: int = 4
    prompt: str | list = ""
    seed: int | None = None
    params: SamplingParams = field(default_factory=SamplingParams)

    @property
    def seconds(self) -> float:
        return self.audio.shape[-1] / self.sample_rate


def loop_samples(bars: float, bpm: float, beats_per_bar: int, sample_rate: int) -> int:
    if not bpm > 0 or not bars > 0 or not beats_per_bar > 0:
        raise LoopgenError(f"bars, bpm and beats_per_bar must be > 0, got {bars}, {bpm}, {beats_per_bar}")
    return int(round(bars * beats_per_bar * 60.0 / bpm * sample_rate))


def equal_power(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(fade_in, fade_out) gains of length n with fade_in^2 + fade_out^2 = 1."""
    t = (torch.arange(n, device=device, dtype=torch.float32) + 0.5) / n
    return torch.sin(t * math.pi / 2), torch.cos(t * math.pi / 2)


def wrap(audio: torch.Tensor, length: int, fade: int) -> torch.Tensor:
    """audio [C, >= length + fade] -> [C, length]: the overrun after `length` crossfaded into the head."""
    out = audio[:, :length].clone()
    if fade > 0:
        fin, fout = equal_power(fade, audio.device)
        out[:, :fade] = audio[:, :fade] * fin + audio[:, length : length + fade] * fout
    return out


def _generate(m: MusicGen, prompts, frames: int, params: SamplingParams, seed, prompt_codes) -> torch.Tensor:
    """Codes [1, K, P + frames]: the prompt codes (if any) then `frames` new ones, through a Session, so any length
    works (sliding windows past the model's 30 s)."""
    s = Session(m, prompts, params, seed, frames / m.frame_rate, prompt_codes)
    new = [f.codes for f in s]
    codes = torch.stack(new, dim=-1)
    return codes if prompt_codes is None else torch.cat([prompt_codes, codes], dim=-1)


def _render(m: MusicGen, prompts, params, seed, original: torch.Tensor | None, total: int) -> torch.Tensor:
    """Audio [C, >= total]: `original` [C, n] (if any) continued by the model up to `total` samples."""
    hop = m.cfg.audio.hop_length
    codes = None
    keep = 0
    if original is not None:
        keep = (original.shape[-1] // hop) * hop  # whole frames of the original become the prompt
        if keep:
            codes = m.encode(original[None, :, :keep], m.sample_rate)  # a Session keeps what fits a window
    frames = math.ceil((total - keep) / hop)
    all_codes = _generate(m, prompts, max(1, frames), params, seed, codes)
    rendered = m.decode(all_codes)[0]  # [C, >= total]
    if original is None:
        return rendered
    # keep the original up to its end; blend the last few ms into the codec's rendering of the same moment
    n = original.shape[-1]
    fade = min(int(SPLICE_SECONDS * m.sample_rate), n)
    out = rendered.clone()
    out[:, : n - fade] = original[:, : n - fade]
    fin, fout = equal_power(fade, out.device)
    out[:, n - fade : n] = original[:, n - fade : n] * fout + rendered[:, n - fade : n] * fin
    return out


def _finish(m: MusicGen, audio: torch.Tensor, length: int) -> torch.Tensor:
    return wrap(audio, length, _fade(m, length))


def _fade(m: MusicGen, length: int) -> int:
    return min(int(CROSSFADE_SECONDS * m.sample_rate), length // 4)


def make_loop(
    m: MusicGen,
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
    that audio (the loop itself holds only the new bars)."""
    params = SamplingParams(**sampling).validate()
    length = loop_samples(bars, bpm, beats_per_bar, m.sample_rate)
    fade = _fade(m, length)
    original = None
    if prompt_audio is not None:
        if prompt_sample_rate is None:
            raise LoopgenError("prompt_sample_rate is required with prompt_audio")
        original = prepare_audio(prompt_audio, prompt_sample_rate, m.sample_rate, m.channels)[0].to(m.device)
    start = 0 if original is None else original.shape[-1]
    audio = _render(m, [prompt], params, seed, original, start + length + fade)[:, start:]
    return Loop(_finish(m, audio, length), m.sample_rate, bpm, bars, beats_per_bar, prompt, seed, params)


def extend_loop(m: MusicGen, loop: Loop, bars: int = 4, prompt: str | list | None = None, seed: int | None = None) -> Loop:
    """The loop followed by `bars` new bars that continue it; the longer loop wraps seamlessly too. The original
    bars are kept sample for sample, except the last 10 ms (spliced into the new bars) and the head (crossfaded
    with the new ending, so the wrap stays seamless)."""
    length = loop_samples(loop.bars + bars, loop.bpm, loop.beats_per_bar, m.sample_rate)
    fade = _fade(m, length)
    prompt = loop.prompt if prompt is None else prompt
    audio = _render(m, [prompt], loop.params, seed, loop.audio.to(m.device), length + fade)
    return replace(loop, audio=_finish(m, audio, length), bars=loop.bars + bars, prompt=prompt, seed=seed)


def vary_loop(m: MusicGen, loop: Loop, bars: int = 1, prompt: str | list | None = None, seed: int | None = None) -> Loop:
    """Regenerate the loop's last `bars` bars, continuing from its start; same length, still seamless."""
    if not 0 < bars < loop.bars:
        raise LoopgenError(f"can vary 1 to {loop.bars - 1} bars of a {loop.bars}-bar loop, got {bars}")
    length = loop.audio.shape[-1]
    keep = loop_samples(loop.bars - bars, loop.bpm, loop.beats_per_bar, m.sample_rate)
    fade = _fade(m, length)
    prompt = loop.prompt if prompt is None else prompt
    audio = _render(m, [prompt], loop.params, seed, loop.audio[:, :keep].to(m.device), length + fade)
    return replace(loop, audio=_finish(m, audio, length), prompt=prompt, seed=seed)
