"""Next-token choice: classifier-free guidance, temperature, top-k, top-p, and a seeded draw per batch row.

Every batch row draws from its own `torch.Generator`, so a row's result does not depend on what else is in the batch.
The draw is the exponential-race form of multinomial sampling (argmax of p / Exp(1)), which needs no host sync.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import LoopgenError


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0
    top_k: int = 250
    top_p: float = 0.0
    cfg_coef: float = 3.0

    def validate(self) -> "SamplingParams":
        if not self.temperature >= 0:
            raise LoopgenError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise LoopgenError(f"top_k must be >= 0 (0 = off), got {self.top_k}")
        if not 0.0 <= self.top_p <= 1.0:
            raise LoopgenError(f"top_p must be in [0, 1] (0 = off), got {self.top_p}")
        if not self.cfg_coef >= 0:
            raise LoopgenError(f"cfg_coef must be >= 0, got {self.cfg_coef}")
        return self

    @property
    def greedy(self) -> bool:
        return self.top_k == 1 or self.temperature == 0


def guide(logits: torch.Tensor, cfg_coef: float) -> torch.Tensor:
    """logits: [2B, ...] with the conditional rows first -> [B, ...] = uncond + cfg_coef * (cond - uncond)."""
    cond, uncond = logits.chunk(2, dim=0)
    return uncond + cfg_coef * (cond - uncond)


def filter_logits(logits: torch.Tensor, p: SamplingParams) -> torch.Tensor:
    """Temperature, then top-k, then top-p (transformers' order). logits: [..., V] float32."""
    if p.temperature != 1.0:
        logits = logits / p.temperature
    if p.top_k > 0 and p.top_k < logits.shape[-1]:
        kth = torch.topk(logits, p.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0.0 < p.top_p < 1.0:
        sorted_logits, idx = torch.sort(logits, dim=-1, descending=False)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        remove_sorted = cum <= (1 - p.top_p)
        remove_sorted[..., -1:] = False  # keep at least the best token
        remove = remove_sorted.scatter(-1, idx, remove_sorted)
        logits = logits.masked_fill(remove, float("-inf"))
    return logits


def sample(logits: torch.Tensor, p: SamplingParams, generators: list[torch.Generator]) -> torch.Tensor:
    """logits: [B, K, V] float32 (already guided) -> tokens [B, K]; row b draws from generators[b]."""
    if p.greedy:
        return logits.argmax(dim=-1)
    probs = filter_logits(logits, p).softmax(dim=-1)
    noise = torch.empty_like(probs)
    for b, g in enumerate(generators):
        noise[b].exponential_(1.0, generator=g)
    return (probs / noise).argmax(dim=-1)


def make_generators(seeds: list[int], device: torch.device) -> list[torch.Generator]:
    gens = []
    for s in seeds:
        g = torch.Generator(device=device)
        g.manual_seed(int(s))
        gens.append(g)
    return gens
