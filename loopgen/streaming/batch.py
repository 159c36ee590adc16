"""Several sessions stepped together: one LM forward pass per step for all of them.

Each session keeps its own prompts, parameters, seed and position (sessions can start at different times and
re-prime their windows independently); their LM rows share one KV cache. The result for each session is what it
would give alone: rows never see each other, and each row's sampling uses its own generator.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.lm import LMCache
from ..models.musicgen import MusicGen
from .session import Frame, Session


def _merge(caches: list[LMCache]) -> LMCache:
    """One cache holding every row of `caches`, in order (capacity and text length padded to the largest)."""
    cap = max(c.capacity for c in caches)
    s = max(c.cross_k.shape[3] for c in caches)

    def pad_cap(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, 0, 0, cap - t.shape[3]))

    def pad_text(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, 0, 0, s - t.shape[3]))

    return LMCache(
        k=torch.cat([pad_cap(c.k) for c in caches], dim=1),
        v=torch.cat([pad_cap(c.v) for c in caches], dim=1),
        cross_k=torch.cat([pad_text(c.cross_k) for c in caches], dim=1),
        cross_v=torch.cat([pad_text(c.cross_v) for c in caches], dim=1),
        cross_bias=torch.cat(
            [F.pad(c.cross_bias, (0, s - c.cross_bias.shape[3]), value=float("-inf")) for c in caches], dim=0
        ),
        lengths=[n for c in caches for n in c.lengths],
    )


class Batch:
    """Steps its sessions together. Finished or cancelled sessions leave at the next step; `add` and `remove`
    regroup the shared cache (the only times it is reallocated)."""

    def __init__(self, m: MusicGen, sessions: list[Session] = (), prefill_chunk: int | None = None):
        """prefill_chunk: at most this many tokens of a window start per step (None: all at once), so that one
        session's long prompt does not hold up the others."""
        self.m = m
        self.prefill_chunk = prefill_chunk
        self.sessions: list[Session] = []
        for s in sessions:
            self.add(s)

    def add(self, s: Session) -> None:
        if s.batch is not None:
            raise ValueError("session is already in a batch")
        self.sessions.append(s)
        s.batch = self
        self._regroup()

    def remove(self, s: Session) -> None:
        """Take a session out; it keeps its state and can go on alone."""
        s.cache = self._own(s)
        s.lm_rows = slice(0, s.cache.rows)
        s.batch = None
        self.sessions.remove(s)
        self._regroup()

    def _own(self, s: Session) -> LMCache:
        """The session's rows as a cache of its own (no copy when it already has the whole cache)."""
        if s.lm_rows.start == 0 and s.lm_rows.stop == s.cache.rows:
            return s.cache
        return s.cache.select(torch.arange(s.lm_rows.start, s.lm_rows.stop, device=self.m.device))

    def _regroup(self) -> None:
        if not self.sessions:
            return
        own = [self._own(s) for s in self.sessions]
        if len(own) == 1:  # alone: keep its cache as it is
            s = self.sessions[0]
            s.cache, s.lm_rows = own[0], slice(0, own[0].rows)
            return
        merged = _merge(own)
        start = 0
        for s, c in zip(self.sessions, own):
            s.cache, s.lm_rows = merged, slice(start, start + c.rows)
            start += c.rows

    @torch.inference_mode()
    def step(self) -> list[tuple[Session, Frame]]:
        """One step of every running session; returns the frames completed, with their sessions."""
        for s in [s for s in self.sessions if s.done]:
            self.remove(s)
        if not self.sessions:
            return []
        lm = self.m.lm
        cache = self.sessions[0].cache
        tokens = {s: s._prepare(self.prefill_chunk) for s in self.sessions}
        logits: dict[Session, torch.Tensor] = {}
        for s, t in tokens.items():  # window starts feed many tokens: one forward each
            if t.shape[-1] > 1:
                logits[s] = lm(t, cache, rows=s.lm_rows)[:, -1]
        if len(logits) < len(self.sessions):
            # the rest step together; sessions that just took their window start ride along on a dummy token
            # whose K/V write is overwritten by their next real step, and keep their position
            parts = [tokens[s] if s not in logits else tokens[s][..., -1:] for s in self.sessions]
            out = lm(torch.cat(parts), cache)[:, -1]
            for s in self.sessions:
                if s in logits:
                    for r in range(s.lm_rows.start, s.lm_rows.stop):
                        cache.lengths[r] -= 1
                else:
                    logits[s] = out[s.lm_rows]
        done = []
        for s in self.sessions:
            f = s._accept(logits[s])
            if f is not None:
                done.append((s, f))
        return done
