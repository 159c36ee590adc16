"""Before any GPU figure: do the CUDA-graph paths give what the eager ones give, on this GPU, and how much faster?

    python benchmarks/graphs_check.py --device cuda [--models random:tiny,random:small] [--dtypes float32,bfloat16]
    python benchmarks/graphs_check.py --emulate     # the same checks on the CPU, graphs replayed by
                                                    # tests/models/graph_replay.py (what the test suite proves)

Per model and dtype, two rows:
- engine: three voices joining at different steps, every sampling parameter and the prompts changed while they
  play, 120 steps; the fixed-shape step run eagerly against it replayed as a CUDA graph: the codes must be equal
  token for token (the same kernels on the same data). ms/step of the default eager step and of the replays
  (synchronised, from step 8).
- bank: 8 streams decoded through one DecoderBank, two of them pausing on some frames; eager against the push
  replayed. PCM max difference (0 expected) and ms per push.
A mismatch prints the first step where they part, and the script exits 1.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def script(m, graphs, steps: int = 120) -> tuple[list, float]:
    """The engine's live script. -> (codes per step, seconds per step after the first 8)."""
    from loopgen.models.sampling import SamplingParams

    eng = m.engine(voices=3, rows=8, positions=steps + 40 + (300 if m.prefixed else 0))
    eng._graphs = graphs(m) if graphs else None
    base = SamplingParams(temperature=1.0, top_k=250, top_p=0.0, cfg_coef=3.0)
    joins = {0: ("warm keys", 1), 7: ("dub techno", 2), 19: ("glitchy ambient", 3)}
    changes = {30: (0, base.replace(temperature=0.6)), 40: (1, base.replace(top_k=5, top_p=0.8)),
               50: (2, base.replace(cfg_coef=1.0, top_k=0, top_p=0.9)), 90: (0, base.replace(temperature=0.0))}
    voices, out, t0 = [], [], 0.0
    for step in range(steps):
        if step in joins:
            text, seed = joins[step]
            voices.append(eng.add([(text, 1.0)], base, seed, True, steps + 30))
            eng.start_window(voices[-1], None, steps + 20)
        if step in changes:
            eng.set_params(voices[changes[step][0]], changes[step][1])
        if step == 60:
            eng.set_prompts(voices[0], [("rain on a tin roof", 0.5), ("warm keys", 0.5)])
        if step == 80:
            eng.set_prompts(voices[1], [("solo cello", 1.0)])
        for v in voices:
            eng.prime(v)
        if step == 8:
            sync(m)
            t0 = time.perf_counter()
        out.append(eng.step()[: len(voices)].clone())
    sync(m)
    return [o.cpu() for o in out], (time.perf_counter() - t0) / (steps - 8)


def bank_run(m, graphs, frames: int = 150, n: int = 8) -> tuple[list, float]:
    """8 streams of `frames` frames through one bank, two pausing now and then. -> (PCM per stream, seconds per
    push)."""
    import torch

    from loopgen.streaming.bank import DecoderBank

    bank = DecoderBank(m, n)
    bank._graphs = graphs(m) if graphs else None
    codes = torch.randint(0, 2048, (n, m.num_codebooks, frames), generator=torch.Generator().manual_seed(1))
    codes = codes.to(m.device)
    streams = [bank.open() for _ in range(n)]
    out: list[list] = [[] for _ in range(n)]
    pos = [0] * n
    sync(m)
    t0 = time.perf_counter()
    t = 0
    while min(pos) < frames:
        items = [(j, s) for j, s in enumerate(streams) if pos[j] < frames and not (j < 2 and t % 7 in (3, 4))]
        pcm = bank.push([(s, codes[j : j + 1, :, pos[j] : pos[j] + 1]) for j, s in items])
        for (j, _), x in zip(items, pcm):
            out[j].append(x)
            pos[j] += 1
        t += 1
    sync(m)
    took = (time.perf_counter() - t0) / t
    return [torch.cat(x + [s.flush()], -1).float().cpu() for x, s in zip(out, streams)], took


class Direct:
    """The fixed-shape step a graph captures, run eagerly every time (what a replay must equal bit for bit)."""

    def run(self, key, step):
        return step()


def sync(m) -> None:
    import torch

    if m.device.type == "cuda":
        torch.cuda.synchronize()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--models", default="random:tiny,random:small")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--emulate", action="store_true", help="CPU: replay with tests/models/graph_replay.py")
    a = ap.parse_args()
    import torch

    from loopgen import load_model

    if a.emulate:
        from tests.models.graph_replay import ReplayGraphs

        device, dtypes, graphs = "cpu", ["float32"], (lambda m: ReplayGraphs())
        torch.set_num_threads(2)
    else:
        if not torch.cuda.is_available():
            print("graphs_check needs a CUDA device (or --emulate on the CPU)", file=sys.stderr)
            return 2
        from loopgen.models.graphs import CudaGraphs

        device, dtypes, graphs = a.device, a.dtypes.split(","), (lambda m: CudaGraphs(m.device))
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu (emulated graphs)"
    print(f"{name}, torch {torch.__version__}")
    print("| model | dtype | path | equal | eager ms | graphs ms | speed-up |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    for model in a.models.split(","):
        for dtype in dtypes:
            m = load_model(model, device=device, dtype=dtype)
            m.lm.unpack()  # the F.linear path (what CUDA runs)
            _, te = script(m, None)  # the default eager step (only the positions in use)
            eager, _ = script(m, lambda m: Direct())  # the captured step's own code, run eagerly: the same kernels
            replayed, tg = script(m, graphs)
            same = [torch.equal(x, y) for x, y in zip(eager, replayed)]
            ok &= all(same)
            where = "yes" if all(same) else f"no (from step {same.index(False)})"
            print(f"| {model} | {dtype} | engine, 3 voices | {where} | {te * 1e3:.2f} | {tg * 1e3:.2f} | "
                  f"{te / tg:.2f}x |")
            pe, be = bank_run(m, None)
            pg, bg = bank_run(m, graphs)
            diff = max((x - y).abs().max().item() for x, y in zip(pe, pg))
            ok &= diff == 0.0
            print(f"| {model} | {dtype} | bank, 8 streams | {'yes' if diff == 0 else f'no ({diff:.1e})'} | "
                  f"{be * 1e3:.2f} | {bg * 1e3:.2f} | {be / bg:.2f}x |")
            del m
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
