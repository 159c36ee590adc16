"""Where features meet, in the streaming layer: prompt weights by their ratio, continued and extended audio in place
to the sample, and a melody's 30 s cut at the rates a DAW records at."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from loopgen.models.chroma import Chroma
from loopgen.streaming import Session
from loopgen.streaming.dsp import splice_length
from loopgen.streaming.take import Take


def test_equal_prompt_weights_are_the_same_mix_whatever_their_size(tiny):
    """(w, w) is (1, 1): a mix is its weights' ratio."""
    def codes(weights):
        return [f.codes for f in Session(tiny, [[("warm keys", weights[0]), ("noise", weights[1])]], seed=3,
                                         seconds=0.4)]

    ref = codes((1.0, 1.0))
    for w in ((0.3, 0.3), (5.0, 5.0)):
        assert all(torch.equal(a, b) for a, b in zip(codes(w), ref)), w
    assert not all(torch.equal(a, b) for a, b in zip(codes((0.9, 0.1)), ref))  # and the ratio does matter


@pytest.mark.parametrize("n0", [9600, 9601, 10239])  # whole frames, one sample past, one short of the next frame
def test_continued_audio_starts_where_the_original_ends(tiny, n0):
    """A continuation's new audio is sample n0 on: the same samples an extend of the same take puts after the
    original, which it keeps sample for sample up to the splice."""
    t = torch.arange(n0) / 32000
    original = (torch.sin(2 * torch.pi * 220 * t) * 0.3)[None]
    new = 12800
    extended = Take(tiny, ["go on"], None, 7, n0 + new, original=original, keep_original=True).run()
    continued = Take(tiny, ["go on"], None, 7, new, original=original, keep_original=False).run()
    assert extended.shape[-1] == n0 + new and continued.shape[-1] == new
    assert torch.equal(extended[:, n0:], continued)
    keep = n0 - splice_length(32000)
    assert torch.equal(extended[:, :keep], original[:, :keep])


@pytest.mark.parametrize("rate", [44100, 48000])
def test_a_melody_counts_its_first_30_seconds_only(rate):
    c = Chroma()
    rng = np.random.default_rng(0)
    t = np.arange(40 * rate) / rate
    x = (np.sin(2 * np.pi * 440 * t) * 0.3).astype(np.float32)
    x[int(20 * rate): int(25 * rate)] = (np.sin(2 * np.pi * 523.25 * t[:int(5 * rate)]) * 0.3).astype(np.float32)
    base = c(x, rate)
    assert base.shape == (1 + c.max_samples // c.hop, 12)
    after = x.copy()
    after[int(31 * rate):] = rng.standard_normal(len(after) - int(31 * rate)).astype(np.float32)
    assert torch.equal(c(after, rate), base)  # what comes after 30 s (and the resampler's second) is not heard
    before = x.copy()
    before[int(29.5 * rate): int(30 * rate)] = (np.sin(2 * np.pi * 370 * t[:int(0.5 * rate)]) * 0.3)
    assert not torch.equal(c(before, rate), base)  # what comes just before 30 s is
