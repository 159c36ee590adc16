"""The models loopgen knows by name, and which are in the local cache: pure Python (no torch), so that `loopgen
models` prints at once."""
from __future__ import annotations

from . import hub

KNOWN_MODELS: dict[str, str] = {
    "facebook/musicgen-small": "MusicGen small, mono, 300M",
    "facebook/musicgen-medium": "MusicGen medium, mono, 1.5B",
    "facebook/musicgen-large": "MusicGen large, mono, 3.3B",
    "facebook/musicgen-stereo-small": "MusicGen small, stereo",
    "facebook/musicgen-stereo-medium": "MusicGen medium, stereo",
    "facebook/musicgen-stereo-large": "MusicGen large, stereo",
    "facebook/musicgen-melody": "MusicGen melody, mono, 1.5B: follows a melody's chroma",
    "facebook/musicgen-melody-large": "MusicGen melody large, mono, 3.3B",
    "facebook/musicgen-stereo-melody": "MusicGen melody, stereo, 1.5B",
    "facebook/musicgen-stereo-melody-large": "MusicGen melody large, stereo, 3.3B",
    "facebook/magnet-small-10secs": "MAGNeT small, 10 s segments",
    "facebook/magnet-medium-10secs": "MAGNeT medium, 10 s segments",
    "facebook/magnet-small-30secs": "MAGNeT small, 30 s segments",
    "facebook/magnet-medium-30secs": "MAGNeT medium, 30 s segments",
    "facebook/audio-magnet-small": "MAGNeT small, text to sound (16 kHz)",
    "facebook/audio-magnet-medium": "MAGNeT medium, text to sound (16 kHz)",
}
RANDOM_MODELS = ("random:tiny", "random:stereo-tiny", "random:small", "random:medium", "random:large",
                 "random:magnet-tiny", "random:magnet-small", "random:melody-tiny", "random:melody")


def cached_models() -> set[str]:
    """Hub ids of known checkpoints already in the local cache."""
    return {repo for repo in KNOWN_MODELS if hub.cached(repo, "state_dict.bin" if "magnet" in repo else "config.json")}
