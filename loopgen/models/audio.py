"""Bringing arbitrary audio to the model's rate and channel count (soxr for resampling)."""
from __future__ import annotations

import numpy as np
import torch

from ..errors import LoopgenError


def as_batch(wav: torch.Tensor | np.ndarray) -> torch.Tensor:
    """[N] | [C, N] | [B, C, N] (torch or numpy) -> float32 tensor [B, C, N]; rejects empty or non-finite audio."""
    t = torch.as_tensor(np.asarray(wav) if not isinstance(wav, torch.Tensor) else wav).float()
    if t.dim() == 1:
        t = t[None, None]
    elif t.dim() == 2:
        t = t[None]
    elif t.dim() != 3:
        raise LoopgenError(f"audio must be [N], [C, N] or [B, C, N], got shape {tuple(t.shape)}")
    if t.shape[-1] == 0 or t.shape[1] == 0:
        raise LoopgenError("audio is empty")
    if not torch.isfinite(t).all():
        raise LoopgenError("audio contains NaN or infinite samples")
    return t


def resample(wav: torch.Tensor, rate_in: int, rate_out: int) -> torch.Tensor:
    """wav: [B, C, N] float32 -> [B, C, M] with soxr (high quality). Identity when rates match."""
    if rate_in <= 0:
        raise LoopgenError(f"sample rate must be positive, got {rate_in}")
    if rate_in == rate_out:
        return wav
    import soxr

    b, c, _ = wav.shape
    x = wav.detach().cpu().numpy().reshape(b * c, -1).T  # soxr wants [N, channels]
    y = soxr.resample(np.ascontiguousarray(x), rate_in, rate_out, quality="HQ")
    return torch.from_numpy(np.ascontiguousarray(y.T)).reshape(b, c, -1).to(wav.device)


def match_channels(wav: torch.Tensor, channels: int) -> torch.Tensor:
    """[B, C, N] -> [B, channels, N]: average down to mono, duplicate mono to stereo, keep the first two of many."""
    c = wav.shape[1]
    if c == channels:
        return wav
    if channels == 1:
        return wav.mean(dim=1, keepdim=True)
    if c == 1:
        return wav.expand(-1, channels, -1).contiguous()
    return wav[:, :channels]


def prepare_audio(wav: torch.Tensor | np.ndarray, sample_rate: int, target_rate: int, channels: int) -> torch.Tensor:
    return match_channels(resample(as_batch(wav), int(sample_rate), target_rate), channels)
