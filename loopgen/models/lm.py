"""The MusicGen language model: a pre-LayerNorm transformer decoder over K parallel codebook streams.

Built for decoding speed: q/k/v are one matmul, the K output heads are one matmul, the cross-attention keys/values of
every layer come from one matmul once per prompt, and self-attention writes into a preallocated static KV cache by
position (as gpt-fast does). The step position lives on the host, so a step never waits on the device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import LMConfig


def sinusoids(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """MusicGen's sinusoidal embedding: [cos | sin] halves, timescale 10000. positions: [T] -> [T, dim] float32."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=positions.device).float() * -(math.log(10000) / (half - 1)))
    args = positions.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


@dataclass
class LMCache:
    """Decoding state of one batch. Self-attention K/V are preallocated to `capacity` positions and written by
    position; cross-attention K/V are computed once per prompt by `MusicgenLM.set_condition`."""

    k: torch.Tensor  # [L, B, H, capacity, Dh]
    v: torch.Tensor  # [L, B, H, capacity, Dh]
    cross_k: torch.Tensor  # [L, B, H, S, Dh]
    cross_v: torch.Tensor  # [L, B, H, S, Dh]
    cross_mask: torch.Tensor  # [B, 1, 1, S] bool: True = attend
    length: int = 0  # positions written so far

    @property
    def capacity(self) -> int:
        return self.k.shape[3]


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        d = cfg.dim
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d, bias=False)
        self.norm_cross = nn.LayerNorm(d)
        self.cross_q = nn.Linear(d, d, bias=False)
        self.cross_out = nn.Linear(d, d, bias=False)
        self.norm2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, cfg.ffn_dim, bias=False)
        self.fc2 = nn.Linear(cfg.ffn_dim, d, bias=False)
        self.heads = cfg.num_heads
        self.act = cfg.activation

    def forward(self, x: torch.Tensor, i: int, cache: LMCache, start: int) -> torch.Tensor:
        b, t, d = x.shape
        h, dh = self.heads, d // self.heads
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, h, dh).permute(2, 0, 3, 1, 4)  # each [B, H, T, Dh]
        end = start + t
        cache.k[i, :, :, start:end] = k
        cache.v[i, :, :, start:end] = v
        keys, values = cache.k[i, :, :, :end], cache.v[i, :, :, :end]
        if t == 1:
            a = F.scaled_dot_product_attention(q, keys, values)
        elif start == 0:
            a = F.scaled_dot_product_attention(q, keys, values, is_causal=True)
        else:
            mask = torch.ones(t, end, dtype=torch.bool, device=x.device).tril(diagonal=start)
            a = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        x = x + self.out(a.transpose(1, 2).reshape(b, t, d))

        q = self.cross_q(self.norm_cross(x)).view(b, t, h, dh).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, cache.cross_k[i], cache.cross_v[i], attn_mask=cache.cross_mask)
        x = x + self.cross_out(a.transpose(1, 2).reshape(b, t, d))

        y = self.fc1(self.norm2(x))
        y = F.relu(y) if self.act == "relu" else F.gelu(y, approximate="tanh" if self.act == "gelu_new" else "none")
        return x + self.fc2(y)


class MusicgenLM(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.cfg = cfg
        k, d = cfg.num_codebooks, cfg.dim
        self.emb = nn.Parameter(torch.zeros(k, cfg.card + 1, d))  # one table per codebook, row `card` = start/pad
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_layers)])
        self.cross_kv = nn.Linear(d, cfg.num_layers * 2 * d, bias=False)  # all layers' cross K,V in one matmul
        self.norm = nn.LayerNorm(d)
        self.heads = nn.Linear(d, k * cfg.card, bias=False)  # K output heads in one matmul
        self._pos: torch.Tensor | None = None

    # -- state ---------------------------------------------------------------------------------------------------
    def new_cache(self, batch: int, capacity: int) -> LMCache:
        """A cache for `batch` rows (guided rows included) and up to `capacity` positions."""
        p = self.emb
        c = self.cfg
        shape = (c.num_layers, batch, c.num_heads, capacity, c.dim // c.num_heads)
        empty = torch.zeros(c.num_layers, batch, c.num_heads, 1, c.dim // c.num_heads, dtype=p.dtype, device=p.device)
        return LMCache(
            k=torch.zeros(shape, dtype=p.dtype, device=p.device),
            v=torch.zeros(shape, dtype=p.dtype, device=p.device),
            cross_k=empty,
            cross_v=empty,
            cross_mask=torch.ones(batch, 1, 1, 1, dtype=torch.bool, device=p.device),
        )

    @torch.inference_mode()
    def set_condition(self, cache: LMCache, states: torch.Tensor, mask: torch.Tensor) -> None:
        """Compute every layer's cross-attention K/V for the text states.

        states: [B, S, dim] already projected and zeroed where mask is 0; mask: [B, S] (1 = token). A row whose mask
        is all zero (the unconditional half of guidance) attends uniformly to zero values, giving exactly 0."""
        c = self.cfg
        b, s, d = states.shape
        h, dh = c.num_heads, d // c.num_heads
        kv = self.cross_kv(states.to(self.emb.dtype)).view(b, s, c.num_layers, 2, h, dh)
        kv = kv.permute(2, 3, 0, 4, 1, 5)  # [L, 2, B, H, S, Dh]
        cache.cross_k, cache.cross_v = kv[:, 0].contiguous(), kv[:, 1].contiguous()
        m = mask.bool()
        m = m | ~m.any(dim=1, keepdim=True)  # fully masked rows: attend to all (values are 0)
        cache.cross_mask = m[:, None, None, :]

    def positions(self, start: int, t: int) -> torch.Tensor:
        need = start + t
        if self._pos is None or self._pos.shape[0] < need or self._pos.device != self.emb.device:
            n = max(need, self.cfg.max_positions)
            self._pos = sinusoids(torch.arange(n, device=self.emb.device), self.cfg.dim)
        return self._pos[start:need]

    # -- forward -------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def forward(self, tokens: torch.Tensor, cache: LMCache, last_only: bool = True) -> torch.Tensor:
        """tokens: [B, K, T] codes (id `card` = start/pad), placed at positions cache.length .. +T.

        Returns float32 logits [B, T', K, card] with T' = 1 if last_only else T; advances cache.length by T.
        The caller keeps cache.length + T <= cache.capacity."""
        b, k, t = tokens.shape
        start = cache.length
        if start + t > cache.capacity:
            raise ValueError(f"KV cache full: {start}+{t} > {cache.capacity}")
        offsets = torch.arange(k, device=tokens.device)[None, :, None] * (self.cfg.card + 1)
        x = F.embedding(tokens + offsets, self.emb.view(-1, self.cfg.dim)).sum(dim=1)  # [B, T, D]
        if self.cfg.scale_embedding:
            x = x * math.sqrt(self.cfg.dim)
        x = x + self.positions(start, t).to(x.dtype)
        for i, layer in enumerate(self.layers):
            x = layer(x, i, cache, start)
        cache.length = start + t
        if last_only:
            x = x[:, -1:]
        x = self.norm(x)
        return self.heads(x).float().view(b, x.shape[1], k, self.cfg.card)
