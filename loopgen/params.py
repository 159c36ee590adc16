"""Sampling parameters: their defaults, ranges and validation, defined once for every layer (API, CLI, WebSocket,
OSC, MIDI). Pure Python: the protocol layer reads it without importing the models."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from .errors import LoopgenError, short

LIMITS: dict[str, tuple[float, float, bool]] = {  # name -> (lowest, highest, whole number)
    "temperature": (0.0, 5.0, False),
    "top_k": (0, 2048, True),
    "top_p": (0.0, 1.0, False),
    "cfg_coef": (0.0, 20.0, False),
}
MAX_SEED = 2**63 - 1
# what one request may ask for, for every way in (WebSocket, OSC, MIDI, a take's record read back)
MAX_PROMPTS = 8
MAX_PROMPT_CHARS = 2000
MAX_NEW_SECONDS = 600.0  # new audio one request may ask for (generate, continue, extend)
# the ranges of a request's length fields: name -> (lowest, highest, whole number)
LENGTH_LIMITS: dict[str, tuple[float, float, bool]] = {
    "bars": (0.25, 256, False), "bpm": (20, 400, False), "beats_per_bar": (1, 32, True),
    "seconds": (0.02, MAX_NEW_SECONDS, False), "seed": (0, MAX_SEED, True),
}
# how a take is written for the DAW it goes into
OUTPUT_FORMATS = {"float": "FLOAT", "pcm24": "PCM_24", "pcm16": "PCM_16"}  # name -> soundfile subtype
OUTPUT_RATES = (8000, 192000)  # Hz, lowest and highest
LOUDNESS_RANGE = (-70.0, 0.0)  # LUFS


def music_seconds(seconds: float | None, bars: float | None = None, bpm: float | None = None,
                  beats_per_bar: int = 4) -> float:
    """The length of a take in seconds: bars at a tempo (bars * beats_per_bar * 60 / bpm), else seconds. The one
    definition (streaming's exact sample counts and the protocol's length limits both come from it)."""
    if bars is not None and bpm is not None:
        return bars * beats_per_bar * 60.0 / bpm
    return float(seconds or 0.0)


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
        _known(changes)
        merged = {**self.as_dict(), **changes}
        k = merged["top_k"]
        if isinstance(k, float) and k.is_integer():
            merged["top_k"] = int(k)
        return SamplingParams(**merged).validate()

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}



def check_range(name: str, lo: float, hi: float, limits: dict | None = None) -> None:
    """A controller range (a MIDI CC map, a slider) must lie inside the parameter's range: `limits` (name -> (lo,
    hi, whole)), by default the widest any family takes (REQUEST_LIMITS: a map is read before the model is known;
    the daemon checks it against the model's family once loaded)."""
    limits = REQUEST_LIMITS if limits is None else limits
    if name not in limits:
        raise LoopgenError(f"unknown sampling parameter {name!r}; known: {', '.join(limits)}")
    a, b, _ = limits[name]
    if not (a <= lo <= b and a <= hi <= b):
        raise LoopgenError(f"{name} range {lo:g}..{hi:g} is outside {a:g}..{b:g}")


# -- MAGNeT's iterative decoding -----------------------------------------------------------------------------------
SPAN_ARRANGEMENTS = ("nonoverlap", "stride1")
SPAN_SCORINGS = ("max", "prod")
MAGNET_LIMITS: dict[str, tuple[float, float, bool]] = {
    "temperature": (0.0, 10.0, False),  # the first pass's; annealed linearly to 0 over each stage
    "top_k": (0, 2048, True),
    "top_p": (0.0, 1.0, False),
    "max_cfg_coef": (0.0, 40.0, False),  # guidance while everything is masked ...
    "min_cfg_coef": (0.0, 40.0, False),  # ... annealed to this as the mask empties
}
MAX_DECODING_STEPS = 200  # per stage


@dataclass(frozen=True)
class MagnetParams:
    """MAGNeT decoding options, with audiocraft's names and its API defaults (music models). `greedy` is audiocraft's
    use_sampling=False. Text-to-sound models default to AUDIO_MAGNET (audiocraft's audio-magnet settings)."""

    temperature: float = 3.0
    top_k: int = 0
    top_p: float = 0.9
    max_cfg_coef: float = 10.0
    min_cfg_coef: float = 1.0
    decoding_steps: tuple[int, ...] = (20, 10, 10, 10)  # one count per codebook stage
    span_arrangement: str = "nonoverlap"
    span_scoring: str = "max"
    anneal_temp: bool = True
    greedy: bool = False

    def validate(self, stages: int | None = None) -> "MagnetParams":
        for name, (lo, hi, whole) in MAGNET_LIMITS.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise LoopgenError(f"{name} must be between {lo:g} and {hi:g}, got {v!r}")
            if whole and v != int(v):
                raise LoopgenError(f"{name} must be a whole number, got {v!r}")
        steps = self.decoding_steps
        if not steps or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DECODING_STEPS
                            for n in steps):
            raise LoopgenError(f"decoding_steps must be whole numbers from 1 to {MAX_DECODING_STEPS}, got {steps!r}")
        if stages is not None and len(steps) != stages:
            raise LoopgenError(f"decoding_steps needs one count per codebook ({stages}), got {len(steps)}")
        if self.span_arrangement not in SPAN_ARRANGEMENTS:
            raise LoopgenError(f"span_arrangement must be one of {', '.join(SPAN_ARRANGEMENTS)}")
        if self.span_scoring not in SPAN_SCORINGS:
            raise LoopgenError(f"span_scoring must be one of {', '.join(SPAN_SCORINGS)}")
        return self

    def replace(self, **changes: object) -> "MagnetParams":
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise LoopgenError(f"unknown MAGNeT option(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        if "decoding_steps" in changes and isinstance(changes["decoding_steps"], list):
            changes["decoding_steps"] = tuple(changes["decoding_steps"])
        return MagnetParams(**{**self.as_dict(), **changes}).validate()

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


AUDIO_MAGNET = MagnetParams(temperature=3.5, top_p=0.8, max_cfg_coef=20.0)


# -- a request's sampling values, mapped onto each family's own defaults and ranges ----------------------------------
# A request (API, CLI, WebSocket, OSC, MIDI, a take's record) carries only the values its sender gave, in these
# names; each family fills the rest with its own defaults and checks them against its own ranges.
MAGNET_NAMES = {"temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "cfg_coef": "max_cfg_coef"}
REQUEST_LIMITS: dict[str, tuple[float, float, bool]] = {  # the widest range any family takes, checked on arrival
    k: (min(lo, MAGNET_LIMITS[MAGNET_NAMES[k]][0]), max(hi, MAGNET_LIMITS[MAGNET_NAMES[k]][1]), whole)
    for k, (lo, hi, whole) in LIMITS.items()
}


def request_problem(name: str, v: Any) -> str | None:
    """What is wrong with `v` as a value of sampling parameter `name` in a request (outside the widest range any
    family takes, REQUEST_LIMITS), or None. Each family checks its own range where the model is known."""
    if name not in REQUEST_LIMITS:
        return f"is not a sampling parameter; known: {', '.join(REQUEST_LIMITS)}"
    lo, hi, whole = REQUEST_LIMITS[name]
    if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi
            or (whole and v != int(v))):
        return f"must be {'a whole number ' if whole else ''}from {lo:g} to {hi:g}, got {short(v)}"
    return None


def _known(given: dict) -> None:
    unknown = set(given) - set(LIMITS)
    if unknown:
        raise LoopgenError(f"unknown sampling parameter(s): {', '.join(sorted(unknown))}; known: {', '.join(LIMITS)}")


def musicgen_sampling(given: dict) -> SamplingParams:
    """MusicGen's parameters: the given values over its defaults, in its ranges."""
    return SamplingParams().replace(**given)


def magnet_changes(given: dict) -> dict[str, object]:
    """The given values in MAGNeT's names (cfg_coef: its guidance while everything is masked, max_cfg_coef), to lay
    over the model's own decoding defaults (`Magnet.options`), which check them in MAGNeT's ranges."""
    _known(given)
    out = {MAGNET_NAMES[k]: v for k, v in given.items()}
    if isinstance(out.get("top_k"), float) and out["top_k"].is_integer():
        out["top_k"] = int(out["top_k"])
    return out


def magnet_values(p: MagnetParams) -> dict[str, float]:
    """MAGNeT's parameters in request names (what a take's record replays)."""
    return {k: getattr(p, MAGNET_NAMES[k]) for k in LIMITS}
