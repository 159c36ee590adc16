"""Sessions: streamed frames equal generate's, endless windows are seamless, steering applies at the next step."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import loopgen
from loopgen.models.sampling import guide as inner
from loopgen import LoopgenError, load_model
from loopgen.streaming import Session, open_session




def frames_to_codes(frames):
    return torch.stack([f.codes for f in frames], dim=-1)


@pytest.mark.parametrize("name", ["random:tiny", "random:stereo-tiny"])
def test_stream_equals_generate(name):
    m = load_model(name)
    kw = dict(seconds=0.8, seed=11, top_k=50, temperature=0.9, cfg_coef=2.5)
    g = m.generate(["a beat", "a longer prompt about strings"], **kw)
    frames = list(loopgen.stream(m, ["a beat", "a longer prompt about strings"], **kw))
    assert [f.index for f in frames] == list(range(40))
    assert torch.equal(frames_to_codes(frames), g.codes)


def test_stream_equals_generate_on_transformers_checkpoint_with_continuation(hf_mono):
    m = load_model(str(hf_mono))
    audio = torch.randn(1, 1, 16000, generator=torch.Generator().manual_seed(0)) * 0.3
    kw = dict(seconds=0.6, seed=2, prompt_audio=audio, prompt_sample_rate=32000)
    g = m.generate(["go on"], **kw)
    frames = list(loopgen.stream(m, ["go on"], **kw))
    assert frames[0].index == 25  # the prompt's 25 frames come first
    assert torch.equal(frames_to_codes(frames), g.codes[..., 25:])


def test_endless_three_windows_continuous(tiny):
    """A 1 s window with a 0.6 s stride: frames keep coming past three windows, positions continuous, and the
    audio through one incremental decoder has no jump at the seams larger than the signal's own."""
    s = open_session(tiny, ["drone"], None, seed=5, window_seconds=1.0, stride_seconds=0.6)
    assert s.end is None
    frames = []
    windows = set()
    s.step()  # opens the session in its engine
    cache = s.engine.cache.k
    while len(frames) < 50 + 3 * 30 + 10:  # first window 50 frames, then 30 new per window
        f = s.step()
        windows.add(s.w0)
        if f is not None:
            frames.append(f)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert len(windows) >= 4  # re-primed at least three times
    assert s.engine.cache.k is cache  # the KV cache is reused, never reallocated
    audio = tiny.decode(frames_to_codes(frames))[0, 0]
    steps = (audio[1:] - audio[:-1]).abs()  # sample-to-sample jumps
    seams = [(50 + i * 30) * 640 for i in range(3)]
    away = torch.ones_like(steps, dtype=torch.bool)
    for seam in seams:
        away[seam - 640 : seam + 640] = False
    own = steps[away].max()
    for seam in seams:
        assert steps[seam - 640 : seam + 640].max() <= own
    # the re-primed windows condition on the stream's own tail: the codes after a seam are not a restart
    g = tiny.generate(["drone"], seconds=1.0, seed=5)
    assert torch.equal(frames_to_codes(frames[:50]), g.codes)


def test_finite_stream_longer_than_a_window(tiny):
    s = open_session(tiny, ["x"], 2.5, seed=1, window_seconds=1.0, stride_seconds=0.5)
    frames = list(s)
    assert [f.index for f in frames] == list(range(125))
    assert s.done and s.step() is None


def test_prompt_swap_takes_effect_at_the_next_step(tiny, monkeypatch):
    from loopgen.models import engine

    def run(swap_to: str | None):
        s = Session(tiny, ["techno"], loopgen.models.SamplingParams(top_k=1), seed=0, seconds=1.0)
        guided = []
        monkeypatch.setattr(engine, "guide", lambda *a: guided.append(inner(*a)) or guided[-1])  # each step's logits
        frames = []
        for i in range(40):
            if i == 20 and swap_to:
                s.set_prompts([swap_to])
            frames.append(s.step())
        return frames, guided

    (same, g1), (swapped, g2) = run(None), run("a completely different prompt about a harp")
    for i in range(20):
        assert torch.equal(g1[i], g2[i])
        assert (same[i] is None) == (swapped[i] is None)
        assert same[i] is None or torch.equal(same[i].codes, swapped[i].codes)
    assert (g1[20] - g2[20]).abs().max() > 1e-3  # the very next step already hears the new prompt
    assert swapped[20].index == 17 and swapped[20].prompts == ((("a completely different prompt about a harp", 1.0),),)
    assert any(not torch.equal(a.codes, b.codes) for a, b in zip(same[20:], swapped[20:]))


def test_params_apply_at_the_next_step(tiny):
    s = Session(tiny, ["x"], seed=0, seconds=1.0)
    s.step()
    s.set_params(temperature=0.5, top_k=10, cfg_coef=1.5, top_p=0.9)
    while (f := s.step()) is None:
        pass
    assert f.params.temperature == 0.5 and f.params.top_k == 10 and f.params.cfg_coef == 1.5
    with pytest.raises(LoopgenError):
        s.set_params(temperature=-1)
    with pytest.raises(LoopgenError):
        s.set_params(volume=3)


def test_weighted_prompts(tiny):
    greedy = dict(top_k=1, seed=0)
    only_a = frames_to_codes(list(loopgen.stream(tiny, ["warm keys"], 0.5, **greedy)))
    a_with_zero_b = frames_to_codes(list(loopgen.stream(tiny, [[("warm keys", 1.0), ("harsh noise", 0.0)]], 0.5, **greedy)))
    assert torch.equal(only_a, a_with_zero_b)
    half = frames_to_codes(list(loopgen.stream(tiny, [[("warm keys", 1.0), ("harsh noise", 1.0)]], 0.5, **greedy)))
    assert not torch.equal(only_a, half)


def test_morph_changes_prompt_count_live(tiny):
    s = Session(tiny, ["warm keys"], seed=0, seconds=2.0)
    for _ in range(10):
        s.step()
    for w in (0.25, 0.5, 0.75):
        s.set_prompts([[("warm keys", 1 - w), ("harsh noise", w)]])
        for _ in range(5):
            s.step()
    s.set_prompts(["harsh noise"])
    frames = list(s)
    assert frames[-1].index == 99 and frames[-1].prompts == ((("harsh noise", 1.0),),)


def test_cancel_and_errors(tiny):
    s = Session(tiny, ["x"], seed=0)
    s.step()
    s.cancel()
    assert s.done and s.step() is None
    with pytest.raises(LoopgenError):
        Session(tiny, [])
    with pytest.raises(LoopgenError):
        Session(tiny, [[("x", -1.0)]])
    with pytest.raises(LoopgenError):
        Session(tiny, ["x"], seconds=0)
    with pytest.raises(LoopgenError):
        s.set_prompts(["a", "b"])


def test_stream_audio_equals_offline_decode(tiny):
    chunks = list(loopgen.stream_audio(tiny, ["x"], 1.0, seed=4))
    pcm = torch.cat([c.pcm for c in chunks], dim=-1)
    g = tiny.generate(["x"], seconds=1.0, seed=4)
    assert pcm.shape == g.audio.shape
    assert (pcm - g.audio).abs().max() < 1e-5
    firsts = [c.first_sample for c in chunks]
    lengths = [c.pcm.shape[-1] for c in chunks]
    assert firsts == list(np.cumsum([0] + lengths[:-1]))
    assert chunks[0].frame == 3  # the first PCM needs 3.75 frames of look-ahead


def test_steering_reaches_the_sampler(tiny, monkeypatch):
    """After set_params(temperature=0) every choice is the argmax of that step's guided logits; before it, with
    top_k 50 and temperature 1, many are not. A change that only labels frames fails here."""
    from loopgen.models import engine

    seen = []
    monkeypatch.setattr(engine, "guide", lambda *a: seen.append(inner(*a)) or seen[-1])
    picks = []
    real_choose = engine.choose
    monkeypatch.setattr(engine, "choose", lambda logits, *a, **kw: picks.append(real_choose(logits, *a, **kw)) or picks[-1])
    s = Session(tiny, ["x"], loopgen.models.SamplingParams(top_k=50), seed=0, seconds=1.0)
    for i in range(40):
        if i == 20:
            s.set_params(temperature=0.0)
        s.step()
    argmax = [g.argmax(-1) for g in seen]
    assert sum(torch.equal(p, a) for p, a in zip(picks[:20], argmax[:20])) < 5
    assert all(torch.equal(p, a) for p, a in zip(picks[20:], argmax[20:]))


def test_endless_windows_reprime_from_the_streams_own_tail(tiny):
    """Greedy, so the music after a seam is a function of the prompt alone: the frames of the second window equal a
    fresh session continuing the last `context` frames before the seam. Re-priming from anything else fails."""
    greedy = loopgen.models.SamplingParams(top_k=1)
    s = Session(tiny, ["drone"], greedy, seed=0, window_seconds=1.0, stride_seconds=0.6)
    frames = []
    while len(frames) < 80:
        f = s.step()
        if f is not None:
            frames.append(f.codes)
    codes = torch.stack(frames, dim=-1)  # [1, K, 80]; the seam is at frame 50, context 20 frames
    ref = Session(tiny, ["drone"], greedy, seed=0, seconds=0.6, prompt_codes=codes[..., 30:50], window_seconds=1.0)
    after = torch.stack([f.codes for f in ref], dim=-1)
    assert torch.equal(after, codes[..., 50:80])
    assert not torch.equal(codes[..., 50:80], codes[..., 0:30])  # not a restart from the head
