"""How exact the 32 kHz EnCodec decoder stays in float16 and bfloat16, against float32 (and what it costs).

    python benchmarks/codec_dtype.py [--model random:small] [--device cpu] [--seconds 5] [--threads 2]

Decodes the same random codes offline and incrementally (1-frame chunks) with the codec in each dtype and reports the
error against the float32 offline decode: max |diff|, and the signal-to-error ratio in dB (16-bit PCM's own floor is
about 96 dB). loopgen keeps the codec in float32 (`load_model` casts only the LM); this is the measurement behind that.
On the CPU also an int8 model's codec, whose streaming decode runs its step matrices in int8.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._common import set_threads  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="random:small")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    set_threads(a.threads)
    import torch

    import loopgen

    m = loopgen.load_model(a.model, device=a.device, dtype="float32")
    frames = int(a.seconds * m.frame_rate)
    codes = torch.randint(0, 2048, (1, m.num_codebooks, frames), generator=torch.Generator().manual_seed(0))
    codes = codes.to(m.device)

    def now() -> float:
        if m.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    def run(model=m) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        model.decode(codes[..., :20])  # warm-up
        t = now()
        offline = model.decode(codes).double()
        t_off = now() - t
        dec = loopgen.IncrementalDecoder(model)
        t = now()
        parts = [dec.push(codes[..., i : i + 1]) for i in range(frames)] + [dec.flush()]
        t_stream = now() - t
        return offline, torch.cat(parts, -1).double(), t_off, t_stream

    ref, _, t_ref, t_ref_stream = run()
    power = ref.pow(2).mean().item()
    print(f"{a.model} codec, {m.device}, {a.seconds:g} s of random codes, {a.threads} threads")
    print("| codec dtype | offline: max abs diff, SNR (dB) | streamed: max abs diff, SNR (dB) "
          "| time offline / streamed (s) |")
    print("|---|---|---|---|")
    print(f"| float32 | reference | | {t_ref:.2f} / {t_ref_stream:.2f} |")
    for dt in (torch.float16, torch.bfloat16):
        m.codec.to(dt)
        try:
            offline, streamed, t_off, t_stream = run()
        except (RuntimeError, NotImplementedError) as e:  # a device without that dtype's kernels
            print(f"| {str(dt)[6:]} | not run: {str(e).splitlines()[0][:60]} | | |")
            continue
        finally:
            m.codec.float()
        cells = []
        for x in (offline, streamed):
            err = (x - ref).pow(2).mean().item()
            cells.append(f"{(x - ref).abs().max().item():.1e}, {10 * math.log10(power / max(err, 1e-30)):.1f}")
        print(f"| {str(dt)[6:]} | {cells[0]} | {cells[1]} | {t_off:.2f} / {t_stream:.2f} |")
    if m.device.type == "cpu":  # an int8 model streams its codec through int8 step matrices (offline: float32)
        _, streamed, t_off, t_stream = run(loopgen.load_model(a.model, device="cpu", dtype="int8"))
        err = (streamed - ref).pow(2).mean().item()
        print(f"| int8 model (streamed: int8 step matrices) | float32 | {(streamed - ref).abs().max().item():.1e}, "
              f"{10 * math.log10(power / max(err, 1e-30)):.1f} | {t_off:.2f} / {t_stream:.2f} |")


if __name__ == "__main__":
    main()
