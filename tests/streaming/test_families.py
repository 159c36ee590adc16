"""Both model families behind the same streaming surface: `stream`, `stream_audio`, `Batch`, sessions stepped alone,
takes and loops work for MAGNeT as for MusicGen, and a request's sampling values keep what was given."""
from __future__ import annotations

import pytest
import torch

import loopgen
from loopgen.errors import LoopgenError
from loopgen.streaming import Batch, SegmentBatch, SegmentSession, open_stream
from loopgen.streaming.family import FAMILIES, family


@pytest.fixture(scope="module")
def magnet():
    torch.manual_seed(0)
    return loopgen.load_model("random:magnet-tiny")  # 2 s segments


def test_stream_and_stream_audio_work_for_magnet(magnet):
    """`loopgen.stream` of a MAGNeT yields generate's frames; `stream_audio` its audio (past one segment: the
    daemon's MAGNeT tests, which stream through the same sessions)."""
    short = magnet.generate(["dub"], seconds=0.5, seed=4, temperature=2.0)
    frames = list(loopgen.stream(magnet, "dub", seconds=0.5, seed=4, temperature=2.0))
    assert [f.index for f in frames] == list(range(25))
    assert torch.equal(torch.stack([f.codes for f in frames], -1), short.codes)
    g = short
    chunks = list(loopgen.stream_audio(magnet, "dub", seconds=0.5, seed=4, temperature=2.0))
    pcm = torch.cat([c.pcm for c in chunks], -1)
    assert [c.first_sample for c in chunks] == [0] + list(torch.cumsum(torch.tensor(
        [c.pcm.shape[-1] for c in chunks[:-1]]), 0).tolist())
    assert chunks[-1].frame == 24 and pcm.shape == g.audio.shape and (pcm - g.audio).abs().max() < 1e-4


def test_a_magnet_session_steps_alone_like_a_musicgen_session(magnet, tiny):
    """`step()` is one step and returns one frame or None, for either family; iteration yields every frame once."""
    for m in (tiny, magnet):
        s = open_stream(m, "x", seed=1, seconds=1.0)
        out = [s.step() for _ in range(200)]
        frames = [f for f in out if f is not None]
        assert all(f is None or isinstance(f, loopgen.Frame) for f in out)
        assert [f.index for f in frames] == list(range(50)) and s.done
        again = list(open_stream(m, "x", seed=1, seconds=1.0))
        assert all(torch.equal(a.codes, b.codes) for a, b in zip(frames, again)) and len(again) == 50


def test_batch_steps_magnet_streams_each_as_alone(magnet):
    a = SegmentSession(magnet, "a drone", {"temperature": 1.5}, seed=1, seconds=0.5)
    b = SegmentSession(magnet, "bells that ring", None, seed=2, seconds=0.5)
    batch = Batch(magnet, [a, b])
    assert isinstance(batch, SegmentBatch)
    got: dict = {id(a): [], id(b): []}
    while not (a.done and b.done):
        for s, f in batch.step():
            got[id(s)].append(f.codes)
    for s, text, given, seed in ((a, "a drone", {"temperature": 1.5}, 1), (b, "bells that ring", None, 2)):
        alone = list(SegmentSession(magnet, text, given, seed=seed, seconds=0.5))
        assert torch.equal(torch.stack(got[id(s)]), torch.stack([f.codes for f in alone]))


def test_sampling_values_keep_what_was_given(magnet, tiny):
    """MAGNeT asked for MusicGen's default values gets them (not its own 3.0 / 0 / 0.9 / 10); nothing given gets
    the family's own defaults; each family checks its own range (MAGNeT's temperature up to 10)."""
    asked = {"temperature": 1.0, "top_k": 250, "top_p": 0.0, "cfg_coef": 3.0}
    s = open_stream(magnet, "x", asked, seed=0, seconds=0.5)
    o = s.options
    assert (o.temperature, o.top_k, o.top_p, o.max_cfg_coef) == (1.0, 250, 0.0, 3.0) and s.sampling == asked
    d = open_stream(magnet, "x", None, seed=0, seconds=0.5).options
    assert (d.temperature, d.top_k, d.top_p, d.max_cfg_coef) == (3.0, 0, 0.9, 10.0)
    assert open_stream(magnet, "x", {"temperature": 7.0}, seconds=0.5).options.temperature == 7.0
    with pytest.raises(LoopgenError, match="temperature"):
        open_stream(tiny, "x", {"temperature": 7.0}, seconds=0.5)
    s.set_params(temperature=3.0)  # a live change keeps the rest as given
    assert (s.options.temperature, s.options.top_k, s.options.max_cfg_coef) == (3.0, 250, 3.0)
    with pytest.raises(LoopgenError):
        s.set_params(temperature=11.0)
    assert s.options.temperature == 3.0  # a refused change changes nothing
    loop = loopgen.make_loop(magnet, "house", bpm=240, bars=1, seed=1, temperature=1.0)
    assert loop.params["temperature"] == 1.0 and loop.params["cfg_coef"] == 10.0  # given, and MAGNeT's own


def test_both_families_implement_the_interfaces_in_full(magnet, tiny):
    from loopgen.streaming import Stepper, Stream

    for m in (tiny, magnet):
        s = open_stream(m, "x", seconds=0.5)
        assert isinstance(s, Stream) and isinstance(Batch(m, [s]), Stepper), m.family
        assert s.total_frames == 25 and s.progress_frames == 0 and set(s.sampling) == {
            "temperature", "top_k", "top_p", "cfg_coef"}


def test_every_model_picks_its_family_by_table(magnet, tiny):
    assert family(tiny) is FAMILIES["musicgen"] and family(magnet) is FAMILIES["magnet"]
    with pytest.raises(LoopgenError, match="no melody"):
        open_stream(magnet, "x", melody=[torch.zeros(10, 12)])
    with pytest.raises(LoopgenError, match="no melody"):
        SegmentSession(magnet, "x").set_melody([None])
    with pytest.raises(LoopgenError, match="MusicGen's"):  # a sliding window is MusicGen's; MAGNeT goes by segments
        loopgen.open_session(magnet, "x", 1.0, window_seconds=1.0)
    assert loopgen.open_session(tiny, "x", 1.0, window_seconds=0.4, stride_seconds=0.2).window == 20
