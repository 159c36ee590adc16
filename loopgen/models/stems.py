"""Optional stem separation before a melody's chroma, as audiocraft's melody conditioner does: Demucs (htdemucs)
splits the audio, and the vocals and "other" stems (where a melody usually lives, not drums or bass) are summed and
mixed to mono. Used only when the `demucs` package and its htdemucs weights are installed; otherwise the chroma is
taken from the raw audio, as transformers' feature extractor does. Loaded lazily, once per process."""
from __future__ import annotations

import importlib.util
import threading

import numpy as np
import torch

from .audio import as_batch, match_channels, resample

RAW = "raw audio"
STEMS = "demucs htdemucs stems: vocals + other"
_lock = threading.Lock()
_model: object | None = None
_why_not: str | None = None


def separator() -> tuple[object | None, str | None]:
    """(the Demucs model, None) when it can run here, else (None, why not). Tries once per process."""
    global _model, _why_not
    with _lock:
        if _model is None and _why_not is None:
            if importlib.util.find_spec("demucs") is None:
                _why_not = "demucs is not installed (pip install demucs)"
            else:
                try:
                    from demucs import pretrained

                    _model = pretrained.get_model("htdemucs").eval()
                except Exception as e:  # no weights cached and no network, or a broken install
                    _why_not = f"demucs could not load htdemucs: {type(e).__name__}: {e}"
        return _model, _why_not


def melody_stems(wav: torch.Tensor | np.ndarray, sample_rate: int, target_rate: int) -> torch.Tensor | None:
    """Any audio [C, N] -> the mono sum of its vocals and other stems [1, 1, N'] at target_rate, or None when
    Demucs is not available (see `separator`)."""
    model, _ = separator()
    if model is None:
        return None
    from demucs.apply import apply_model

    x = match_channels(resample(as_batch(wav), int(sample_rate), model.samplerate), model.audio_channels)
    with torch.inference_mode():
        stems = apply_model(model, x, device="cpu")  # [1, S, C, N]
    keep = [model.sources.index("vocals"), model.sources.index("other")]
    mix = stems[:, keep].sum(1)  # [1, C, N]
    return resample(match_channels(mix, 1), model.samplerate, target_rate)
