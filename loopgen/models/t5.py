"""The T5 text encoder (encoder stack only) and its tokenizer.

Module names mirror transformers' `T5EncoderModel` (`shared`, `encoder.block.N.layer.{0,1}...`) so the checkpoint's
`text_encoder.*` keys load unchanged. T5 specifics: RMS LayerNorm without bias, unscaled dot-product attention with a
bucketed relative-position bias computed by the first block and shared by all, ReLU (or gated) feed-forward.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import LoopgenError
from .config import T5Config


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.float().pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps)).to(self.weight.dtype)


def relative_bucket(rel: torch.Tensor, num_buckets: int, max_distance: int) -> torch.Tensor:
    """Bidirectional T5 bucketing of memory_position - query_position."""
    num_buckets //= 2
    buckets = (rel > 0).long() * num_buckets
    rel = rel.abs()
    max_exact = num_buckets // 2
    large = max_exact + (
        torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).long()
    large = large.clamp(max=num_buckets - 1)
    return buckets + torch.where(rel < max_exact, rel, large)


class T5Attention(nn.Module):
    def __init__(self, cfg: T5Config, has_bias: bool):
        super().__init__()
        inner = cfg.num_heads * cfg.d_kv
        self.q = nn.Linear(cfg.d_model, inner, bias=False)
        self.k = nn.Linear(cfg.d_model, inner, bias=False)
        self.v = nn.Linear(cfg.d_model, inner, bias=False)
        self.o = nn.Linear(inner, cfg.d_model, bias=False)
        self.cfg = cfg
        if has_bias:
            self.relative_attention_bias = _embedding(cfg.num_buckets, cfg.num_heads)

    def position_bias(self, length: int, device: torch.device) -> torch.Tensor:  # -> [1, H, S, S]
        pos = torch.arange(length, device=device)
        rel = pos[None, :] - pos[:, None]
        buckets = relative_bucket(rel, self.cfg.num_buckets, self.cfg.max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)[None]

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:  # bias: [B, H, S, S], mask included
        b, s, _ = x.shape
        h, dk = self.cfg.num_heads, self.cfg.d_kv
        q = self.q(x).view(b, s, h, dk).transpose(1, 2)
        k = self.k(x).view(b, s, h, dk).transpose(1, 2)
        v = self.v(x).view(b, s, h, dk).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) + bias
        attn = scores.float().softmax(-1).type_as(scores)
        return self.o((attn @ v).transpose(1, 2).reshape(b, s, h * dk))


class SelfAttentionLayer(nn.Module):
    def __init__(self, cfg: T5Config, has_bias: bool):
        super().__init__()
        self.SelfAttention = T5Attention(cfg, has_bias)
        self.layer_norm = RMSNorm(cfg.d_model, cfg.eps)


class DenseActDense(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        if cfg.gated:
            self.wi_0 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
            self.wi_1 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        else:
            self.wi = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.wo = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)
        self.cfg = cfg

    def act(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.act == "relu":
            return F.relu(x)
        return F.gelu(x, approximate="tanh" if self.cfg.act == "gelu_new" else "none")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.gated:
            return self.wo(self.act(self.wi_0(x)) * self.wi_1(x))
        return self.wo(self.act(self.wi(x)))


class FeedForwardLayer(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        self.DenseReluDense = DenseActDense(cfg)
        self.layer_norm = RMSNorm(cfg.d_model, cfg.eps)


class T5Block(nn.Module):
    def __init__(self, cfg: T5Config, has_bias: bool):
        super().__init__()
        self.layer = nn.ModuleList([SelfAttentionLayer(cfg, has_bias), FeedForwardLayer(cfg)])

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        attn, ff = self.layer
        x = x + attn.SelfAttention(attn.layer_norm(x), bias)
        return x + ff.DenseReluDense(ff.layer_norm(x))


class T5Stack(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        self.block = nn.ModuleList([T5Block(cfg, has_bias=(i == 0)) for i in range(cfg.num_layers)])
        self.final_layer_norm = RMSNorm(cfg.d_model, cfg.eps)


def _embedding(n: int, d: int) -> nn.Embedding:
    """An nn.Embedding [n, d] without its random init: the weights are loaded (or a random build draws them). Its
    init on "meta", where a checkpoint's model is built, goes through torch's reference `normal_`, whose first call
    imports torch._dynamo: ~2 s of every load in a fresh process."""
    return nn.Embedding(n, d, _weight=torch.empty(n, d))


class T5Encoder(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        self.cfg = cfg
        self.shared = _embedding(cfg.vocab_size, cfg.d_model)
        self.encoder = T5Stack(cfg)

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids, mask: [B, S] (mask 1 = token) -> states [B, S, d_model]."""
        x = self.shared(ids)
        s = ids.shape[1]
        first = self.encoder.block[0].layer[0].SelfAttention
        bias = first.position_bias(s, ids.device).to(x.dtype)
        neg = torch.finfo(x.dtype).min
        bias = bias + (1.0 - mask[:, None, None, :].to(x.dtype)) * neg  # [B, H, S, S]
        for block in self.encoder.block:
            x = block(x, bias)
        return self.encoder.final_layer_norm(x)


MAX_TOKENS = 256  # text tokens per prompt


class TextTokenizer:
    """Wraps a `tokenizers.Tokenizer` (the checkpoint's tokenizer.json): batches of text -> padded ids + mask.

    The tokenizer's post-processor appends `</s>`, as T5's does."""

    def __init__(self, tokenizer, pad_id: int = 0):
        self.tok = tokenizer
        self.pad_id = pad_id

    @classmethod
    def from_file(cls, path: str | Path) -> "TextTokenizer":
        from tokenizers import Tokenizer

        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as e:  # tokenizers raises plain Exception subclasses with terse text
            raise LoopgenError(f"cannot read tokenizer {path}: {e}") from e

    def __call__(self, texts: list[str], device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        encs = self.tok.encode_batch([t for t in texts])
        for t, e in zip(texts, encs):
            if len(e.ids) > MAX_TOKENS:  # T5's cost grows with the square of this: refuse, cheaply, before it runs
                raise LoopgenError(f"a prompt of {len(e.ids)} tokens is too long (at most {MAX_TOKENS}): "
                                   f"{t[:40]!r}...")
        length = max(1, max(len(e.ids) for e in encs))
        ids = torch.full((len(texts), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(texts), length), dtype=torch.long)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
            mask[i, : len(e.ids)] = 1
        return ids.to(device), mask.to(device)
