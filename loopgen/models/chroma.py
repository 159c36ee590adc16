"""The melody front end of musicgen-melody: audio -> a one-hot chromagram (which of the 12 pitch classes is strongest
in each STFT frame), computed with torch.stft as transformers' MusicgenMelodyFeatureExtractor does (no torchaudio).

The steps, in the extractor's order and precision: mono audio at the codec's rate, cut to `chroma_seconds`, padded
with zeros to n_fft when shorter; a centred, reflect-padded STFT (periodic Hann window, n_fft = win, `hop`), scaled by
1/sqrt(sum(window^2)), squared magnitude; folded onto the pitch classes by librosa's chroma filter bank (tuning 0,
C first); each frame divided by its maximum; one-hot of the argmax. A chroma frame spans `hop` samples (128 ms at
32 kHz with the released settings).
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import LoopgenError
from .audio import as_batch, match_channels, resample

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def chroma_filter_bank(sample_rate: int, n_fft: int, bins: int = 12) -> np.ndarray:
    """librosa's chroma filters as the extractor builds them (tuning 0): a Gaussian bump per pitch class, columns
    L2-normalised, weighted by a Gaussian over octaves (centre 5, half-width 2), rows starting at C.
    -> [bins, n_fft // 2 + 1] float64."""
    freqs = np.linspace(0, sample_rate, n_fft, endpoint=False)[1:]
    a440_c0 = 440.0 / 16  # octave numbers relative to A0 (the extractor's reference)
    pitch = bins * np.log2(freqs / a440_c0)  # fractional pitch-class index of each FFT bin
    pitch = np.concatenate(([pitch[0] - 1.5 * bins], pitch))  # the 0 Hz bin: 1.5 octaves below bin 1
    width = np.concatenate((np.maximum(pitch[1:] - pitch[:-1], 1.0), [1.0]))
    half = np.round(bins / 2)
    dist = np.remainder(np.subtract.outer(pitch, np.arange(bins, dtype="d")).T + half + 10 * bins, bins) - half
    fb = np.exp(-0.5 * (2 * dist / np.tile(width, (bins, 1))) ** 2)
    fb = fb / np.sqrt(np.sum(fb**2, axis=0, keepdims=True))
    fb *= np.tile(np.exp(-0.5 * ((pitch / bins - 5.0) / 2.0) ** 2), (bins, 1))  # weight around octave 5
    fb = np.roll(fb, -3 * (bins // 12), axis=0)  # start at C, not A
    return np.ascontiguousarray(fb[:, : 1 + n_fft // 2])


class Chroma:
    """One-hot chromagrams with fixed settings (see the module docstring). Stateless; filters built once."""

    def __init__(self, sample_rate: int = 32000, n_fft: int = 16384, hop: int = 4096, bins: int = 12,
                 seconds: float = 30.0):
        self.sample_rate, self.n_fft, self.hop, self.bins = sample_rate, n_fft, hop, bins
        self.max_samples = int(seconds * sample_rate)
        self.filters = torch.from_numpy(chroma_filter_bank(sample_rate, n_fft, bins)).float()  # [bins, F], CPU
        self.window = torch.hann_window(n_fft, device="cpu")  # CPU even when built under a meta device

    def mono(self, wav: torch.Tensor | np.ndarray, sample_rate: int) -> torch.Tensor:
        """Any audio ([N], [C, N]) at any rate -> mono [N'] at the front end's rate, cut to its longest."""
        x = self.used(wav, sample_rate)
        if x.shape[0] != 1:
            raise LoopgenError(f"a melody is one audio [C, N], got a batch of {x.shape[0]}")
        x = resample(match_channels(x, 1), int(sample_rate), self.sample_rate)[0, 0]
        return x[: self.max_samples].float().cpu()

    def used(self, wav: torch.Tensor | np.ndarray, sample_rate: int) -> torch.Tensor:
        """The part of a melody [.., C, N] (as [B, C, N']) the chroma reads: its longest, and 1 s past it so that
        the resampler's edge stays out (the daemon decodes melody files only this far: MELODY_USED_SECONDS)."""
        keep = int(np.ceil((self.max_samples / self.sample_rate + 1.0) * sample_rate))
        return as_batch(wav)[..., :keep]

    def onehot(self, wav: torch.Tensor) -> torch.Tensor:
        """Mono audio [N] at `sample_rate` -> [T, bins] float32 one-hot, T = 1 + N // hop (N after padding)."""
        n = wav.shape[-1]
        if n < self.n_fft:
            pad = self.n_fft - n
            wav = torch.nn.functional.pad(wav, (pad // 2, pad // 2 + pad % 2))
        spec = torch.stft(wav[None], self.n_fft, self.hop, self.n_fft, self.window, center=True, pad_mode="reflect",
                          normalized=False, onesided=True, return_complex=True)  # [1, F, T]
        spec = (spec / self.window.pow(2.0).sum().sqrt()).abs().pow(2.0)
        raw = torch.einsum("cf,...ft->...ct", self.filters, spec)  # [1, bins, T]
        norm = torch.nn.functional.normalize(raw, p=float("inf"), dim=-2, eps=1e-6).transpose(1, 2)  # [1, T, bins]
        out = torch.zeros_like(norm)
        out.scatter_(-1, norm.argmax(-1, keepdim=True), 1.0)
        return out[0]

    def __call__(self, wav: torch.Tensor | np.ndarray, sample_rate: int) -> torch.Tensor:
        """Any melody audio -> one-hot chroma [T, bins]."""
        return self.onehot(self.mono(wav, sample_rate))


def pitch_classes(chroma: torch.Tensor) -> list[int]:
    """A one-hot chroma [T, bins] -> its pitch class per frame (the compact form a take's sidecar keeps)."""
    return [int(i) for i in chroma.argmax(-1).tolist()]


def from_pitch_classes(classes: list[int], bins: int = 12) -> torch.Tensor:
    """The inverse of `pitch_classes`: [T] ints -> one-hot [T, bins]."""
    idx = torch.as_tensor(classes, dtype=torch.long)
    if idx.dim() != 1 or idx.numel() == 0 or idx.min() < 0 or idx.max() >= bins:
        raise LoopgenError(f"a melody's pitch classes are 1 or more whole numbers 0..{bins - 1}")
    return torch.nn.functional.one_hot(idx, bins).float()
