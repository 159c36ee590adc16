"""The codebook delay pattern.

Codebook k is shifted right by delays[k] steps (mono: k; interleaved stereo [L0,R0,L1,R1,...]: k // 2). In the
token sequence the model reads, column 0 is the start token for every codebook and column c of codebook k holds
frame c - 1 - delays[k]; positions outside the frames hold the pad id (= the start id, `card`). N frames therefore
span N + D + 1 columns (D = max delay) and take N + D steps: step s reads column s and predicts column s + 1, and
frame f is complete once column f + 1 + D has been chosen.
"""
from __future__ import annotations

import torch


def forced_columns(
    prompt: torch.Tensor | None, batch: int, frames: int, delays: tuple[int, ...], card: int, device: torch.device
) -> torch.Tensor:
    """What each column must hold: -1 where the model chooses, else the forced id (pad or prompt code).

    prompt: [B, K, P] codes that open the sequence (teacher-forced), or None. Returns [B, K, frames + D + 1] long."""
    k = len(delays)
    d = max(delays)
    cols = frames + d + 1
    out = torch.full((batch, k, cols), -1, dtype=torch.long, device=device)
    p = 0 if prompt is None else prompt.shape[-1]
    for cb, delay in enumerate(delays):
        out[:, cb, : 1 + delay].fill_(card)  # before frame 0 (a scalar fill: no copy from the host on a GPU)
        out[:, cb, 1 + delay + frames :].fill_(card)  # after the last frame
        if p:
            out[:, cb, 1 + delay : 1 + delay + p] = prompt[:, cb]
    return out


def undelay(seq: torch.Tensor, frames: int, delays: tuple[int, ...]) -> torch.Tensor:
    """seq: [B, K, >= frames + D + 1] columns -> codes [B, K, frames] with the delay removed."""
    return torch.stack([seq[:, cb, 1 + dl : 1 + dl + frames] for cb, dl in enumerate(delays)], dim=1)
