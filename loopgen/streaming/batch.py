"""Several sessions stepped together: one engine, one LM forward pass per step for all of them.

Each session keeps its own prompts, parameters, seed and position (sessions can start at different times and
re-prime their windows independently); their voices are rows of one engine. The result for each session is what it
would give alone: rows never see each other, and each row draws from its own seed and draw count.
"""
from __future__ import annotations

import torch

from ..models.musicgen import MusicGen
from .types import Frame, Stream


class EngineBatch:
    """Steps MusicGen sessions (`session.Session`) together in one engine. Finished or cancelled sessions leave at the
    next step and free their rows. Sessions are passive: this drives them through join, prepare and collect."""

    def __init__(self, m: MusicGen, sessions: list = (), prefill_chunk: int | None = None,
                 compile: bool | str | None = None, graphs: bool = False):
        """prefill_chunk: at most this many tokens of a window start per step (None: all at once), so that one
        session's long prompt does not hold up the others. compile, graphs: see `models.engine.Engine`."""
        self.m = m
        self.prefill_chunk = prefill_chunk
        self.compile, self.graphs = compile, graphs
        self.engine = m.engine(compile=compile, graphs=graphs)
        self.sessions: list = []
        self.failed: list[tuple[Stream, Exception]] = []  # sessions that failed alone, for the caller to report
        for s in sessions:
            self.add(s)

    def add(self, s) -> None:
        """A session joins (from its own batch, if it had one: its state moves here)."""
        if s.batch is self:
            return
        if s.batch is not None:
            s.batch.sessions.remove(s)
        s.join(self.engine)
        s.batch = self
        self.sessions.append(s)

    def remove(self, s) -> None:
        """Take a session out; it keeps its state and can go on alone."""
        self.sessions.remove(s)
        s.batch = None
        if not s.done:
            EngineBatch(self.m, [s], compile=self.compile, graphs=self.graphs)
        else:
            s.leave()

    @torch.inference_mode()
    def step(self) -> list[tuple[Stream, Frame]]:
        """One step of every running session; returns the frames completed, with their sessions."""
        for s in [s for s in self.sessions if s.done]:
            self.sessions.remove(s)
            s.leave()
            s.batch = None
        if not self.sessions:
            if self.engine.cache.rows > 2:  # idle after a crowd: give the memory back
                self.engine = self.m.engine(compile=self.compile, graphs=self.graphs)
            return []
        for s in list(self.sessions):
            try:
                s.prepare(self.prefill_chunk)
            except Exception as e:  # this session's own work failed (its text, its window): it ends, the rest go on
                self.sessions.remove(s)
                s.cancel()
                s.leave()
                s.batch = None
                self.failed.append((s, e))
        if not any(v.live for v in self.engine.voices.values()):
            return []
        codes = self.engine.step()
        done = []
        for s in self.sessions:
            f = s.collect(codes)
            if f is not None:
                done.append((s, f))
        return done
