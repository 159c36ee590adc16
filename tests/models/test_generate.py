"""The public generate / encode / decode API on the seeded random models."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from loopgen import LoopgenError



def test_facts(tiny, stereo):
    assert (tiny.sample_rate, tiny.channels, tiny.frame_rate, tiny.num_codebooks) == (32000, 1, 50, 4)
    assert (stereo.channels, stereo.num_codebooks) == (2, 8)


@pytest.mark.parametrize("seconds,frames", [(1.0, 50), (0.31, 16), (0.02, 1)])
def test_shapes(tiny, seconds, frames):
    g = tiny.generate(["a", "b c"], seconds=seconds, seed=0)
    assert g.codes.shape == (2, 4, frames) and g.codes.dtype == torch.long
    assert g.audio.shape == (2, 1, frames * 640) and g.audio.dtype == torch.float32
    assert int(g.codes.min()) >= 0 and int(g.codes.max()) < 2048
    assert g.audio.abs().max() > 1e-3  # codebooks have content: not silent


def test_stereo_shapes_and_channels_differ(stereo):
    g = stereo.generate(["wide pad"], seconds=0.5, seed=3)
    assert g.codes.shape == (1, 8, 25) and g.audio.shape == (1, 2, 25 * 640)
    assert not torch.equal(g.audio[0, 0], g.audio[0, 1])
    # decode splits interleaved codebooks per channel: the left channel is the decode of the even codebooks
    left = stereo.codec.decode(g.codes[:, 0::2])
    assert torch.allclose(left[:, 0], g.audio[:, 0], atol=1e-6)


def test_seeds(tiny):
    a = tiny.generate(["x"], seconds=0.5, seed=7)
    b = tiny.generate(["x"], seconds=0.5, seed=7)
    c = tiny.generate(["x"], seconds=0.5, seed=8)
    assert torch.equal(a.codes, b.codes)
    assert not torch.equal(a.codes, c.codes)


def test_prompt_changes_output(tiny):
    a = tiny.generate(["techno"], seconds=0.5, top_k=1)
    b = tiny.generate(["a very different prompt about folk guitar"], seconds=0.5, top_k=1)
    assert not torch.equal(a.codes, b.codes)


def test_guidance_off_computes_no_unconditional_rows(tiny, monkeypatch):
    """At cfg_coef 1 the LM runs one row per text (half the work), and the result is the conditional model's."""
    rows = []
    decode = type(tiny.lm).decode
    monkeypatch.setattr(type(tiny.lm), "decode", lambda self, cache, tokens, *a, **k: rows.append(tokens.shape[0]) or decode(self, cache, tokens, *a, **k))
    g = tiny.generate(["x", "y"], seconds=0.2, cfg_coef=1.0, seed=1)
    assert g.codes.shape == (2, 4, 10) and set(rows) == {2}
    rows.clear()
    tiny.generate(["x", "y"], seconds=0.2, cfg_coef=3.0, seed=1)
    assert set(rows) == {4}


def test_unseeded_generation_records_its_seed_and_leaves_torch_rng_alone(tiny):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    g = tiny.generate(["x"], seconds=0.2)
    assert torch.equal(torch.get_rng_state(), before)
    again = tiny.generate(["x"], seconds=0.2, seed=g.seed)
    assert torch.equal(g.codes, again.codes)


def test_continuation_any_rate_and_channels(tiny):
    rate = 44100
    t = np.arange(int(rate * 0.6)) / rate
    wav = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)]).astype(np.float32) * 0.5  # [2, N]
    g = tiny.generate(["go on"], seconds=0.4, prompt_audio=wav, prompt_sample_rate=rate, seed=0)
    p = tiny.encode(wav, rate)
    assert p.shape == (1, 4, 30)  # 0.6 s at 50 Hz
    assert g.prompt_frames == 30
    assert g.codes.shape == (1, 4, 50)
    assert torch.equal(g.codes[:, :, :30], p)


def test_encode_layouts(tiny, stereo):
    wav = torch.randn(2, 16000) * 0.1  # stereo 0.5 s
    assert tiny.encode(wav, 32000).shape == (1, 4, 25)
    assert tiny.encode(torch.stack([wav, wav]), 32000).shape == (2, 4, 25)
    assert stereo.encode(wav[:1], 32000).shape == (1, 8, 25)  # mono duplicated to both channels
    codes = stereo.encode(wav[:1], 32000)
    assert torch.equal(codes[:, 0::2], codes[:, 1::2])


def test_decode_rejects_wrong_codebooks(tiny):
    with pytest.raises(LoopgenError, match="codes must be"):
        tiny.decode(torch.zeros(1, 3, 5, dtype=torch.long))


@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(seconds=0), "seconds must be a finite number > 0"),
        (dict(seconds=-1), "seconds must be a finite number > 0"),
        (dict(seconds=float("inf")), "seconds must be a finite number > 0"),
        (dict(seconds=31), "more than this model makes in one window"),
        (dict(seconds=1, temperature=-1), "temperature"),
        (dict(seconds=1, top_p=1.5), "top_p"),
        (dict(seconds=1, prompt_audio=np.zeros((1, 100), np.float32)), "prompt_sample_rate is required"),
        (dict(seconds=1, prompt_audio=np.zeros((1, 0), np.float32), prompt_sample_rate=32000), "empty"),
        (dict(seconds=1, prompt_audio=np.full((1, 10), np.nan, np.float32), prompt_sample_rate=32000), "NaN"),
        (dict(seconds=29.5, prompt_audio=np.zeros((1, 32000), np.float32), prompt_sample_rate=32000), "including the prompt"),
    ],
)
def test_clear_errors(tiny, kw, msg):
    with pytest.raises(LoopgenError, match=msg):
        tiny.generate(["x"], **kw)


def test_greedy_is_argmax(tiny):
    a = tiny.generate(["x"], seconds=0.3, top_k=1, seed=1)
    b = tiny.generate(["x"], seconds=0.3, top_k=1, seed=2)
    c = tiny.generate(["x"], seconds=0.3, temperature=0.0, seed=3)
    assert torch.equal(a.codes, b.codes) and torch.equal(a.codes, c.codes)


def test_random_small_is_the_musicgen_small_architecture():
    from loopgen.models.musicgen import MusicGen
    from loopgen.models.random_models import CONFIGS, byte_tokenizer
    from loopgen.models.t5 import TextTokenizer

    with torch.device("meta"):
        m = MusicGen(CONFIGS["small"], TextTokenizer(byte_tokenizer()))
    lm = sum(p.numel() for p in m.lm.parameters())
    assert 415e6 < lm < 425e6  # ~420M with cross-attention
    assert sum(p.numel() for p in m.text.parameters()) == 109_628_544  # t5-base encoder
    c = CONFIGS["small"]
    assert (c.lm.dim, c.lm.num_layers, c.lm.num_heads, c.lm.ffn_dim) == (1024, 24, 16, 4096)
    assert c.audio.upsampling_ratios == (8, 5, 4, 4) and c.audio.num_filters == 64


@pytest.mark.parametrize("size,dims", [("medium", (1536, 48, 24, 6144)), ("large", (2048, 48, 32, 8192))])
def test_random_medium_and_large_are_the_musicgen_architectures(size, dims):
    from loopgen.models.musicgen import MusicGen
    from loopgen.models.random_models import CONFIGS, byte_tokenizer
    from loopgen.models.t5 import TextTokenizer

    c = CONFIGS[size]
    assert (c.lm.dim, c.lm.num_layers, c.lm.num_heads, c.lm.ffn_dim) == dims
    with torch.device("meta"):
        m = MusicGen(c, TextTokenizer(byte_tokenizer()))
    lm = sum(p.numel() for p in m.lm.parameters())
    d, layers, _, ffn = dims
    per_layer = 8 * d * d + 2 * d * ffn + 6 * d  # self + cross attention (4 d^2 each), feed-forward, 3 LayerNorms
    tables = 4 * 2049 * d + 4 * 2048 * d + 2 * d  # embeddings, heads, final norm
    assert lm == layers * per_layer + tables  # 1.84B and 3.26B with cross-attention (the "1.5B" / "3.3B" models)
    assert sum(p.numel() for p in m.text.parameters()) == 109_628_544  # t5-base, as for small
