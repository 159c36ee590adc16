"""MAGNeT against audiocraft 1.3.0: tiny models that audiocraft's own builders made and exported in the release layout,
with audiocraft's outputs recorded beside them (tests/models/reference/make_audiocraft_refs.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from loopgen import LoopgenError, load_model
from loopgen.models.magnet import Magnet, least_probable_spans

REF = Path(__file__).parent / "reference" / "audiocraft"
TEXTS = ["warm analog bass loop", "a"]  # as recorded: different lengths, so T5 padding is in play
STEPS = [6, 3, 3, 3]
MUSIC_OPTS = dict(temperature=3.0, top_p=0.9, max_cfg_coef=10.0)  # what the script's continuation used


@pytest.fixture(scope="module", params=["magnet-music", "magnet-audio"])
def case(request):
    from safetensors.torch import load_file

    return request.param, load_model(str(REF / request.param)), load_file(str(REF / request.param / "refs.safetensors"))


def test_loads_release_layout_as_magnet(case):
    kind, m, _ = case
    assert isinstance(m, Magnet)
    assert m.sample_rate == (16000 if kind == "magnet-audio" else 32000)
    assert m.max_frames == 50 and m.cfg.span_len == 3 and m.cfg.subcodes_context == 5
    d = m.defaults()  # audiocraft's per family: text-to-sound runs hotter, guided harder, with a tighter nucleus
    assert (d.temperature, d.top_p, d.max_cfg_coef) == ((3.5, 0.8, 20.0) if kind == "magnet-audio" else (3.0, 0.9, 10.0))
    assert d.decoding_steps == (20, 10, 10, 10) and d.span_arrangement == "nonoverlap" and not d.greedy


def test_logits_of_every_stage(case):
    _, m, r = case
    cache = m.condition(TEXTS)
    grid = torch.cat([r["grid"], r["grid"]])  # [texts; nulls], partly masked
    for stage in range(4):
        err = (m.stage_logits(grid, cache, stage) - r[f"logits_stage{stage}"]).abs().max().item()
        assert err < 1e-5, (stage, err)


@pytest.mark.parametrize("arrangement", ["nonoverlap", "stride1"])
def test_greedy_codes_identical(case, arrangement):
    _, m, r = case
    g = m.generate(TEXTS, greedy=True, decoding_steps=STEPS, span_arrangement=arrangement)
    assert torch.equal(g.codes, r[f"greedy_{arrangement}"])


def test_continuation_identical_and_prompt_fixed(case):
    _, m, r = case
    g = m.generate(TEXTS, greedy=True, decoding_steps=STEPS, prompt_audio=r["prompt_wav"],
                   prompt_sample_rate=m.sample_rate, **MUSIC_OPTS)
    assert torch.equal(g.codes, r["continuation"])
    p = r["prompt_codes"].shape[-1]
    assert g.prompt_frames == p and torch.equal(g.codes[0, :, :p], r["prompt_codes"][0])


def test_codec_encode_and_decode(case):
    _, m, r = case
    assert torch.equal(m.encode(r["prompt_wav"], m.sample_rate)[0], r["prompt_codes"][0])
    assert (m.decode(r["greedy_nonoverlap"]) - r["decoded"]).abs().max().item() < 1e-4


def test_sampling_is_seeded_and_options_reach_the_decoder(case):
    _, m, _ = case
    kw = dict(decoding_steps=[3, 2, 2, 2])
    a = m.generate(TEXTS, seed=5, **kw).codes
    assert torch.equal(a, m.generate(TEXTS, seed=5, **kw).codes)
    assert not torch.equal(a, m.generate(TEXTS, seed=6, **kw).codes)
    greedy = m.generate(TEXTS, greedy=True, **kw).codes
    assert not torch.equal(greedy, m.generate(TEXTS, greedy=True, span_scoring="prod", **kw).codes)
    assert not torch.equal(greedy, m.generate(TEXTS, greedy=True, max_cfg_coef=1.0, **kw).codes)
    assert not torch.equal(a, m.generate(TEXTS, seed=5, top_p=0.0, top_k=5, **kw).codes)


def test_seconds_exact_and_past_one_segment(case):
    _, m, _ = case
    kw = dict(decoding_steps=[3, 2, 2, 2], seed=1)
    one = m.generate(["beat"], seconds=1.0, **kw)
    assert one.codes.shape[-1] == 50  # exact: nonoverlap rounds up to whole spans and cuts back
    steps = []
    long = m.generate(["beat"], seconds=2.3, progress=steps.append, **kw)
    assert long.codes.shape[-1] == round(2.3 * m.frame_rate)
    assert long.audio.shape[-1] == long.codes.shape[-1] * m.cfg.audio.hop_length
    assert torch.equal(long.codes[..., :50], one.codes)  # the first segment is the same generation
    passes = 1 + -(-(115 - 50) // 25)  # then half a segment of context and half a segment new, per pass
    assert [s.step for s in steps] == list(range(1, passes * 9 + 1)) and steps[-1].total == passes * 9


def test_stride1_span_search():
    scores = torch.tensor([0.0, 5.0, 5.0, 5.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    assert least_probable_spans(scores, 3, 3).tolist() == [False, True, True, True] + [False] * 6
    # window sums [10, 15, 10, 5, 1, 2, 3, 2]: the three worst windows overlap into 5 tokens; a fourth would make 7 or
    # more, past the target of 6, so the search stops at three (audiocraft's binary search, traced by hand)
    assert least_probable_spans(scores, 6, 3).tolist() == [True] * 5 + [False] * 5


@pytest.mark.parametrize("bad,msg", [
    (dict(decoding_steps=[3, 2]), "one count per codebook"),
    (dict(span_arrangement="zigzag"), "span_arrangement"),
    (dict(temperature=-1.0), "temperature"),
    (dict(cfg_coef=3.0), "unknown MAGNeT option"),
])
def test_bad_options_are_clear_errors(case, bad, msg):
    _, m, _ = case
    with pytest.raises(LoopgenError, match=msg):
        m.generate(["x"], **bad)


def test_prompt_must_fit_a_segment(case):
    _, m, _ = case
    with pytest.raises(LoopgenError, match="shorter than a segment"):
        m.generate(["x"], prompt_audio=torch.zeros(1, m.sample_rate * 2), prompt_sample_rate=m.sample_rate)


def test_random_magnet_tiny_offline():
    m = load_model("random:magnet-tiny")
    assert isinstance(m, Magnet) and m.max_frames == 100
    g = m.generate(["lofi"], seconds=0.5, decoding_steps=[2, 1, 1, 1], seed=0)
    assert g.codes.shape == (1, 4, 25) and g.audio.abs().max() > 0
    assert m.family == "magnet" and not hasattr(m, "engine")  # a sibling of MusicGen, not a refusing subclass


SAMPLED = {  # as make_audiocraft_refs.py's SAMPLED, with the rest of audiocraft's set_generation_params defaults
    "sampled_top_p": dict(top_p=0.9, temperature=3.0),
    "sampled_top_k": dict(top_p=0.0, top_k=20, temperature=2.0),
    "sampled_stride1": dict(top_p=0.8, temperature=3.5, span_arrangement="stride1"),
}


@pytest.mark.parametrize("name", list(SAMPLED))
def test_sampled_codes_identical(case, name):
    """Sampled decoding as audiocraft does it (temperature and guidance annealed over each stage, top-p / top-k
    filtered, sampled tokens scored and the least confident spans masked again), token for token: the reference drew
    with loopgen's seeded noise in audiocraft's own samplers, the one part that differs by design."""
    _, m, r = case
    opts = {"top_k": 0, "max_cfg_coef": 10.0, "min_cfg_coef": 1.0, "span_arrangement": "nonoverlap", **SAMPLED[name]}
    g = m.generate(TEXTS, seed=5, decoding_steps=STEPS, **opts)
    assert torch.equal(g.codes, r[name])
