"""Audio files, read and written in one place (soundfile, i.e. libsndfile): the CLI's inputs and outputs, the
daemon's takes, files a client names and files sent as bytes. In memory: float32 [C, N], time last; written: [N, C]
as the DAW's file takes it. Every failure is a LoopgenError naming the file; callers that answer a client wrap it."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .errors import LoopgenError
from .params import OUTPUT_FORMATS


class AudioFileError(LoopgenError):
    """A file (or bytes) that is not audio libsndfile reads, or is empty."""


def info(source: str | Path | bytes) -> tuple[int, int, int]:
    """(frames, rate, channels) from the header alone."""
    import soundfile as sf

    try:
        i = sf.info(io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray)) else str(source))
    except Exception as e:  # soundfile's LibsndfileError / RuntimeError, with the codec's message
        raise AudioFileError(f"{_name(source)} is not audio libsndfile reads ({type(e).__name__})") from e
    return int(i.frames), int(i.samplerate), int(i.channels)


def read(source: str | Path | bytes) -> tuple[np.ndarray, int]:
    """A file (its path, or its bytes) -> (float32 [C, N], rate). Empty audio is an error."""
    import soundfile as sf

    try:
        src = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray)) else str(source)
        data, rate = sf.read(src, dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioFileError(f"{_name(source)} is not audio libsndfile reads ({type(e).__name__}: {e})") from e
    if data.shape[0] == 0:
        raise AudioFileError(f"{_name(source)} is empty")
    return np.ascontiguousarray(data.T), int(rate)


def write(path: str | Path, data: np.ndarray, rate: int, fmt: str = "float", container: str | None = None) -> None:
    """data [N, C] float32 -> a file: WAV in `fmt` (float, pcm24, pcm16), or what its suffix names (FLAC, OGG).
    container: the format regardless of the suffix ("WAV" for a take's temporary .part file)."""
    import soundfile as sf

    p = Path(path)
    wav = container == "WAV" or (container is None and p.suffix.lower() == ".wav")
    subtype = OUTPUT_FORMATS[fmt] if wav else ("PCM_16" if fmt == "pcm16" else None)
    try:
        sf.write(str(p), data, rate, subtype=subtype, format=container)
    except Exception as e:  # OSError, or soundfile's own error for a full disk
        raise LoopgenError(f"cannot write {p}: {getattr(e, 'strerror', None) or e}") from e


def writable_format(path: str | Path) -> bool:
    """Whether libsndfile writes the format the file's suffix names."""
    import soundfile as sf

    return Path(path).suffix.lstrip(".").upper() in sf.available_formats()


def _name(source: str | Path | bytes) -> str:
    return "the file sent" if isinstance(source, (bytes, bytearray)) else Path(source).name
