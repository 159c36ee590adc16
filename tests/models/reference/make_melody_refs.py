"""Build the committed chroma references with transformers' MusicgenMelodyFeatureExtractor (it needs torchaudio's
Python parts: in a venv with transformers, `pip install --no-deps torchaudio==2.11.0` and delete its lib/*.so).

    python tests/models/reference/make_melody_refs.py   # writes tests/models/reference/melody/chroma.npz

Each signal is given to the extractor as loopgen treats a melody: channels averaged to mono first, at its own rate
(the extractor resamples with torchaudio; loopgen with soxr, so the resampled signal's reference is compared by
agreement, the others exactly)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from melody_signals import signals  # noqa: E402


def main() -> None:
    from transformers import MusicgenMelodyFeatureExtractor

    fe = MusicgenMelodyFeatureExtractor()
    out = {}
    for name, (wav, sr) in signals().items():
        mono = torch.from_numpy(wav.mean(0))
        feats = fe(mono, sampling_rate=sr, return_tensors="pt")["input_features"][0]  # [T, 12] one-hot
        out[name] = feats.argmax(-1).numpy().astype(np.int8)
        print(name, tuple(feats.shape))
    dst = Path(__file__).parent / "melody" / "chroma.npz"
    np.savez_compressed(dst, **out)
    print("wrote", dst)


if __name__ == "__main__":
    main()
