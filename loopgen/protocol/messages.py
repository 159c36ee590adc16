"""Commands (client -> server) and events (server -> client), and the validation both transports share.

Sans-I/O: plain data in, typed messages or a ProtocolError out. Numbers are accepted as int or float everywhere
(Pure Data sends only floats); booleans are not numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import audio_files
from ..errors import LoopgenError, short
from ..params import (LENGTH_LIMITS, LOUDNESS_RANGE, MAX_NEW_SECONDS, MAX_PROMPT_CHARS, MAX_PROMPTS,
                      OUTPUT_FORMATS, OUTPUT_RATES, REQUEST_LIMITS, music_seconds)

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 32 * 2**20
MAX_PING_BYTES = 1024  # ping data, echoed in pong
MAX_CONTINUE_SECONDS = 600.0  # audio sent to continue, at its own rate (only its last window is used)
MAX_MELODY_SECONDS = 600.0  # melody audio sent (a melody model uses its first 30 s)
MELODY_USED_SECONDS = 31.0  # what a melody model reads of a melody: its first 30 s, and 1 s for the resampler's edge
# files from outside, checked on their header before anything is decoded, and decoded only as far as they are used
MELODY_FILE = audio_files.Limits(MAX_MELODY_SECONDS, (8000, 384000), 16, use=MELODY_USED_SECONDS, mono_over=2)
MAX_PATH_CHARS = 4096
class ProtocolError(Exception):
    """A message the server cannot act on. `code` is stable for programs, `message` is for people."""

    def __init__(self, code: str, message: str, id: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id


# -- commands --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Melody:
    """A melody model's melody: audio [C, N] at sample_rate, a path on the daemon's machine, or the bytes of an
    audio file (read off the event loop, as a path is); none of them: no melody (a `set` that removes it)."""

    audio: np.ndarray | None = field(default=None, repr=False)
    sample_rate: int | None = None
    path: str | None = None
    file: bytes | None = field(default=None, repr=False)  # an audio file's bytes, its header checked: decoded later

    @property
    def none(self) -> bool:
        return self.audio is None and self.path is None and self.file is None

    @property
    def source(self) -> str | bytes | None:
        """What is still to be read before the model sees it: a path, or a file's bytes (None: nothing)."""
        return self.path if self.path is not None else self.file


@dataclass(frozen=True)
class GenerateParams:
    prompts: tuple[tuple[str, float], ...]
    seconds: float | None = 8.0  # new audio; None with bars + bpm
    bars: float | None = None
    bpm: float | None = None
    beats_per_bar: int = 4
    loop: bool = False  # wrap seamlessly (needs bars + bpm, or seconds)
    sampling: dict = field(default_factory=dict)  # the sampling values given (the model family fills the rest)
    seed: int | None = None
    output_rate: int | None = None  # the saved file's rate (None: the server's default, else the model's)
    output_format: str | None = None  # float | pcm24 | pcm16 (None: the server's default, float)
    loudness: float | None = None  # LUFS target of the saved file (None: the server's default, none)
    melody: Melody | None = None  # a melody model's melody (None: none)
    queue: bool = False  # when the machine is at its real-time capacity: wait for room (True) or be refused
    play: bool = True  # on the daemon's speakers once it starts (False: made and saved, not played)
    model: str | None = None  # which of the daemon's models makes it (None: its first); welcome lists them

    def total_seconds(self) -> float:
        return music_seconds(self.seconds, self.bars, self.bpm, self.beats_per_bar)


@dataclass(frozen=True)
class Hello:
    protocol: int
    client: str = ""
    token: str | None = None
    codes: bool = False


@dataclass(frozen=True)
class Generate:
    id: Any
    params: GenerateParams


@dataclass(frozen=True)
class Continue:
    id: Any
    params: GenerateParams
    audio: np.ndarray = field(repr=False)  # [C, N] float32
    sample_rate: int = 32000


@dataclass(frozen=True)
class ContinueFile:
    """Continue the audio in a file the server can read (OSC clients: Max and Pd write their buffer to disk);
    path None: continue the sender's latest generation."""

    id: Any
    params: GenerateParams
    path: str | None = None


@dataclass(frozen=True)
class Extend:
    id: Any
    of: Any
    bars: float | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Set:
    id: Any
    changes: dict = field(default_factory=dict)  # sampling parameters
    prompts: tuple[tuple[str, float], ...] | None = None
    melody: Melody | None = None  # a new melody (Melody() removes it), None: unchanged


@dataclass(frozen=True)
class Stop:
    id: Any


@dataclass(frozen=True)
class Play:
    id: Any = None  # None: the latest


@dataclass(frozen=True)
class Ping:
    data: Any = None


@dataclass(frozen=True)
class Workers:
    """List the daemon's model workers (answered with `workers`)."""


Command = Hello | Generate | Continue | ContinueFile | Extend | Set | Stop | Play | Ping | Workers


# -- events ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Welcome:
    protocol: int
    model: str
    sample_rate: int
    channels: int
    frame_rate: int
    latency_frames: int
    max_message_bytes: int
    realtime_factor: float | None = None  # audio seconds made per second on this machine, one stream (None: unknown)
    output_latency_ms: float | None = None  # from a sample handed to the daemon's audio out to the speakers
    output_rate: int | None = None  # the daemon's audio out's rate (the device's)
    models: tuple = ()  # every model it serves, the default (`model`) first: {name, aliases, sample_rate, channels,
    # frame_rate, family, melody}


@dataclass(frozen=True)
class Started:
    id: Any
    seconds: float
    prompts: tuple = ()


@dataclass(frozen=True)
class Audio:
    id: Any
    seq: int  # chunk number, from 0
    sample: int  # stream index of the chunk's first sample
    pcm: bytes = field(repr=False)  # interleaved little-endian float32, `channels` per sample frame
    channels: int = 1
    format: str = "f32le"


@dataclass(frozen=True)
class Frames:
    id: Any
    frame: int
    codes: list  # [K] ints (one row)


@dataclass(frozen=True)
class Queued:
    """A start that waits for room (when_busy: queue): `position` starts ahead of it."""

    id: Any
    position: int


@dataclass(frozen=True)
class Playing:
    """A take's first sample is on its way to the daemon's speakers: heard `delay_ms` after this event was sent
    (`frame`: the JACK frame time it is heard at, when the audio goes through JACK)."""

    id: Any
    delay_ms: float
    frame: int | None = None


@dataclass(frozen=True)
class Progress:
    id: Any
    frames: int
    total: int
    rtf: float
    underruns: int = 0


@dataclass(frozen=True)
class Done:
    id: Any
    frames: int
    seconds: float
    path: str


@dataclass(frozen=True)
class Error:
    code: str
    message: str
    id: Any = None


@dataclass(frozen=True)
class Pong:
    data: Any = None


@dataclass(frozen=True)
class Moved:
    """A take went on on another worker (`serve --ray`: its own was lost), from frame `frame`; nothing was lost."""

    id: Any
    frame: int
    worker: int | None = None  # the new worker's pid


@dataclass(frozen=True)
class WorkerList:
    """Each model worker: {model, kind (thread | ray), device, node, pid, sessions, steps_per_s, alive}."""

    workers: tuple = ()


Event = Moved | WorkerList | Welcome | Started | Audio | Frames | Progress | Playing | Done | Error | Pong | Queued


# -- field validation ------------------------------------------------------------------------------------------
def number(d: dict, key: str, default: Any, lo: float, hi: float, id: Any = None, integer: bool = False) -> Any:
    """d[key] as a number in [lo, hi] (int or float accepted), or `default` when absent or None."""
    v = d.get(key, None)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ProtocolError("bad_field", f"{key} must be a number, got {type(v).__name__}", id)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ProtocolError("out_of_range", f"{key} must be between {lo:g} and {hi:g}, got {short(v)}", id)
    if integer:
        if v != int(v):
            raise ProtocolError("bad_field", f"{key} must be a whole number, got {short(v)}", id)
        return int(v)
    return float(v)


def text(d: dict, key: str, id: Any = None, required: bool = True, default: str | None = None) -> str | None:
    v = d.get(key)
    if v is None:
        if required:
            raise ProtocolError("bad_field", f"{key} is required", id)
        return default
    if not isinstance(v, str):
        raise ProtocolError("bad_field", f"{key} must be a string, got {type(v).__name__}", id)
    return v


def flag(d: dict, key: str, default: bool, id: Any = None) -> bool:
    v = d.get(key)
    if v is None:
        return default
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):  # Pd and Max send 0/1
        return bool(v)
    raise ProtocolError("bad_field", f"{key} must be true or false, got {short(v)}", id)


def message_id(d: dict, required: bool = True) -> Any:
    v = d.get("id")
    if v is None:
        if required:
            raise ProtocolError("bad_field", "id is required (a string or an integer of your choice)")
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise ProtocolError("bad_field", f"id must be a string or an integer, got {type(v).__name__}")
    if isinstance(v, str) and not 0 < len(v) <= 200:
        raise ProtocolError("bad_field", "id must be 1 to 200 characters")
    return v


def weighted_prompts(d: dict, id: Any, required: bool = True) -> tuple[tuple[str, float], ...] | None:
    """`prompt: str` or `prompts: [[text, weight], ...]` -> ((text, weight), ...)."""
    if d.get("prompts") is not None:
        raw = d["prompts"]
        if not isinstance(raw, (list, tuple)) or not 1 <= len(raw) <= MAX_PROMPTS:
            raise ProtocolError("bad_field", f"prompts must be a list of 1 to {MAX_PROMPTS} [text, weight] pairs", id)
        out = []
        for item in raw:
            if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
                raise ProtocolError("bad_field", f"each prompt is [text, weight], got {short(item)}", id)
            w = number({"weight": item[1]}, "weight", None, 0.0, 1e6, id)
            if w is None:
                raise ProtocolError("bad_field", "a prompt weight is missing", id)
            out.append((_prompt_text(item[0], id), w))
        if sum(w for _, w in out) <= 0:
            raise ProtocolError("out_of_range", "at least one prompt weight must be > 0", id)
        return tuple(out)
    if d.get("prompt") is not None:
        return ((_prompt_text(text(d, "prompt", id), id), 1.0),)
    if required:
        raise ProtocolError("bad_field", "prompt (a string) or prompts ([[text, weight], ...]) is required", id)
    return None


def _prompt_text(s: str, id: Any) -> str:
    s = s.strip()
    if not s or len(s) > MAX_PROMPT_CHARS:
        raise ProtocolError("out_of_range", f"a prompt must have 1 to {MAX_PROMPT_CHARS} characters", id)
    return s


def sampling_changes(d: dict, id: Any) -> dict:
    """The sampling values present in d (only those: each model family fills the rest with its own defaults),
    checked against the widest range any family takes (loopgen.params.REQUEST_LIMITS); the model's own range is
    checked where the model is known (the worker), answering out_of_range too."""
    return {
        k: number(d, k, None, lo, hi, id, integer)
        for k, (lo, hi, integer) in REQUEST_LIMITS.items()
        if d.get(k) is not None
    }


def length(d: dict, key: str, default: Any, id: Any = None) -> Any:
    """A length field (bars, bpm, beats_per_bar, seconds, seed) in its range from LENGTH_LIMITS."""
    lo, hi, whole = LENGTH_LIMITS[key]
    return number(d, key, default, lo, hi, id, whole)


def generate_params(d: dict, id: Any, default_bpm: float | None = None) -> GenerateParams:
    """The request's parameters. `default_bpm` (the Ableton Link session's tempo under `serve --link`) is the bpm of
    a request that gives bars without one."""
    prompts = weighted_prompts(d, id)
    bars = length(d, "bars", None, id)
    bpm = length(d, "bpm", None, id)
    if bars is not None and bpm is None and default_bpm is not None:
        lo, hi, _ = LENGTH_LIMITS["bpm"]
        bpm = min(max(float(default_bpm), lo), hi)
    bpb = length(d, "beats_per_bar", 4, id)
    if (bars is None) != (bpm is None):
        raise ProtocolError("bad_field", "bars and bpm go together", id)
    seconds = length(d, "seconds", None if bars is not None else 8.0, id)
    p = GenerateParams(
        prompts=prompts, seconds=seconds, bars=bars, bpm=bpm, beats_per_bar=bpb,
        loop=flag(d, "loop", bars is not None, id), seed=length(d, "seed", None, id),
        sampling=sampling_changes(d, id),
        melody=melody_field(d, id),
        queue=when_busy(d, id),
        play=flag(d, "play", True, id),
        model=model_field(d, id),
        **output_fields(d, id),
    )
    if p.total_seconds() > MAX_NEW_SECONDS:
        raise ProtocolError("out_of_range", f"at most {MAX_NEW_SECONDS:g} s per generation, got {p.total_seconds():g}",
                            id)
    return p


MAX_MODEL_NAME = 200  # a model's name in a request (a hub id, a short name): the daemon only compares it


def model_field(d: dict, id: Any) -> str | None:
    """`model`: one of the daemon's models by name (welcome's `models`); never a path or a hub id to load."""
    name = text(d, "model", id, required=False)
    if name is not None and not 0 < len(name) <= MAX_MODEL_NAME:
        raise ProtocolError("bad_field", f"model is a name of 1 to {MAX_MODEL_NAME} characters", id)
    return name


def when_busy(d: dict, id: Any) -> bool:
    """`when_busy`: "refuse" (default: answered `busy` when the machine cannot make one more stream in real time) or
    "queue" (wait for room: `queued`, then `started`). -> whether to queue."""
    v = text(d, "when_busy", id, required=False, default="refuse")
    if v not in ("refuse", "queue"):
        raise ProtocolError("bad_field", f"when_busy is refuse or queue, got {short(v)}", id)
    return v == "queue"


def output_fields(d: dict, id: Any) -> dict:
    """output_rate, output_format, loudness: how the saved file should be (for the DAW it goes into)."""
    fmt = text(d, "output_format", id, required=False)
    if fmt is not None and fmt not in OUTPUT_FORMATS:
        raise ProtocolError("bad_field", f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, got {short(fmt)}", id)
    return {"output_rate": number(d, "output_rate", None, *OUTPUT_RATES, id, integer=True), "output_format": fmt,
            "loudness": number(d, "loudness", None, *LOUDNESS_RANGE, id)}


def melody_field(d: dict, id: Any) -> Melody | None:
    """`melody`: audio bytes (PCM per melody_format f32le | s16le with melody_sample_rate and melody_channels, or
    melody_format "file": the bytes of a WAV / FLAC / OGG file), a path on the daemon's machine (a string), or false
    (no melody: in `set`, removes it). Absent: None."""
    v = d.get("melody")
    if v is None:
        return None
    if v is False:
        return Melody()
    if isinstance(v, str):
        if not 0 < len(v) <= MAX_PATH_CHARS:
            raise ProtocolError("bad_field", f"a melody path has 1 to {MAX_PATH_CHARS} characters", id)
        return Melody(path=v)
    if not isinstance(v, (bytes, bytearray)):
        raise ProtocolError("bad_field", "melody is audio bytes, a path (a string) or false", id)
    fmt = text(d, "melody_format", id, required=False, default="f32le")
    if fmt == "file":  # only its header here: a small file may decode to hours (read_melody decodes what is used)
        file_header(v, MELODY_FILE, id)
        return Melody(file=bytes(v))
    else:
        rate = number(d, "melody_sample_rate", None, 8000, 384000, id, integer=True)
        if rate is None:
            raise ProtocolError("bad_field", "a PCM melody needs melody_sample_rate (or melody_format: file)", id)
        audio = pcm_audio(v, number(d, "melody_channels", 1, 1, 16, id, integer=True), fmt, id)
    if audio.shape[-1] / rate > MAX_MELODY_SECONDS:
        raise ProtocolError("out_of_range", f"at most {MAX_MELODY_SECONDS:g} s of melody, got "
                            f"{audio.shape[-1] / rate:.0f} s", id)
    return Melody(audio, int(rate))


def file_header(source: str | bytes, limits: audio_files.Limits, id: Any) -> None:
    """A file's header within `limits`, or the error a client gets (out_of_range: too long, an odd rate or channel
    count; bad_audio: not audio)."""
    try:
        audio_files.check(source, limits)
    except audio_files.LimitError as e:
        raise ProtocolError("out_of_range", f"the melody: {e}", id) from e
    except LoopgenError as e:
        raise ProtocolError("bad_audio", f"the melody: {e}", id) from e


def read_file(source: str | bytes, limits: audio_files.Limits, what: str, id: Any) -> tuple[np.ndarray, int]:
    """An audio file (a path or its bytes) -> (float32 [C, N], rate): its header checked first, only the part
    `limits` uses decoded. Slow for a long file: call it off the event loop."""
    try:
        return audio_files.read(source, limits)
    except audio_files.LimitError as e:
        raise ProtocolError("out_of_range", f"{what}: {e}", id) from e
    except LoopgenError as e:
        raise ProtocolError("bad_audio", f"{what}: {e}", id) from e


def pcm_audio(data: Any, channels: int, fmt: str, id: Any) -> np.ndarray:
    """Interleaved PCM bytes -> float32 [C, N]; rejects audio that is not what it claims."""
    if not isinstance(data, (bytes, bytearray)):
        raise ProtocolError("bad_audio", "audio must be binary (msgpack bin)", id)
    if fmt not in ("f32le", "s16le"):
        raise ProtocolError("bad_field", f"format must be f32le or s16le, got {short(fmt)}", id)
    width = 4 if fmt == "f32le" else 2
    if len(data) == 0 or len(data) % (width * channels):
        raise ProtocolError(
            "bad_audio", f"{len(data)} bytes is not a whole number of {channels}-channel {fmt} samples", id
        )
    if fmt == "f32le":
        x = np.frombuffer(data, dtype="<f4").astype(np.float32)
        if not np.isfinite(x).all():
            raise ProtocolError("bad_audio", "audio has NaN or infinite samples", id)
        if np.abs(x).max() > 64:
            raise ProtocolError("bad_audio", "f32le audio is far outside [-1, 1]: is it really float32?", id)
    else:
        x = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return np.ascontiguousarray(x.reshape(-1, channels).T)
