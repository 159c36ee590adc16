"""Time to a clip: MAGNeT against loopgen's MusicGen on the same machine, same run, seeded random weights of the exact
architectures (random:magnet-small = magnet-small-10secs, random:small = musicgen-small).

    python benchmarks/magnet.py [--seconds 10] [--passes N] [--threads 2] [--device cpu] [--rounds 1]

MAGNeT makes a whole segment in sum(decoding_steps) full passes (default 20+10+10+10 = 50) at batch 2 (guidance);
MusicGen makes one frame per step (50 steps a second of audio) at batch 2. With --passes N, MAGNeT is timed over
its first N passes and its time to the clip is that time x 50 / N (stated in the table): on a 2-core CPU one full
pass of the 10 s segment takes seconds. MusicGen is timed over --musicgen-steps steps and scaled the same way.
The codec decode is excluded on both sides (the same codec).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--passes", type=int, default=None, help="time this many MAGNeT passes and scale (default: all)")
    ap.add_argument("--musicgen-steps", type=int, default=100)
    ap.add_argument("--magnet", default="random:magnet-small")
    ap.add_argument("--musicgen", default="random:small")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()

    import torch

    from loopgen import load_model
    from loopgen.models import set_threads
    from loopgen.params import SamplingParams

    set_threads(a.threads)
    mg = load_model(a.magnet, device=a.device)
    mu = load_model(a.musicgen, device=a.device)
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)

    # MAGNeT: one segment of `seconds`, timed pass by pass
    p = mg.options()
    total = sum(p.decoding_steps)
    n = total - 1 if a.passes is None else min(a.passes, total - 1)  # the first pass warms up
    cache = mg.condition(["lo-fi hip hop beat with warm keys, 90 bpm"])
    frames = round(a.seconds * mg.frame_rate)
    d = mg.start(1, frames, None, p, seed=0)
    with torch.inference_mode():
        mg.passes([(d, cache)])  # warm-up pass (not timed)
        sync()
        t0 = time.perf_counter()
        for _ in range(n):
            mg.passes([(d, cache)])
        sync()
    per_pass = (time.perf_counter() - t0) / n
    magnet_s = per_pass * total

    # MusicGen: steps of one guided stream
    steps = min(a.musicgen_steps, frames)
    eng = mu.engine(1, 2, steps + 8)
    v = eng.add([("lo-fi hip hop beat with warm keys, 90 bpm", 1.0)], SamplingParams(), 0, True, steps + 8)
    eng.start_window(v, None, steps + 4)
    eng.prime(v)
    with torch.inference_mode():
        for _ in range(4):
            eng.step()
        sync()
        t0 = time.perf_counter()
        for _ in range(steps - 4):
            eng.step()
        sync()
    per_step = (time.perf_counter() - t0) / (steps - 4)
    musicgen_s = per_step * (frames + max(mu.cfg.lm.delays))

    dev = torch.cuda.get_device_name() if a.device.startswith("cuda") else f"cpu, {torch.get_num_threads()} threads"
    print(f"device: {dev}; clip {a.seconds:g} s ({frames} frames)")
    print("| model | unit timed | per unit | time to the clip | speed vs MusicGen |")
    print("|---|---|---|---|---|")
    print(f"| {a.magnet} | {n} of {total} passes | {per_pass * 1000:.0f} ms | {magnet_s:.1f} s | "
          f"{musicgen_s / magnet_s:.2f}x |")
    print(f"| {a.musicgen} | {steps - 4} steps | {per_step * 1000:.1f} ms | {musicgen_s:.1f} s | 1.00x |")


if __name__ == "__main__":
    main()
