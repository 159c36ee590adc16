"""How a take is written for the DAW it goes into: rate, sample format and loudness (the daemon's files and
`loopgen render --from` share this, so a remade take is the same file)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .dsp import for_output
from .loops import loop_samples


@dataclass(frozen=True)
class Output:
    """How a take's file is written: rate (None: the model's), format, loudness target (None: as made)."""

    rate: int | None = None
    format: str = "float"
    loudness: float | None = None

    def over(self, rate: int | None, format: str | None, loudness: float | None) -> "Output":
        """A request's own settings (None: not given) over these defaults."""
        return Output(rate or self.rate, format or self.format, loudness if loudness is not None else self.loudness)

    def render(self, audio: torch.Tensor, sample_rate: int, loop: bool, bars: tuple | None,
               report: dict | None = None) -> tuple[np.ndarray, int]:
        """-> ([N, C] float32 for the file, its rate). A loop keeps its exact length in bars at the new rate.
        report: gets `loudness_reached` when the loudness target was missed (see `for_output`)."""
        rate = self.rate or sample_rate
        loop_length = None
        if loop and rate != sample_rate:
            loop_length = (loop_samples(*bars, rate) if bars else int(round(audio.shape[-1] * rate / sample_rate)))
        return for_output(audio, sample_rate, rate, self.loudness, loop_length, report), rate
