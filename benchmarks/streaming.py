"""Streaming against the transformers streamer method, on the musicgen-small architecture (random weights).

    python benchmarks/streaming.py [--seconds 30] [--play-steps 50] [--threads 2] [--device cpu] [--streams 8]
        [--cuda-graphs]

(a) decoding `seconds` of codes in 1-frame chunks with our IncrementalDecoder, against one offline decode;
(b) the same codes through the streamer method people use with transformers (every `play_steps` frames, decode the
    whole history with transformers' EncodecModel and emit the new part, holding back a stride): total decode time;
(c) time to first audio: request in (text) to first PCM out, ours (Session + IncrementalDecoder) against the
    streamer's first chunk on transformers' generate (the same checkpoint);
(d) `--streams` streams decoded in 1-frame chunks together (a DecoderBank: one decoder call per frame for all) against
    the same streams each through its own IncrementalDecoder, and the largest difference between the two.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._common import set_threads, musicgen_checkpoint  # noqa: E402

PROMPT = "lo-fi hip hop beat with warm keys, 90 bpm"


class _Stop(Exception):
    pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--play-steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--cuda-graphs", action="store_true", help="(d): the bank's push replayed as a CUDA graph")
    ap.add_argument("--checkpoint", default=str(Path(tempfile.gettempdir()) / "loopgen-bench-small"))
    a = ap.parse_args()
    set_threads(a.threads)
    import torch
    from transformers import MusicgenForConditionalGeneration
    from transformers import LogitsProcessor, LogitsProcessorList

    import loopgen

    from loopgen.streaming.bank import DecoderBank

    def now() -> float:
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter()

    folder = musicgen_checkpoint(Path(a.checkpoint))
    m = loopgen.load_model(str(folder), device=a.device)
    ref = MusicgenForConditionalGeneration.from_pretrained(folder).to(a.device).eval()
    frames = int(a.seconds * m.frame_rate)
    codes = torch.randint(0, 2048, (1, 4, frames), generator=torch.Generator().manual_seed(0)).to(a.device)

    # (a) incremental vs offline, our codec
    m.decode(codes[..., :50])  # warm-up (kernels, lazily built step weights)
    t = now()
    offline = m.decode(codes)
    t_offline = now() - t
    dec = loopgen.IncrementalDecoder(m)
    t = now()
    parts = [dec.push(codes[..., i : i + 1]) for i in range(frames)] + [dec.flush()]
    t_stream = now() - t
    err = (torch.cat(parts, -1) - offline).abs().max().item()

    # (d) many streams: one bank against one decoder each (a few seconds each: the per-frame cost is what counts)
    n, span = a.streams, min(frames, 250)
    many = torch.randint(0, 2048, (n, 4, span), generator=torch.Generator().manual_seed(1)).to(a.device)
    bank = DecoderBank(m, n, graphs=a.cuda_graphs)
    streams = [bank.open() for _ in range(n)]
    t = now()
    together = [[] for _ in range(n)]
    for i in range(span):
        for j, pcm in enumerate(bank.push([(s, many[j : j + 1, :, i : i + 1]) for j, s in enumerate(streams)])):
            together[j].append(pcm)
    together = [torch.cat(x + [s.flush()], -1) for x, s in zip(together, streams)]
    t_bank = now() - t
    decs = [loopgen.IncrementalDecoder(m) for _ in range(n)]
    t = now()
    alone = [[d.push(many[j : j + 1, :, i : i + 1]) for i in range(span)] for j, d in enumerate(decs)]
    alone = [torch.cat(x + [d.flush()], -1) for x, d in zip(alone, decs)]
    t_alone = now() - t
    err_bank = max((x - y).abs().max().item() for x, y in zip(together, alone))

    # (b) the streamer method: re-decode the whole history every play_steps frames with transformers' codec
    stride = a.play_steps // 6 * m.cfg.audio.hop_length  # the stride the MusicGen streamer examples hold back
    t = now()
    emitted = 0
    with torch.no_grad():
        for end in list(range(a.play_steps, frames, a.play_steps)) + [frames]:
            audio = ref.audio_encoder.decode(codes[None, :, :, :end], [None]).audio_values
            upto = audio.shape[-1] - (stride if end < frames else 0)
            emitted = max(emitted, upto)
    t_restream = now() - t

    # (c) time to first audio
    def ours_first() -> float:
        t0 = now()
        next(iter(loopgen.stream_audio(m, [PROMPT], None, seed=0)))
        return now() - t0

    class FirstChunk(LogitsProcessor):
        """The streamer method's first emission: once play_steps tokens are out, decode them and hand audio out.
        (transformers 5's MusicGen.generate does not call a streamer per step, so this hooks the same moment.)"""

        def __init__(self):
            self.t_first: float | None = None

        def __call__(self, input_ids, scores):
            if input_ids.shape[-1] - 1 == a.play_steps:  # column 0 is the start token
                seq = input_ids.view(-1, 4, input_ids.shape[-1])[0, :, 1:]  # [K, steps]
                n = seq.shape[-1] - 3
                frames_so_far = torch.stack([seq[k, k : k + n] for k in range(4)])  # delay undone
                ref.audio_encoder.decode(frames_so_far[None, None], [None])
                self.t_first = now()
                raise _Stop
            return scores

    ids, mask = m.tokenizer([PROMPT], a.device)

    def theirs_first() -> float:
        s = FirstChunk()
        t0 = now()
        try:
            with torch.no_grad():
                ref.generate(input_ids=ids, attention_mask=mask, do_sample=True, guidance_scale=3.0,
                             max_new_tokens=a.play_steps + 10, logits_processor=LogitsProcessorList([s]))
        except _Stop:
            pass
        return s.t_first - t0

    ours_first(), theirs_first()  # warm-up
    t_ours = min(ours_first() for _ in range(3))
    t_theirs = min(theirs_first() for _ in range(2))

    print(f"musicgen-small architecture, {a.device} LM {str(m.dtype)[6:]}, {a.threads} threads, {a.seconds:g} s of "
          f"codes, play_steps {a.play_steps}")
    print("| measurement | loopgen | reference | ratio (goal) |")
    print("|---|---|---|---|")
    print(f"| (a) decode {a.seconds:g} s in 1-frame chunks vs one offline decode (s) | {t_stream:.2f} | {t_offline:.2f} "
          f"| {t_stream / t_offline:.2f}x (<= 1.5x); max abs diff {err:.1e} |")
    print(f"| (b) total decode work, ours streamed vs transformers streamer method (s) | {t_stream:.2f} | {t_restream:.2f} "
          f"| {t_restream / t_stream:.1f}x less (>= 10x) |")
    print(f"| (c) time to first audio: text in to first PCM out (s) | {t_ours:.3f} | {t_theirs:.3f} "
          f"| {t_theirs / t_ours:.1f}x sooner (>= 5x) |")
    print(f"| (d) {n} streams x {span} frames, 1-frame chunks: one bank vs a decoder each (s) | {t_bank:.2f} "
          f"| {t_alone:.2f} | {t_alone / t_bank:.2f}x faster; max abs diff {err_bank:.1e} |")


if __name__ == "__main__":
    main()
