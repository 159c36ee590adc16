"""Melody in sessions, batches and takes: streamed equals generate, batched equals alone, and a new melody or text
opens a new window at once, which equals a fresh session continuing the same frames under the new conditioning."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from loopgen import LoopgenError, load_model
from loopgen.models import SamplingParams
from loopgen.streaming import Batch, Session
from loopgen.streaming.take import Take

SR = 32000


def notes(midi, seconds=0.5):
    f = np.repeat(440.0 * 2.0 ** ((np.asarray(midi) - 69) / 12), int(seconds * SR))
    return (0.5 * np.sin(2 * np.pi * np.cumsum(f) / SR)).astype(np.float32)


@pytest.fixture(scope="module")
def mel():
    return load_model("random:melody-tiny")


@pytest.fixture(scope="module")
def chromas(mel):
    return [mel.melody_chroma(notes(n), SR)[0] for n in ([60, 64, 67, 72], [57, 53, 50, 45, 41])]


def codes(frames):
    return torch.stack([f.codes for f in frames], dim=-1)


def test_session_equals_generate(mel):
    kw = dict(seconds=0.7, seed=4, top_k=40, cfg_coef=3.0)
    a, b = notes([60, 62, 64]), notes([70, 69])
    g = mel.generate(["lead", "a long text about a bass line"], melody=[a, b], melody_sample_rate=SR, **kw)
    ch = [mel.melody_chroma(x, SR)[0] for x in (a, b)]
    s = Session(mel, ["lead", "a long text about a bass line"], SamplingParams(top_k=40, cfg_coef=3.0), seed=4,
                seconds=0.7, melody=ch)
    assert torch.equal(codes(list(s)), g.codes)


def test_batched_prefixes_of_different_lengths_equal_each_alone(mel, chromas):
    """Voices whose prefixes differ in length (texts of different token counts, melody or none) share one engine
    step, each at its own positions; each gets what it gets alone, across window re-primes."""
    specs = [
        dict(prompts=["a"], params=SamplingParams(top_k=30), seed=1, seconds=1.4, melody=[chromas[0]]),
        dict(prompts=["a much longer text prompt, about slow strings"], params=SamplingParams(cfg_coef=2.0), seed=2,
             seconds=1.2, melody=[None]),
        dict(prompts=[[("jazz", 0.6), ("noise", 0.4)]], params=SamplingParams(top_p=0.9, top_k=0), seed=3, seconds=1.0,
             melody=[chromas[1]]),
    ]
    windows = dict(window_seconds=0.8, stride_seconds=0.5)
    ref = [codes(list(Session(mel, **sp, **windows))) for sp in specs]
    sessions = [Session(mel, **sp, **windows) for sp in specs]
    got = {id(s): [] for s in sessions}
    batch = Batch(mel)
    for i, s in enumerate(sessions):
        batch.add(s)
        for _ in range(4 if i < 2 else 0):
            for t, f in batch.step():
                got[id(t)].append(f.codes)
    while batch.sessions:
        for t, f in batch.step():
            got[id(t)].append(f.codes)
    for s, r in zip(sessions, ref):
        assert torch.equal(torch.stack(got[id(s)], dim=-1), r)


@pytest.mark.parametrize("change", ["melody", "prompt"])
def test_a_change_opens_a_window_under_the_new_prefix(mel, chromas, change):
    """Greedy, so draws do not matter: after the change at frame f, the stream equals a fresh session given the
    first f frames as its prompt and the new conditioning. Before f it is untouched."""
    greedy = SamplingParams(top_k=1, cfg_coef=3.0)
    f, total = 12, 40
    base = Session(mel, ["pads"], greedy, seed=0, seconds=total / 50, melody=[chromas[0]])
    ref_frames = list(base)
    s = Session(mel, ["pads"], greedy, seed=0, seconds=total / 50, melody=[chromas[0]])
    out = []
    while len(out) < f:
        x = s.step()
        if x is not None:
            out.append(x)
    new_melody, new_text = (chromas[1], "pads") if change == "melody" else (chromas[0], "a bright lead line")
    if change == "melody":
        s.set_melody([chromas[1]])
    else:
        s.set_prompts(["a bright lead line"])
    out += list(s)
    assert [x.index for x in out] == list(range(total))
    got = codes(out)
    assert torch.equal(got[..., :f], codes(ref_frames)[..., :f])
    fresh = Session(mel, [new_text], greedy, seed=0, seconds=(total - f) / 50, prompt_codes=got[..., :f],
                    melody=[new_melody])
    assert torch.equal(got[..., f:], codes(list(fresh)))
    assert not torch.equal(got[..., f:], codes(ref_frames)[..., f:])  # the change was heard


def test_take_with_a_live_melody_change_replays_bit_for_bit(mel, chromas):
    def make():
        return Take(mel, ["riff"], SamplingParams(top_k=20), seed=9, length=int(1.2 * SR), guided=True,
                    melody=chromas[0])

    take = make()
    batch = Batch(mel, [take.session])
    while not take.session.done:
        if take.session.ticks == 20:
            take.set_melody(chromas[1])
        if take.session.ticks == 35:
            take.set_melody(None)
        for _, fr in batch.step():
            take.push(fr)
    take.flush()
    audio = take.audio()
    assert [c.get("melody") is None for c in take.changes] == [False, True]
    again = make().replay(take.changes)
    assert torch.equal(again, audio)
    plain = make().replay([])
    assert not torch.equal(plain, audio)


def test_melody_refused_by_models_without_one(tiny, chromas):
    with pytest.raises(LoopgenError, match="takes no melody"):
        Session(tiny, ["x"], seconds=0.2, melody=[chromas[0]])
    s = Session(tiny, ["x"], seconds=0.2)
    s.step()
    with pytest.raises(LoopgenError, match="takes no melody"):
        s.set_melody([chromas[0]])
