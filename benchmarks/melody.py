"""What a melody costs in a live stream, on seeded random weights of musicgen-melody's architecture (random:melody:
T5-base, a 48-layer d=1536 LM without cross-attention, a 235-frame chroma prefix).

    python benchmarks/melody.py [--model random:melody] [--context-seconds 12] [--steps 20] [--threads 2]
                                [--device cpu]

Measured in one run:
- the chroma of 30 s of 44.1 kHz stereo audio (resampling, STFT, filter bank);
- a re-prime, what a live melody or prompt change costs before the next frame: the prefix (chroma + text) and the
  stream's own tail (`--context-seconds`, 12 s by default: a 30 s window with audiocraft's 18 s stride) fed to the
  LM for both guidance rows;
- per-step time with the prefix against the same model's step with no prefix (offset 0), same batch (guided, 2 rows).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="random:melody")
    ap.add_argument("--context-seconds", type=float, default=12.0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()

    import numpy as np
    import torch

    from loopgen import load_model
    from loopgen.models import set_threads
    from loopgen.params import SamplingParams

    set_threads(a.threads)
    m = load_model(a.model, device=a.device)
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)
    sr = 44100
    riff = (0.3 * np.random.default_rng(0).standard_normal((2, 30 * sr))).astype(np.float32)
    m.melody_chroma(riff[:, :sr], sr)  # warm up
    t0 = time.perf_counter()
    chroma, how = m.melody_chroma(riff, sr)
    t_chroma = time.perf_counter() - t0

    ctx = round(a.context_seconds * m.frame_rate)
    prompt = torch.randint(0, 2048, (m.num_codebooks, ctx), device=m.device)
    params = SamplingParams(cfg_coef=3.0)
    rows = {}
    for name, melody in (("melody", chroma), ("no prefix", None)):
        eng = m.engine(1, 2, ctx + 200)
        t0 = time.perf_counter()
        v = eng.add([("lo-fi hip hop beat with warm keys", 1.0)], params, 0, True, ctx + 200, melody)
        if name == "no prefix":  # the same LM stepped with nothing before column 0: what the prefix adds
            eng.v.offset[v.slot] = 0
            v.offset = 0
        eng.start_window(v, prompt, ctx + 100)
        eng.prime(v)
        sync()
        t_prime = time.perf_counter() - t0
        eng.step()  # warm-up
        sync()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            eng.step()
        sync()
        rows[name] = (t_prime, (time.perf_counter() - t0) / a.steps, v.offset)

    dev = torch.cuda.get_device_name() if a.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"{a.model} on {dev}; chroma from {how}")
    print(f"| measure | value |\n|---|---|")
    print(f"| chroma of 30 s, 44.1 kHz stereo | {t_chroma * 1000:.0f} ms |")
    t_prime, step_m, prefix = rows["melody"]
    print(f"| re-prime: prefix ({prefix} positions) + {a.context_seconds:g} s context, 2 rows | {t_prime:.2f} s |")
    print(f"| step with the prefix / without | {step_m * 1000:.1f} ms / {rows['no prefix'][1] * 1000:.1f} ms "
          f"({step_m / rows['no prefix'][1]:.2f}x) |")


if __name__ == "__main__":
    main()
