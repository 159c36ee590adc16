"""loopgen: MusicGen as a live instrument."""
from __future__ import annotations

from .errors import LoopgenError

__version__ = "0.1.0"
_STREAMING = (
    "IncrementalDecoder", "Session", "Frame", "Chunk", "stream", "stream_audio", "open_session",
    "Loop", "make_loop", "extend_loop", "vary_loop", "loop_samples",
)
__all__ = ["LoopgenError", "load_model", "Generation", "MusicGen", *_STREAMING]


def __getattr__(name: str):
    # torch is heavy: import the model layer only when a model name is asked for
    if name in ("load_model", "Generation", "MusicGen"):
        from . import models

        return getattr(models, name)
    if name in _STREAMING:
        from . import streaming

        return getattr(streaming, name)
    raise AttributeError(f"module 'loopgen' has no attribute {name!r}")
