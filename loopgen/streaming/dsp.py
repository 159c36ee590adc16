"""The audio arithmetic of takes and playback, in one place: equal-power fades, the loop wrap, the continuation
splice and the stop fade (over one playback block), with the lengths they use. Takes' tensors are [C, n] (time
last); playback's numpy blocks (`fade_out`, `crossfade`, the mixer's) are [n, C] (time first), as the device takes
them."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import LoopgenError

WRAP_SECONDS = 0.1  # loop wrap crossfade (at most a quarter of the loop)
SPLICE_SECONDS = 0.01  # original -> codec rendering, where a continuation takes over


def wrap_length(length: int, sample_rate: int) -> int:
    """Crossfade samples of a loop of `length` samples: the overrun generated past its end."""
    return min(int(WRAP_SECONDS * sample_rate), length // 4)


def splice_length(sample_rate: int) -> int:
    return int(SPLICE_SECONDS * sample_rate)


def equal_power(n: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(fade_in, fade_out) gains of length n with fade_in^2 + fade_out^2 = 1."""
    t = (torch.arange(n, device=device, dtype=torch.float32) + 0.5) / n
    return torch.sin(t * math.pi / 2), torch.cos(t * math.pi / 2)


def equal_power_np(n: int) -> tuple[np.ndarray, np.ndarray]:
    fin, fout = equal_power(n)
    return fin.numpy(), fout.numpy()


def wrap(audio: torch.Tensor, length: int, fade: int) -> torch.Tensor:
    """audio [C, >= length + fade] -> [C, length]: the overrun after `length` crossfaded into the head, so the sample
    after the last one is the music's natural continuation."""
    out = audio[:, :length].clone()
    if fade > 0:
        fin, fout = equal_power(fade, audio.device)
        out[:, :fade] = audio[:, :fade] * fin + audio[:, length : length + fade] * fout
    return out


def splice(original: torch.Tensor, rendered: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """original [C, n]; rendered [C, f]: the codec's rendering of the original's last f samples; new [C, m]: what
    follows sample n. -> [C, n + m]: the original sample for sample, its last f samples faded into the rendering."""
    f = rendered.shape[-1]
    if f == 0:
        return torch.cat([original, new], dim=-1)
    fin, fout = equal_power(f, new.device)
    n = original.shape[-1]
    mid = original[:, n - f :] * fout + rendered * fin
    return torch.cat([original[:, : n - f], mid, new], dim=-1)


def fade_out(block: np.ndarray) -> np.ndarray:
    """block [n, C] -> the same block faded to silence (equal-power curve, ends at 0)."""
    n = block.shape[0]
    gain = np.cos((np.arange(n, dtype=np.float32) + 1) / n * (np.pi / 2)).astype(np.float32)
    return block * gain[:, None]


def crossfade(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Equal-power crossfade of two [n, C] blocks, old out and new in."""
    fin, fout = equal_power_np(old.shape[0])
    return old * fout[:, None] + new * fin[:, None]


# -- output for the DAW --------------------------------------------------------------------------------------------


def loudness_meter():
    """pyloudnorm, or a clear error saying how to get it (check before the work, not after)."""
    try:
        import pyloudnorm
    except ImportError as e:
            raise LoopgenError("loudness normalisation needs pyloudnorm: pip install 'loopgen[loudness]'") from e
    return pyloudnorm


def for_output(audio: torch.Tensor, rate: int, out_rate: int | None = None, loudness: float | None = None,
               loop_length: int | None = None, report: dict | None = None) -> np.ndarray:
    """A take [C, N] at `rate` -> float32 [N', C] for a file: resampled with soxr to `out_rate`, and normalised to
    `loudness` LUFS (ITU-R BS.1770 via pyloudnorm; peaks kept under full scale). A loop is resampled circularly to
    exactly `loop_length` samples at the new rate, so it still wraps without a seam and still lasts its bars.
    report: a dict that gets `loudness_reached` (LUFS) when the peak cap kept the gain below the target."""
    x = np.ascontiguousarray(audio.detach().cpu().numpy().T, dtype=np.float32)  # [N, C]
    if out_rate and out_rate != rate and x.shape[0]:
        import soxr

        if loop_length is None:
            x = soxr.resample(x, rate, out_rate, quality="VHQ")
        else:  # wrap around: the filter sees the loop's own tail before its head and its head after its tail
            pad = min(x.shape[0], rate // 10)
            y = soxr.resample(np.concatenate([x[-pad:], x, x[:pad]]), rate, out_rate, quality="VHQ")
            start = int(round(pad * out_rate / rate))
            x = np.resize(y[start:], (loop_length, x.shape[1])) if y.shape[0] - start < loop_length else \
                y[start : start + loop_length]
        x = np.ascontiguousarray(x, dtype=np.float32)
    if loudness is not None and x.shape[0]:
        pyloudnorm = loudness_meter()
        r = out_rate or rate
        if x.shape[0] >= int(0.4 * r):  # BS.1770 gating needs at least one 400 ms block
            measured = pyloudnorm.Meter(r).integrated_loudness(x.astype(np.float64))
            if np.isfinite(measured):
                x = (x * np.float32(10 ** ((loudness - measured) / 20))).astype(np.float32)
        peak = float(np.abs(x).max())
        if peak > 0.999:
            x = (x * np.float32(0.999 / peak)).astype(np.float32)
            if report is not None and x.shape[0] >= int(0.4 * r):  # the target missed: by how much, said
                report["loudness_reached"] = round(float(loudness + 20 * np.log10(0.999 / peak)), 2)
    return x
