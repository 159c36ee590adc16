"""The streaming layer's shared value types and interfaces: a frame, weighted prompts, and what a stream is and what
steps streams. Sessions (MusicGen's `Session`, MAGNeT's `SegmentSession`) and steppers (`EngineBatch`,
`SegmentBatch`) implement these in full; everything above them (takes, loops, `stream`, the daemon) uses only these.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch

from ..errors import LoopgenError

WeightedPrompts = list[tuple[str, float]]


@dataclass(frozen=True)
class Frame:
    """One EnCodec frame of every row, all K codebooks, delay undone."""

    index: int  # frame position in the stream (a continuation's prompt frames come first)
    codes: torch.Tensor  # [B, K]
    prompts: tuple[tuple[tuple[str, float], ...], ...]  # per row, the weighted prompts that produced it
    params: Any  # the sampling parameters of the step that completed it (the family's own: SamplingParams, ...)


def normalize_prompts(prompts: str | list) -> list[WeightedPrompts]:
    """'text' | [text, ...] | [[(text, w), ...], ...] -> per row [(text, weight), ...] with weights > 0."""
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise LoopgenError("prompts must be a text or a non-empty list")
    rows: list[WeightedPrompts] = []
    for row in prompts:
        if isinstance(row, str):
            row = [(row, 1.0)]
        items = []
        for item in row:
            if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
                raise LoopgenError(f"a weighted prompt is (text, weight), got {item!r}")
            w = float(item[1])
            if not 0 <= w < math.inf:  # NaN and infinities too
                raise LoopgenError(f"prompt weights must be finite numbers >= 0, got {w}")
            items.append((item[0], w))
        if not items or sum(w for _, w in items) <= 0:
            raise LoopgenError("each row needs at least one prompt with a positive weight")
        rows.append(items)
    return rows


@runtime_checkable
class Stream(Protocol):
    """One generation made step by step: B rows that advance together. Live changes apply from the next step the
    family can take them at (MusicGen: the next token; MAGNeT: the next segment)."""

    rows: list  # per row, its weighted prompts
    seed: int  # row b draws with seed + b
    history: torch.Tensor  # [B, K, n] the latest frames (a prompt's first): the next window's context
    next_frame: int  # stream index of the next frame to complete
    ticks: int  # times a stepper has stepped it: its own clock, the same alone or batched
    total_frames: int | None  # frames it ends at (None: endless)

    def set_params(self, **changes: float) -> None: ...  # the sampling values given (request names)
    def set_prompts(self, prompts: str | list) -> None: ...
    def set_melody(self, melody: list[torch.Tensor | None]) -> None: ...
    def cancel(self) -> None: ...
    @property
    def done(self) -> bool: ...
    @property
    def progress_frames(self) -> int: ...  # new frames made (MAGNeT counts the current segment's passes)
    @property
    def sampling(self) -> dict[str, float]: ...  # the values in use, in request names (what a record replays)
    def step(self) -> Frame | None: ...  # stepped alone: one step, the frame it completed or None


@runtime_checkable
class Stepper(Protocol):
    """Steps several streams of one model together: one forward pass per step for all of them."""

    sessions: list
    failed: list[tuple[Any, Exception]]  # streams whose own work failed (they ended; the rest went on)

    def add(self, s: Stream) -> None: ...
    def remove(self, s: Stream) -> None: ...
    def step(self) -> list[tuple[Stream, Frame]]: ...


def given_values(sampling: Mapping[str, float] | Any | None) -> dict[str, float]:
    """The sampling values a caller gave, in request names: a mapping of just those, or a whole parameter object
    (every value counts as given), or None (none given)."""
    if sampling is None:
        return {}
    if isinstance(sampling, Mapping):
        return dict(sampling)
    return dict(sampling.as_dict())
