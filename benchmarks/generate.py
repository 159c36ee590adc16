"""Steps/s of our MusicGen against transformers' generate on the same musicgen-small-architecture checkpoint
(random weights, written by transformers' save_pretrained), and peak RSS while loading each.

    python benchmarks/generate.py [--steps 60] [--rounds 3] [--threads 2] [--device cpu] [--dtype float32] [--compile]
        [--size small|medium|large] [--cuda-graphs]

Speed: both models live in one process and take turns, `rounds` times, generating `steps` steps each with guidance
3.0, top_k 250, batch 1; the table gives the median round. Steady-state steps/s runs from the first sampled token to
the last, so prefill and the codec decode that transformers' generate always runs are excluded on both sides.
Memory: each loader runs alone in a fresh subprocess; load peak RSS is the peak resident memory from just before
loading until every weight has been read once (memory-mapped weights count once resident), minus what was resident
before loading.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._common import rss_kib, set_threads, musicgen_checkpoint, weights_bytes  # noqa: E402

PROMPT = "lo-fi hip hop beat with warm keys, 90 bpm"
DTYPES = ("float32", "float16", "bfloat16", "int8")  # int8: loopgen only (CPU); transformers stays float32


def load_ours(folder: str, device: str, dtype: str):
    from loopgen import load_model

    return load_model(folder, device=device, dtype=dtype)


def load_theirs(folder: str, device: str, dtype: str):
    import torch
    from transformers import MusicgenForConditionalGeneration

    dt = getattr(torch, "float32" if dtype == "int8" else dtype)
    return MusicgenForConditionalGeneration.from_pretrained(folder, dtype=dt).to(device).eval()


def measure_load(who: str, folder: str, device: str, dtype: str) -> dict:
    import torch

    base = rss_kib()
    t = time.perf_counter()
    m = (load_ours if who == "ours" else load_theirs)(folder, device, dtype)
    load_s = time.perf_counter() - t
    with torch.no_grad():
        for p in m.parameters():  # make memory-mapped weights resident (packed oneDNN weights always are)
            if not p.is_mkldnn:
                p.float().sum().item()
    return {"load_s": load_s, "peak_mib": (rss_kib("VmHWM") - base) / 1024}


class Timer:
    def __init__(self, device: str):
        self.device = device
        self.stamps: list[float] = []

    def __call__(self, *_a):
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        self.stamps.append(time.perf_counter())

    def rate(self) -> float:
        s = self.stamps
        return (len(s) - 1) / (s[-1] - s[0])


def speed(folder: str, steps: int, rounds: int, device: str, dtype: str, compile: bool = False, graphs: bool = False,
          ref_dtype: str | None = None):
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    ours, theirs = load_ours(folder, device, dtype), load_theirs(folder, device, ref_dtype or dtype)
    ids, mask = ours.tokenizer([PROMPT], device)
    frames = steps - max(ours.cfg.lm.delays)

    class Stamp(LogitsProcessor):
        def __init__(self, timer: Timer):
            self.timer = timer

        def __call__(self, input_ids, scores):
            self.timer()
            return scores

    compiled = load_ours(folder, device, dtype) if compile or graphs else None
    if dtype == "int8":  # the extra column: loopgen in float32, to state int8's gain over it in the same run
        compiled = load_ours(folder, device, "float32")
    extra = None if dtype == "int8" else (True if compile else None)  # the extra column's compile setting

    def run_ours(m=ours, comp=None, g: bool = False) -> float:
        timer = Timer(device)
        m.generate([PROMPT], seconds=frames / m.frame_rate, cfg_coef=3.0, top_k=250, seed=0, progress=timer,
                   compile=comp, graphs=g)
        return timer.rate()

    def run_theirs() -> float:
        timer = Timer(device)
        with torch.no_grad():
            theirs.generate(input_ids=ids, attention_mask=mask, do_sample=True, top_k=250, guidance_scale=3.0,
                            max_new_tokens=steps, logits_processor=LogitsProcessorList([Stamp(timer)]))
        return timer.rate()

    run_ours(), run_theirs()  # warm-up
    if compiled is not None:
        t = time.perf_counter()
        run_ours(compiled, extra, graphs)  # the compile and capture themselves (or the float32 warm-up)
        print(f"first generation of the extra column (compile, capture): {time.perf_counter() - t:.1f} s", flush=True)
    a, b, c = [], [], []
    for _ in range(rounds):
        a.append(run_ours())
        b.append(run_theirs())
        if compiled is not None:
            c.append(run_ours(compiled, extra, graphs))
    return a, b, c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=DTYPES)
    ap.add_argument("--checkpoint", default=str(Path(tempfile.gettempdir()) / "loopgen-bench-small"))
    ap.add_argument("--child", choices=["ours", "transformers"])
    ap.add_argument("--compile", action="store_true", help="also time the torch.compile'd engine step")
    ap.add_argument("--cuda-graphs", action="store_true", help="also time the step replayed as a CUDA graph")
    ap.add_argument("--size", default="small", choices=["small", "medium", "large"])
    ap.add_argument("--ref-dtype", default=None, choices=DTYPES[:3],
                    help="transformers' dtype when it differs (issue 9: loopgen bfloat16 against transformers float16)")
    a = ap.parse_args()
    set_threads(a.threads)
    if a.child:
        print(json.dumps(measure_load(a.child, a.checkpoint, a.device, a.dtype)))
        return
    folder = musicgen_checkpoint(Path(a.checkpoint + ("" if a.size == "small" else "-" + a.size)), a.size)
    size_mib = weights_bytes(folder) / 2**20
    mem = {}
    for who in ("ours", "transformers"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", who, "--checkpoint", str(folder), "--size", a.size,
             "--threads", str(a.threads),
             "--device", a.device, "--dtype", a.dtype],
            check=True, capture_output=True, text=True,
        )
        mem[who] = json.loads(out.stdout.strip().splitlines()[-1])
    ours, theirs, comp = speed(str(folder), a.steps, a.rounds, a.device, a.dtype, a.compile, a.cuda_graphs,
                               a.ref_dtype)
    mo, mt = statistics.median(ours), statistics.median(theirs)
    ref = f" (transformers {a.ref_dtype})" if a.ref_dtype else ""
    print(f"musicgen-{a.size} architecture, {a.device} {a.dtype}{ref}, guidance 3.0, top_k 250, batch 1, "
          f"{a.threads} threads")
    print(f"checkpoint weights: {size_mib:.0f} MiB (float32 on disk); {a.rounds} rounds of {a.steps} steps")
    print("| | loopgen | transformers | loopgen / transformers |")
    print("|---|---|---|---|")
    print(f"| steps/s, median round | {mo:.2f} | {mt:.2f} | {mo / mt:.2f}x |")
    print(f"| steps/s, each round | {', '.join(f'{x:.2f}' for x in ours)} | {', '.join(f'{x:.2f}' for x in theirs)} | "
          f"{', '.join(f'{x / y:.2f}x' for x, y in zip(ours, theirs))} |")
    if comp:
        mc = statistics.median(comp)
        label = ("loopgen float32" if a.dtype == "int8" else
                 " + ".join(x for x, on in (("torch.compile'd step (inductor)", a.compile),
                                            ("CUDA graphs", a.cuda_graphs)) if on))
        print(f"| steps/s, {label}, median | {mc:.2f} | {mt:.2f} | {mc / mt:.2f}x |")
        if a.dtype == "int8":
            print(f"| int8 / float32 (loopgen, same run) | {mo / mc:.2f}x | | |")
    o, t = mem["ours"], mem["transformers"]
    print(f"| load time (s) | {o['load_s']:.1f} | {t['load_s']:.1f} | {o['load_s'] / t['load_s']:.2f}x |")
    print(f"| load peak RSS (MiB) | {o['peak_mib']:.0f} | {t['peak_mib']:.0f} | {o['peak_mib'] / t['peak_mib']:.2f}x |")
    print(f"| load peak RSS / weights size | {o['peak_mib'] / size_mib:.2f} | {t['peak_mib'] / size_mib:.2f} | |")


if __name__ == "__main__":
    main()
