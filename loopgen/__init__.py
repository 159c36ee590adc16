"""loopgen: MusicGen as a live instrument."""
from __future__ import annotations

from .errors import LoopgenError

__version__ = "0.1.0"
__all__ = ["LoopgenError", "load_model", "Generation", "MusicGen", "IncrementalDecoder"]


def __getattr__(name: str):
    # torch is heavy: import the model layer only when a model name is asked for
    if name in ("load_model", "Generation", "MusicGen"):
        from . import models

        return getattr(models, name)
    if name == "IncrementalDecoder":
        from .streaming import IncrementalDecoder

        return IncrementalDecoder
    raise AttributeError(f"module 'loopgen' has no attribute {name!r}")
