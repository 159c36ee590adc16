"""The `loopgen` command. User errors print one line to stderr and exit 2, never a traceback."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import LoopgenError

DEFAULT_MODEL = "facebook/musicgen-small"


def read_audio(path: str) -> tuple["object", int]:
    """-> (float32 array [C, N], sample_rate); clear errors for missing, unreadable or empty files."""
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise LoopgenError(f"cannot read audio file {path}: no such file")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError with the codec's message
        raise LoopgenError(f"cannot read audio file {path}: {e}") from e
    if data.shape[0] == 0:
        raise LoopgenError(f"audio file {path} is empty")
    return data.T.copy(), int(rate)


def write_audio(path: str, audio, rate: int) -> None:
    """audio: [C, N] float -> a 32-bit float WAV (or whatever the suffix says soundfile writes)."""
    import soundfile as sf

    out = Path(path)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    try:
        sf.write(str(out), audio.T, rate, subtype="FLOAT" if out.suffix.lower() == ".wav" else None)
    except Exception as e:
        raise LoopgenError(f"cannot write {path}: {e}") from e


def cmd_render(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .models import load_model

    prompt_audio = rate = None
    if args.continue_from:
        prompt_audio, rate = read_audio(args.continue_from)
    if not args.seconds > 0:
        raise LoopgenError(f"--seconds must be > 0, got {args.seconds}")
    print(f"loading {args.model} ...", file=sys.stderr)
    m = load_model(args.model, device=args.device, dtype=args.dtype)
    bar = tqdm(total=None, unit="step", desc="generating", file=sys.stderr, dynamic_ncols=True)
    t0 = time.perf_counter()

    def progress(info) -> None:
        if bar.total is None:
            bar.reset(total=info.total)
        bar.update(1)
        elapsed = time.perf_counter() - t0
        audio_s = info.step / m.frame_rate
        bar.set_postfix_str(f"{audio_s:.1f}s audio, rtf {audio_s / elapsed:.2f}x")

    try:
        g = m.generate(
            [args.prompt], seconds=args.seconds, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
            cfg_coef=args.cfg, seed=args.seed, prompt_audio=prompt_audio, prompt_sample_rate=rate, progress=progress,
        )
    finally:
        bar.close()
    write_audio(args.output, g.audio[0].cpu().numpy(), g.sample_rate)
    secs = g.audio.shape[-1] / g.sample_rate
    print(f"wrote {args.output}: {secs:.2f} s at {g.sample_rate} Hz, {g.audio.shape[1]} channel(s)", file=sys.stderr)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .models.loading import KNOWN_MODELS, cached_models
    from .models.random_models import CONFIGS

    cached = cached_models()
    print(f"{'model':42} {'cached':7} about")
    for repo, about in KNOWN_MODELS.items():
        print(f"{repo:42} {'yes' if repo in cached else 'no':7} {about}")
    for kind in CONFIGS:
        print(f"{'random:' + kind:42} {'-':7} seeded random weights, runs offline")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loopgen", description="MusicGen as a live instrument.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("render", help="generate audio from a text prompt into a WAV file")
    r.add_argument("prompt", help="text prompt, e.g. 'lo-fi beat, 90 bpm'")
    r.add_argument("-o", "--output", required=True, help="output WAV path")
    r.add_argument("--seconds", type=float, default=8.0, help="seconds of new audio (default 8)")
    r.add_argument("--model", default=DEFAULT_MODEL, help=f"hub id, folder or random:tiny|small (default {DEFAULT_MODEL})")
    r.add_argument("--continue", dest="continue_from", metavar="IN.WAV", help="continue this audio file")
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--temperature", type=float, default=1.0)
    r.add_argument("--top-k", type=int, default=250)
    r.add_argument("--top-p", type=float, default=0.0)
    r.add_argument("--cfg", type=float, default=3.0, help="classifier-free guidance coefficient (default 3)")
    r.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    r.add_argument("--dtype", default="auto", help="auto, float32, float16 or bfloat16")
    r.set_defaults(func=cmd_render)

    m = sub.add_parser("models", help="list known models and which are in the local cache")
    m.set_defaults(func=cmd_models)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LoopgenError as e:
        print(f"loopgen: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("loopgen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
