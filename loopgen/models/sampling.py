"""Next-token choice: classifier-free guidance, temperature, top-k, top-p, and a seeded draw per batch row.

Everything here is tensors in, tensors out, with fixed shapes, so it runs inside a captured step: the parameters are
per-row tensors (a live change is a write, never a recompile), top-k is a mask over the one sorted vocabulary, and the
random draw comes from a counter-based hash of (row seed, row draw count, codebook, token). A row's result therefore
depends only on its own seed and how many times it has drawn: not on the batch around it, not on torch's global RNG.
The draw is the exponential-race form of multinomial sampling (argmax of p / Exp(1)), which needs no host sync.
"""
from __future__ import annotations

import secrets
import torch

from ..errors import LoopgenError

from ..params import MAX_SEED


def draw_seed() -> int:
    """A fresh seed for an unseeded generation, without touching torch's global generators."""
    return secrets.randbits(31)


def check_seed(seed: int | None) -> int:
    if seed is None:
        return draw_seed()
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise LoopgenError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return seed


def _shortcut(eager: bool, x: torch.Tensor) -> bool:
    """The caller runs eagerly (not a captured or compiled step) on the CPU, where reading a value on the host costs
    nothing and a step's small ops are a real share of it: the shortcuts below give the fixed-shape path's values
    (tests hold them equal)."""
    return eager and x.device.type in FREE_READS and not torch.compiler.is_compiling()


FREE_READS = ("cpu",)  # devices whose values the host reads without waiting (tests of a GPU's path empty it)


# -- guidance ------------------------------------------------------------------------------------------------------
def guide(
    logits: torch.Tensor, voice: torch.Tensor, weight: torch.Tensor, uncond: torch.Tensor, cfg: torch.Tensor
) -> torch.Tensor:
    """The one guidance. logits: [R, K, V] of the LM rows; voice: [R] which output row each LM row serves; weight:
    [R] its prompt's normalised weight (0 for unconditional and unused rows); uncond: [R] True for the unconditional
    row of a voice; cfg: [B]. -> [B, K, V]: cond = the weighted sum of a voice's prompt logits (logit-space morphing),
    and uncond + cfg * (cond - uncond) where the voice has an unconditional row and cfg != 1, else cond exactly."""
    b = cfg.shape[0]
    zero = logits.new_zeros(b, *logits.shape[1:])
    cond = zero.index_add(0, voice, torch.where((weight > 0)[:, None, None], logits * weight[:, None, None], 0.0))
    unc = zero.index_add(0, voice, torch.where(uncond[:, None, None], logits, 0.0))
    has_unc = zero[:, 0, 0].index_add(0, voice, uncond.to(zero.dtype)) > 0
    c = cfg[:, None, None]
    return torch.where((has_unc & (cfg != 1.0))[:, None, None], unc + c * (cond - unc), cond)


# -- filtering -----------------------------------------------------------------------------------------------------
def filter_logits(logits: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor,
                  eager: bool = False) -> torch.Tensor:
    """Temperature, then top-k, then top-p (transformers' order). logits: [B, K, V] float32; the parameters are [B]
    tensors (temperature 0 is treated as 1 here: greedy rows take the argmax before filtering). eager: not inside a
    captured or compiled step (the CPU may then take a shortcut to the same values)."""
    b, k, v = logits.shape
    t = torch.where(temperature > 0, temperature, torch.ones_like(temperature))
    x = logits / t[:, None, None]
    use_k = ((top_k > 0) & (top_k < v))[:, None, None]
    use_p = ((top_p > 0) & (top_p < 1))[:, None, None]
    if _shortcut(eager, x) and not bool(use_p.any()):  # top-k alone (MusicGen's way): the k largest values, not a sort
        kth = x.topk(int(top_k.clamp(1, v).max()), dim=-1).values.gather(  # of the vocabulary (the same values)
            -1, (top_k.clamp(1, v) - 1)[:, None, None].expand(b, k, 1))
        return torch.where(use_k & (x < kth), float("-inf"), x)
    desc = x.sort(dim=-1, descending=True).values  # [B, K, V]
    kth = desc.gather(-1, (top_k.clamp(1, v) - 1)[:, None, None].expand(b, k, 1))
    x = torch.where(use_k & (x < kth), float("-inf"), x)
    # top-p over what top-k left, in ascending order as transformers does: drop the low tail whose mass <= 1 - p
    asc = torch.where(use_k & (desc < kth), float("-inf"), desc).flip(-1)
    drop = asc.softmax(-1).cumsum(-1) <= (1 - top_p)[:, None, None]
    drop[..., -1].fill_(False)  # keep at least the best token (a fill: no host value enters a captured step)
    keep_from = asc.gather(-1, drop.sum(-1, keepdim=True).clamp(max=v - 1))  # lowest kept value
    return torch.where(use_p & (x < keep_from), float("-inf"), x)


# -- the seeded draw -----------------------------------------------------------------------------------------------
_M32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor | int, m: int) -> torch.Tensor | int:
    """(x * m) mod 2^32 for x holding uint32 values in int64, without int64 overflow (or a Python integer)."""
    return (x * (m & 0xFFFF) + (((x * (m >> 16)) & 0xFFFF) << 16)) & _M32


def _hash32(x: torch.Tensor | int) -> torch.Tensor | int:
    """A 32-bit integer hash with full avalanche (lowbias32)."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def _key(seed: torch.Tensor | int, draws: torch.Tensor | int) -> torch.Tensor | int:
    """A row's draw key from its seed and draw count: tensors (a step's rows) or Python integers (_key_ints)."""
    key = _hash32((seed & _M32) ^ _hash32(((seed >> 32) & _M32) ^ 0x9E3779B9))
    return _hash32(key ^ _hash32((draws & _M32) ^ 0x85EBCA6B))


def _key_ints(seed: list[int], draws: list[int]) -> torch.Tensor:
    """_key of each row, made on the host in Python's integers (its ops are theirs too: the same values) -> [B] long:
    a step on the CPU's eager path would otherwise spend ~75 tiny tensor ops on its B numbers."""
    return torch.tensor([_key(s, d) for s, d in zip(seed, draws)])


def _element(element: torch.Tensor) -> torch.Tensor:
    return _hash32(element ^ 0xC2B2AE35)


def _unit(key: torch.Tensor, hashed: torch.Tensor) -> torch.Tensor:
    """key [B, 1], hashed: _element of each element drawn -> float32 in (0, 1)."""
    bits = _hash32(key ^ hashed)
    return ((bits >> 8).to(torch.float32) + 0.5) * (1.0 / 2**24)


_ELEMENTS: dict[int, torch.Tensor] = {}  # the CPU's _element(arange(n)) by n: half of a draw's hashing, made once


def uniforms(seed: torch.Tensor, draws: torch.Tensor, n: int, eager: bool = False) -> torch.Tensor:
    """seed, draws: [B] long -> [B, n] float32 in (0, 1), a pure function of (seed, draws, element)."""
    if _shortcut(eager, seed):
        if n not in _ELEMENTS:
            _ELEMENTS[n] = _element(torch.arange(n, dtype=torch.long))[None, :]
        return _unit(_key_ints(seed.tolist(), draws.tolist())[:, None], _ELEMENTS[n])
    # made in the step: nothing outside a captured step's memory, no value read on the host
    hashed = _element(torch.arange(n, device=seed.device, dtype=torch.long)[None, :])
    return _unit(_key(seed, draws)[:, None], hashed)


def uniforms_at(seed: torch.Tensor, draws: torch.Tensor, elements: torch.Tensor) -> torch.Tensor:
    """Some elements of `uniforms`: seed, draws [M] long, elements [M, n] long -> [M, n], equal to
    uniforms(seed, draws, N)[m, elements[m]] (a MAGNeT pass draws only where it is still masked)."""
    return _unit(_key(seed, draws)[:, None], _element(elements))


def choose(
    logits: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor,
    seed: torch.Tensor, draws: torch.Tensor, eager: bool = False,
) -> torch.Tensor:
    """logits [B, K, V] float32 (already guided) -> tokens [B, K]. Row b draws with (seed[b], draws[b]); greedy
    where temperature is 0 or top_k is 1."""
    b, k, v = logits.shape
    probs = filter_logits(logits, temperature, top_k, top_p, eager).softmax(dim=-1)
    noise = -torch.log(uniforms(seed, draws, k * v, eager)).view(b, k, v)  # Exp(1)
    drawn = (probs / noise).argmax(dim=-1)
    greedy = ((temperature <= 0) | (top_k == 1))[:, None]
    return torch.where(greedy, logits.argmax(dim=-1), drawn)
