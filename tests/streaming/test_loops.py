"""Loops: exact lengths, seamless wraps, continue / extend / vary."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import loopgen
from loopgen import LoopgenError
from loopgen.streaming.dsp import wrap




def wrap_ok(audio: torch.Tensor) -> None:
    """The step from the last sample to the first is no larger than the loop's own sample-to-sample steps."""
    steps = (audio[:, 1:] - audio[:, :-1]).abs()
    assert (audio[:, 0] - audio[:, -1]).abs().max() <= steps.max()


def test_lengths_exact_for_all_tempi_and_bar_counts():
    for bpm in range(60, 201):
        for bars in range(1, 17):
            n = loopgen.loop_samples(bars, bpm, 4, 32000)
            assert n == round(bars * 4 * 60 / bpm * 32000)
            assert abs(n / 32000 - bars * 4 * 60 / bpm) <= 0.5 / 32000


@pytest.mark.parametrize("bpm,bars,bpb", [(120, 1, 4), (97, 2, 3), (173.5, 1, 7)])
def test_make_loop(tiny, bpm, bars, bpb):
    loop = loopgen.make_loop(tiny, "dub techno", bpm=bpm, bars=bars, beats_per_bar=bpb, seed=0)
    assert loop.audio.shape == (1, loopgen.loop_samples(bars, bpm, bpb, 32000))
    wrap_ok(loop.audio)
    again = loopgen.make_loop(tiny, "dub techno", bpm=bpm, bars=bars, beats_per_bar=bpb, seed=0)
    assert torch.equal(loop.audio, again.audio)


def test_wrap_is_an_equal_power_crossfade_of_the_overrun():
    t = torch.arange(1200, dtype=torch.float32)
    audio = torch.sin(2 * np.pi * t / 97)[None]  # period 97: not a divisor of the loop length
    out = wrap(audio, 1000, 100)
    assert out.shape == (1, 1000)
    assert torch.equal(out[:, 100:], audio[:, 100:1000])
    wrap_ok(out)
    naive = audio[:, :1000]
    assert (naive[:, 0] - naive[:, -1]).abs() > (out[:, 0] - out[:, -1]).abs()  # the naive cut clicks


def test_loop_longer_than_the_window(tiny):
    from loopgen.models.config import MusicgenConfig
    from loopgen.models.musicgen import MusicGen

    short = MusicGen(MusicgenConfig(tiny.cfg.text, tiny.cfg.audio, tiny.cfg.lm, max_seconds=1.0), tiny.tokenizer)
    short.load_state_dict(tiny.state_dict())
    short.use_kernels()
    loop = loopgen.make_loop(short.eval(), "long", bpm=120, bars=2, seed=1)  # 4 s through 1 s windows
    assert loop.audio.shape == (1, 128000)
    wrap_ok(loop.audio)


def test_extend_and_vary(tiny):
    loop = loopgen.make_loop(tiny, "house", bpm=128, bars=1, seed=0)
    n = loop.audio.shape[-1]
    longer = loopgen.extend_loop(tiny, loop, bars=2, seed=1)
    assert longer.bars == 3 and longer.audio.shape[-1] == loopgen.loop_samples(3, 128, 4, 32000)
    fade = int(0.1 * 32000)
    splice = int(0.01 * 32000)
    assert torch.equal(longer.audio[:, fade : n - splice], loop.audio[:, fade : n - splice])  # the bars it had
    wrap_ok(longer.audio)
    steps = (longer.audio[:, 1:] - longer.audio[:, :-1]).abs()
    away = torch.ones_like(steps, dtype=torch.bool)
    away[:, n - splice - 2 : n + 2] = False
    assert steps[:, n - splice - 2 : n + 2].max() <= steps[away].max()  # no click where the new bars begin

    varied = loopgen.vary_loop(tiny, longer, bars=1, seed=2)
    keep = loopgen.loop_samples(2, 128, 4, 32000)
    assert varied.audio.shape == longer.audio.shape
    assert torch.equal(varied.audio[:, fade : keep - splice], longer.audio[:, fade : keep - splice])
    assert not torch.equal(varied.audio[:, keep:], longer.audio[:, keep:])
    wrap_ok(varied.audio)
    with pytest.raises(LoopgenError):
        loopgen.vary_loop(tiny, loop, bars=1)


def test_continue_any_audio(tiny):
    rate = 22050
    t = np.arange(int(rate * 0.7)) / rate
    src = np.stack([np.sin(2 * np.pi * 110 * t), np.sin(2 * np.pi * 165 * t)]).astype(np.float32) * 0.3
    loop = loopgen.make_loop(tiny, "more", bpm=120, bars=1, seed=3, prompt_audio=src, prompt_sample_rate=rate)
    assert loop.audio.shape == (1, 64000)
    wrap_ok(loop.audio)
    with pytest.raises(LoopgenError):
        loopgen.make_loop(tiny, "x", bpm=0)


def test_a_take_wraps_its_own_overrun_with_equal_power_gains(tiny):
    """The loop a Take returns is its raw audio with the overrun folded into the head by sin/cos gains (a missing
    crossfade or a linear one fails here), and the rest of the loop untouched."""
    from loopgen.params import SamplingParams
    from loopgen.streaming.dsp import equal_power, wrap_length
    from loopgen.streaming.take import Take

    length = loopgen.loop_samples(1, 120, 4, 32000)
    take = Take(tiny, ["pad"], SamplingParams(), 4, length, loop=True)
    loop = take.run()
    raw = take.raw()
    fade = wrap_length(length, 32000)
    assert fade == 3200 and raw.shape[-1] >= length + fade
    fin, fout = equal_power(fade)
    assert torch.allclose(loop[:, :fade], raw[:, :fade] * fin + raw[:, length : length + fade] * fout, atol=1e-6)
    assert torch.equal(loop[:, fade:], raw[:, fade:length])
    mid = fade // 2  # equal power: both gains ~0.707 at the middle (linear would give 0.5 each)
    assert abs(float(fin[mid]) - 2**-0.5) < 1e-3 and abs(float(fout[mid]) - 2**-0.5) < 1e-3


def test_extend_keeps_the_original_and_adds_exactly_the_new_seconds(tiny):
    """A continuation that keeps its original returns original + exactly the asked length (the aligned splice does
    not eat the crossfade), and the original sample for sample up to the splice."""
    from loopgen.params import SamplingParams
    from loopgen.streaming.dsp import splice_length
    from loopgen.streaming.take import Take

    original = tiny.generate(["x"], seconds=0.513, seed=1).audio[0]  # not a whole number of frames
    n0 = original.shape[-1]
    take = Take(tiny, ["x"], SamplingParams(), 2, n0 + 32000, original=original, keep_original=True)
    out = take.run()
    assert out.shape[-1] == n0 + 32000
    f = splice_length(32000)
    assert torch.equal(out[:, : n0 - f], original[:, : n0 - f])
    assert not torch.equal(out[:, n0 - f : n0], original[:, n0 - f :])  # faded into the codec's rendering
