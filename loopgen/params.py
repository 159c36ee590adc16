"""Sampling parameters: their defaults, ranges and validation, defined once for every layer (API, CLI, WebSocket,
OSC, MIDI). Pure Python: the protocol layer reads it without importing the models."""
from __future__ import annotations

from dataclasses import dataclass, fields

from .errors import LoopgenError

LIMITS: dict[str, tuple[float, float, bool]] = {  # name -> (lowest, highest, whole number)
    "temperature": (0.0, 5.0, False),
    "top_k": (0, 2048, True),
    "top_p": (0.0, 1.0, False),
    "cfg_coef": (0.0, 20.0, False),
}
MAX_SEED = 2**63 - 1
# how a take is written for the DAW it goes into
OUTPUT_FORMATS = {"float": "FLOAT", "pcm24": "PCM_24", "pcm16": "PCM_16"}  # name -> soundfile subtype
OUTPUT_RATES = (8000, 192000)  # Hz, lowest and highest
LOUDNESS_RANGE = (-70.0, 0.0)  # LUFS


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0  # 0 = greedy
    top_k: int = 250  # 0 = off
    top_p: float = 0.0  # 0 = off
    cfg_coef: float = 3.0  # 1 = no guidance (the unconditional half is not computed)

    def validate(self) -> "SamplingParams":
        for f in fields(self):
            v = getattr(self, f.name)
            lo, hi, whole = LIMITS[f.name]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise LoopgenError(f"{f.name} must be between {lo:g} and {hi:g}, got {v!r}")
            if whole and v != int(v):
                raise LoopgenError(f"{f.name} must be a whole number, got {v!r}")
        return self

    def replace(self, **changes: float) -> "SamplingParams":
        unknown = set(changes) - set(LIMITS)
        if unknown:
            raise LoopgenError(f"unknown sampling parameter(s): {', '.join(sorted(unknown))}; known: {', '.join(LIMITS)}")
        merged = {**self.as_dict(), **changes}
        k = merged["top_k"]
        if isinstance(k, float) and k.is_integer():
            merged["top_k"] = int(k)
        return SamplingParams(**merged).validate()

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}



def check_range(name: str, lo: float, hi: float) -> None:
    """A controller range (a MIDI CC map, a slider) must lie inside the parameter's own range."""
    if name not in LIMITS:
        raise LoopgenError(f"unknown sampling parameter {name!r}; known: {', '.join(LIMITS)}")
    a, b, _ = LIMITS[name]
    if not (a <= lo <= b and a <= hi <= b):
        raise LoopgenError(f"{name} range {lo:g}..{hi:g} is outside {a:g}..{b:g}")
