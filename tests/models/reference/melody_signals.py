"""Test melodies, the same in the reference script and the tests (numpy's PCG64 streams are stable across versions):
name -> (audio [C, N] float32, sample rate)."""
from __future__ import annotations

import numpy as np


def _notes(midi: list[int], seconds: float, sr: int, noise: float, seed: int) -> np.ndarray:
    per = int(seconds * sr)
    f = np.repeat(440.0 * 2.0 ** ((np.asarray(midi) - 69) / 12), per)
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = 0.5 * np.sin(phase) + 0.2 * np.sin(2 * phase)
    return (x + noise * np.random.default_rng(seed).standard_normal(x.size)).astype(np.float32)


def signals() -> dict[str, tuple[np.ndarray, int]]:
    sr = 32000
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79]
    left = _notes(scale, 0.5, 44100, 0.02, 1)
    right = _notes(scale[::-1], 0.5, 44100, 0.02, 2)
    return {
        "scale_32k": (_notes(scale, 0.5, sr, 0.05, 0)[None], sr),  # 6 s, C major up an octave and a half
        "short_32k": (_notes([69], 0.2, sr, 0.0, 0)[None], sr),  # shorter than n_fft: padded
        "long_32k": (_notes([57, 61, 64, 66] * 8, 1.0, sr, 0.05, 3)[None], sr),  # 32 s: cut to 30 s
        "noise_32k": ((0.3 * np.random.default_rng(4).standard_normal(sr * 3)).astype(np.float32)[None], sr),
        "stereo_44k": (np.stack([left, right]), 44100),  # mixed to mono, then resampled
    }
