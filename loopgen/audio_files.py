"""Audio files, read and written in one place (soundfile, i.e. libsndfile): the CLI's inputs and outputs, the
daemon's takes, files a client names and files sent as bytes. In memory: float32 [C, N], time last; written: [N, C]
as the DAW's file takes it. Every failure is a LoopgenError naming the file; callers that answer a client wrap it."""
from __future__ import annotations

import io
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Limits:
    """What a file from outside may be, checked on its header before a sample is decoded, and how much of it is
    decoded: a small file that decodes to hours of audio (a FLAC of silence) costs only its header."""

    seconds: float  # the longest file accepted
    rates: tuple[int, int] = (8000, 384000)  # Hz, both included
    channels: int = 16  # the most channels accepted
    use: float | None = None  # decode only this many seconds...
    end: bool = False  # ...of its end (audio to continue), not its start (a melody)
    mono_over: int | None = None  # files with more channels than this are mixed to mono as they are decoded


BLOCK = 1 << 16  # frames decoded at a time under Limits


def read(source: str | Path | bytes, limits: Limits | None = None) -> tuple[np.ndarray, int]:
    """A file (its path, or its bytes) -> (float32 [C, N], rate). Empty audio is an error. With `limits`, the
    header is checked first (AudioFileError, or LimitError for a length, rate or channel count outside them) and
    only the part used is decoded, in blocks: memory is bounded by the limits, not by what the file claims."""
    import soundfile as sf

    try:
        src = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray)) else str(source)
        with sf.SoundFile(src) as f:
            if limits is None:
                data = f.read(dtype="float32", always_2d=True)
            else:
                data = _read_within(f, limits, _name(source))
            rate = f.samplerate
    except LoopgenError:
        raise
    except Exception as e:
        raise AudioFileError(f"{_name(source)} is not audio libsndfile reads ({type(e).__name__}: {e})") from e
    if data.shape[0] == 0:
        raise AudioFileError(f"{_name(source)} is empty")
    if limits is not None and not np.isfinite(data).all():
        raise AudioFileError(f"{_name(source)} has NaN or infinite samples")
    return np.ascontiguousarray(data.T), int(rate)


class LimitError(LoopgenError):
    """A file whose header is outside the limits a caller set."""


def check(source: str | Path | bytes, limits: Limits) -> tuple[int, int, int]:
    """(frames, rate, channels) from the header alone, within `limits` (LimitError) or not audio (AudioFileError)."""
    frames, rate, channels = info(source)
    _within(frames, rate, channels, limits, _name(source))
    return frames, rate, channels


def _within(frames: int, rate: int, channels: int, limits: Limits, name: str) -> None:
    lo, hi = limits.rates
    if not lo <= rate <= hi:
        raise LimitError(f"{name} says its sample rate is {rate} Hz; {lo}-{hi} Hz are accepted")
    if not 1 <= channels <= limits.channels:
        raise LimitError(f"{name} has {channels} channels; at most {limits.channels} are accepted")
    if frames / rate > limits.seconds:
        raise LimitError(f"{name} is {frames / rate:.0f} s long; at most {limits.seconds:g} s are accepted")


def _read_within(f, limits: Limits, name: str) -> np.ndarray:
    """The used part of an open SoundFile as float32 [n, C'], after checking its header against `limits`."""
    frames, rate, channels = int(f.frames), int(f.samplerate), int(f.channels)
    _within(frames, rate, channels, limits, name)
    n = frames if limits.use is None else min(frames, int(np.ceil(limits.use * rate)))
    if limits.end and n < frames:
        f.seek(frames - n)
    mono = limits.mono_over is not None and channels > limits.mono_over
    out = np.empty((n, 1 if mono else channels), np.float32)  # bounded: the limits' seconds x rate x channels
    got = 0
    while got < n:
        block = f.read(min(BLOCK, n - got), dtype="float32", always_2d=True)
        if not len(block):
            break  # the header promised more than there is
        out[got : got + len(block)] = block.mean(1, keepdims=True) if mono else block
        got += len(block)
    return out[:got]


def write(path: str | Path, data: np.ndarray, rate: int, fmt: str = "float", container: str | None = None) -> None:
    """data [N, C] float32 -> a file: WAV in `fmt` (float, pcm24, pcm16), or what its suffix names (FLAC, OGG).
    container: the format regardless of the suffix ("WAV" for a take's temporary .part file)."""
    import soundfile as sf

    p = Path(path)
    wav = container == "WAV" or (container is None and p.suffix.lower() == ".wav")
    subtype = OUTPUT_FORMATS[fmt] if wav else ("PCM_16" if fmt == "pcm16" else None)
    data = np.asarray(data)
    channels = 1 if data.ndim == 1 else data.shape[1]
    try:
        with sf.SoundFile(str(p), "w", rate, channels, subtype=subtype, format=container) as f:
            _no_peak_chunk(f)
            f.write(data)
    except Exception as e:  # OSError, or soundfile's own error for a full disk
        raise LoopgenError(f"cannot write {p}: {getattr(e, 'strerror', None) or e}") from e


SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's command (sndfile.h)


def _no_peak_chunk(f) -> None:
    """A float WAV without libsndfile's PEAK chunk: it holds the time of writing, so the same take written twice
    would differ in bytes (`cmp`, `sha256sum`). Must come before the first sample is written."""
    import soundfile as sf

    try:
        sf._snd.sf_command(f._file, SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)  # soundfile has no public call for it
    except AttributeError:  # a soundfile without these internals: the file is still right, only not byte-stable
        pass


def writable_format(path: str | Path) -> bool:
    """Whether libsndfile writes the format the file's suffix names."""
    import soundfile as sf

    return Path(path).suffix.lstrip(".").upper() in sf.available_formats()


def _name(source: str | Path | bytes) -> str:
    return "the file sent" if isinstance(source, (bytes, bytearray)) else Path(source).name
