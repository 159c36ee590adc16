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


def _onednn_works() -> bool:
    try:
        x, w = torch.ones(2, 8), torch.ones(4, 8)
        return bool(torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "").sum() == 64)
    except (AttributeError, RuntimeError):
        return False


_ONEDNN = _onednn_works()


class Dense(nn.Module):
    """A bias-free linear layer, weight [out, in] as nn.Linear's. On CPU in float32 it runs through oneDNN's
    inner product, which streams weights much faster than the default BLAS for the skinny (batch x dim) inputs of
    decoding; `pack()` also reorders the weight into oneDNN's blocked layout (faster still, same memory). A packed
    weight still saves and compares as a plain dense tensor in `state_dict`."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        if w.is_mkldnn or (_ONEDNN and w.device.type == "cpu" and w.dtype == torch.float32):
            return torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")
        return F.linear(x, w)

    def pack(self) -> None:
        """Reorder the weight for oneDNN (CPU float32 only; a no-op elsewhere). Do not move the module after."""
        w = self.weight
        if _ONEDNN and not w.is_mkldnn and w.device.type == "cpu" and w.dtype == torch.float32:
            try:
                packed = torch.ops.mkldnn._reorder_linear_weight(w.detach(), None)
            except (AttributeError, RuntimeError):  # a build without the reorder: the plain layout still works
                return
            self.weight = nn.Parameter(packed, requires_grad=False)

    def _save_to_state_dict(self, destination, prefix, keep_vars):  # noqa: ANN001
        w = self.weight
        destination[prefix + "weight"] = w.to_dense() if w.is_mkldnn else (w if keep_vars else w.detach())


@dataclass
class LMCache:
    """Decoding state of one batch. Self-attention K/V are preallocated to `capacity` positions and written by
    position; cross-attention K/V are computed once per prompt by `MusicgenLM.set_condition`."""

    k: torch.Tensor  # [L, B, H, capacity, Dh]
    v: torch.Tensor  # [L, B, H, capacity, Dh]
    cross_k: torch.Tensor  # [L, B, H, S, Dh]
    cross_v: torch.Tensor  # [L, B, H, S, Dh]
    cross_bias: torch.Tensor  # [B, 1, 1, S] additive: 0 = attend, -inf = padding
    lengths: list[int]  # per row: positions written so far (host side, so a step never syncs)

    @property
    def capacity(self) -> int:
        return self.k.shape[3]

    @property
    def rows(self) -> int:
        return self.k.shape[1]

    def reset(self, rows: slice = slice(None)) -> None:
        """Start these rows over at position 0 (the memory is reused, not cleared)."""
        for r in range(*rows.indices(self.rows)):
            self.lengths[r] = 0

    def select(self, index: torch.Tensor) -> "LMCache":
        """A new cache holding rows `index` of this one (for regrouping rows; allocates)."""
        return LMCache(
            k=self.k.index_select(1, index), v=self.v.index_select(1, index),
            cross_k=self.cross_k.index_select(1, index), cross_v=self.cross_v.index_select(1, index),
            cross_bias=self.cross_bias.index_select(0, index), lengths=[self.lengths[i] for i in index.tolist()],
        )


@dataclass
class Placement:
    """Where a forward's tokens go: positions start..end-1 for every row, or (pos given) one token per row at
    its own position, with `mask` limiting each row's attention to its own past. Cache memory past a row's own
    positions may be stale or uninitialised: it is masked out of both scores and values, never just down-weighted."""

    start: int
    end: int
    pos: torch.Tensor | None = None  # [B] long
    arange: torch.Tensor | None = None  # [B] long, 0..B-1
    mask: torch.Tensor | None = None  # [B, 1, 1, end] bool, True = this row's own past


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        d = cfg.dim
        self.norm1 = nn.LayerNorm(d)
        self.qkv = Dense(d, 3 * d)
        self.out = Dense(d, d)
        self.norm_cross = nn.LayerNorm(d)
        self.cross_q = Dense(d, d)
        self.cross_out = Dense(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.fc1 = Dense(d, cfg.ffn_dim)
        self.fc2 = Dense(cfg.ffn_dim, d)
        self.heads = cfg.num_heads
        self.act = cfg.activation

    def forward(self, x: torch.Tensor, i: int, cache: LMCache, rows: slice, at: "Placement") -> torch.Tensor:
        """x: [B, T, D] for cache rows `rows`, placed as `at` says -> [B, T, D]. At batch 2 a step is bound by
        reading the weights, so every projection is one matmul over a [B*T, D] matrix."""
        b, t, d = x.shape
        h, dh = self.heads, d // self.heads
        x2 = x.reshape(b * t, d)
        n = F.layer_norm(x2, (d,), self.norm1.weight, self.norm1.bias, self.norm1.eps)
        q, k, v = self.qkv(n).view(b, t, 3, h, dh).permute(2, 0, 3, 1, 4)  # each [B, H, T, Dh]
        ck, cv = cache.k[i, rows], cache.v[i, rows]  # views [B, H, capacity, Dh]
        if at.pos is None:  # every row at the same position
            ck[:, :, at.start : at.end] = k
            cv[:, :, at.start : at.end] = v
        else:  # one token per row, each at its own position
            ck[at.arange, :, at.pos] = k[:, :, 0]
            cv[at.arange, :, at.pos] = v[:, :, 0]
        keys, values = ck[:, :, : at.end], cv[:, :, : at.end]
        if t == 1:  # one query: plain matmuls beat SDPA's dispatch for this size
            scores = (q * dh**-0.5) @ keys.transpose(-1, -2)
            if at.mask is not None:  # rows at their own positions: hide what lies past each row's own past
                scores = scores.masked_fill(~at.mask, float("-inf"))
                values = values.masked_fill(~at.mask.transpose(-1, -2), 0.0)
            a = scores.softmax(-1) @ values
        elif at.start == 0:
            a = F.scaled_dot_product_attention(q, keys, values, is_causal=True)
        else:
            mask = torch.ones(t, at.end, dtype=torch.bool, device=x.device).tril(diagonal=at.start)
            a = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        x2 = x2 + self.out(a.transpose(1, 2).reshape(b * t, d))

        n = F.layer_norm(x2, (d,), self.norm_cross.weight, self.norm_cross.bias, self.norm_cross.eps)
        q = self.cross_q(n).view(b, t, h, dh).transpose(1, 2)
        ck, cv, cb = cache.cross_k[i, rows], cache.cross_v[i, rows], cache.cross_bias[rows]
        if t == 1:
            a = ((q * dh**-0.5) @ ck.transpose(-1, -2) + cb).softmax(-1) @ cv
        else:
            a = F.scaled_dot_product_attention(q, ck, cv, attn_mask=cb)
        x2 = x2 + self.cross_out(a.transpose(1, 2).reshape(b * t, d))

        n = F.layer_norm(x2, (d,), self.norm2.weight, self.norm2.bias, self.norm2.eps)
        y = self.fc1(n)
        y = F.relu(y) if self.act == "relu" else F.gelu(y, approximate="tanh" if self.act == "gelu_new" else "none")
        return (x2 + self.fc2(y)).view(b, t, d)


class MusicgenLM(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.cfg = cfg
        k, d = cfg.num_codebooks, cfg.dim
        self.emb = nn.Parameter(torch.zeros(k, cfg.card + 1, d))  # one table per codebook, row `card` = start/pad
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_layers)])
        self.cross_kv = Dense(d, cfg.num_layers * 2 * d)  # all layers' cross K,V in one matmul
        self.norm = nn.LayerNorm(d)
        self.heads = Dense(d, k * cfg.card)  # K output heads in one matmul
        self._pos: torch.Tensor | None = None

    # -- state ---------------------------------------------------------------------------------------------------
    def new_cache(self, batch: int, capacity: int) -> LMCache:
        """A cache for `batch` rows (guided rows included) and up to `capacity` positions."""
        p = self.emb
        c = self.cfg
        shape = (c.num_layers, batch, c.num_heads, capacity, c.dim // c.num_heads)
        empty = torch.zeros(c.num_layers, batch, c.num_heads, 1, c.dim // c.num_heads, dtype=p.dtype, device=p.device)
        return LMCache(
            k=torch.empty(shape, dtype=p.dtype, device=p.device),  # never read before written (see Placement)
            v=torch.empty(shape, dtype=p.dtype, device=p.device),
            cross_k=empty,
            cross_v=empty,
            cross_bias=torch.zeros(batch, 1, 1, 1, dtype=p.dtype, device=p.device),
            lengths=[0] * batch,
        )

    def pack(self) -> None:
        """Reorder the per-step projections for the CPU's fastest matmul (see Dense.pack). Call once, after
        loading. cross_kv runs once per prompt and stays as it is (packing it would only cost a transient copy)."""
        for m in self.modules():
            if isinstance(m, Dense) and m is not self.cross_kv:
                m.pack()

    @torch.inference_mode()
    def set_condition(self, cache: LMCache, states: torch.Tensor, mask: torch.Tensor, rows: slice = slice(None)) -> None:
        """Compute every layer's cross-attention K/V for the text states of cache rows `rows`.

        states: [B, S, dim] already projected and zeroed where mask is 0; mask: [B, S] (1 = token). A row whose mask
        is all zero (the unconditional half of guidance) attends uniformly to zero values, giving exactly 0.
        Rows of different prompt lengths share the cache: shorter ones are padded and masked."""
        c = self.cfg
        b, s, d = states.shape
        h, dh = c.num_heads, d // c.num_heads
        kv = self.cross_kv(states.to(self.emb.dtype)).view(b, s, c.num_layers, 2, h, dh)
        kv = kv.permute(2, 3, 0, 4, 1, 5)  # [L, 2, B, H, S, Dh]
        m = mask.bool()
        m = m | ~m.any(dim=1, keepdim=True)  # fully masked rows: attend to all (values are 0)
        bias = torch.zeros(m.shape, dtype=self.emb.dtype, device=m.device).masked_fill(~m, float("-inf"))
        if rows == slice(None) or range(*rows.indices(cache.rows)) == range(cache.rows):
            cache.cross_k, cache.cross_v = kv[:, 0].contiguous(), kv[:, 1].contiguous()
            cache.cross_bias = bias[:, None, None, :]
            return
        if s > cache.cross_k.shape[3]:  # grow every row's text capacity; padding is masked
            grow = s - cache.cross_k.shape[3]
            cache.cross_k = F.pad(cache.cross_k, (0, 0, 0, grow))
            cache.cross_v = F.pad(cache.cross_v, (0, 0, 0, grow))
            cache.cross_bias = F.pad(cache.cross_bias, (0, grow), value=float("-inf"))
        cache.cross_k[:, rows].zero_()
        cache.cross_v[:, rows].zero_()
        cache.cross_bias[rows] = float("-inf")
        cache.cross_k[:, rows, :, :s] = kv[:, 0]
        cache.cross_v[:, rows, :, :s] = kv[:, 1]
        cache.cross_bias[rows, :, :, :s] = bias[:, None, None, :]

    def positions(self, start: int, t: int) -> torch.Tensor:
        need = start + t
        if self._pos is None or self._pos.shape[0] < need or self._pos.device != self.emb.device:
            n = max(need, self.cfg.max_positions)
            self._pos = sinusoids(torch.arange(n, device=self.emb.device), self.cfg.dim)
        return self._pos[start:need]

    # -- forward -------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def forward(
        self, tokens: torch.Tensor, cache: LMCache, last_only: bool = True, rows: slice = slice(None)
    ) -> torch.Tensor:
        """tokens: [B, K, T] codes (id `card` = start/pad) for cache rows `rows`, each row continuing at its own
        position (T > 1 needs all rows at the same one).

        Returns float32 logits [B, T', K, card] with T' = 1 if last_only else T; advances those rows by T.
        The caller keeps every row's length + T <= cache.capacity."""
        b, k, t = tokens.shape
        idx = range(*rows.indices(cache.rows))
        lens = [cache.lengths[r] for r in idx]
        if len(lens) != b:
            raise ValueError(f"{b} token rows for {len(lens)} cache rows")
        if max(lens) + t > cache.capacity:
            raise ValueError(f"KV cache full: {max(lens)}+{t} > {cache.capacity}")
        offsets = torch.arange(k, device=tokens.device)[None, :, None] * (self.cfg.card + 1)
        x = F.embedding(tokens + offsets, self.emb.view(-1, self.cfg.dim)).sum(dim=1)  # [B, T, D]
        if self.cfg.scale_embedding:
            x = x * math.sqrt(self.cfg.dim)
        if min(lens) == max(lens):
            at = Placement(lens[0], lens[0] + t)
            x = x + self.positions(lens[0], t).to(x.dtype)
        elif t == 1:
            dev = tokens.device
            pos = torch.tensor(lens, device=dev)
            end = max(lens) + 1
            ok = torch.arange(end, device=dev)[None, :] <= pos[:, None]
            at = Placement(0, end, pos, torch.arange(b, device=dev), ok[:, None, None, :])
            x = x + self.positions(0, end)[pos][:, None].to(x.dtype)
        else:
            raise ValueError("several tokens at once need every row at the same position")
        for i, layer in enumerate(self.layers):
            x = layer(x, i, cache, rows, at)
        for r in idx:
            cache.lengths[r] += t
        if last_only:
            x = x[:, -1:]
        x = self.norm(x)
        return self.heads(x).float().view(b, x.shape[1], k, self.cfg.card)
