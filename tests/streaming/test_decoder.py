"""The incremental decoder equals the offline decode for every chunking, and releases samples as soon as final."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import loopgen
from loopgen import load_model






def stream(dec, codes, sizes):
    out, i = [], 0
    for n in sizes:
        out.append(dec.push(codes[..., i : i + n]))
        i += n
    out.append(dec.push(codes[..., i:]))
    out.append(dec.flush())
    return torch.cat(out, dim=-1)


def codes_for(m, b, t, seed):
    return torch.randint(0, 2048, (b, m.num_codebooks, t), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_fixed_chunkings_equal_offline(tiny, chunk):
    codes = codes_for(tiny, 2, 60, 0)
    ref = tiny.decode(codes)
    dec = loopgen.IncrementalDecoder(tiny, batch_size=2)
    got = stream(dec, codes, [chunk] * (60 // chunk))
    assert got.shape == ref.shape
    assert (got - ref).abs().max() < 1e-5


@settings(max_examples=25, deadline=None)
@given(t=st.integers(1, 80), cuts=st.lists(st.integers(0, 12), max_size=20), seed=st.integers(0, 10_000))
def test_any_chunking_equals_offline(tiny, t, cuts, seed):
    codes = codes_for(tiny, 1, t, seed)
    ref = tiny.decode(codes)
    got = stream(loopgen.IncrementalDecoder(tiny), codes, cuts)
    assert got.shape == ref.shape
    assert (got - ref).abs().max() < 1e-5


def test_stereo_and_transformers_checkpoint(stereo, hf_mono):
    codes = codes_for(stereo, 1, 33, 1)
    got = stream(loopgen.IncrementalDecoder(stereo), codes, [1, 2, 3, 4, 5])
    assert (got - stereo.decode(codes)).abs().max() < 1e-5
    m = load_model(str(hf_mono))  # weights written by transformers
    codes = codes_for(m, 1, 41, 2)
    got = stream(loopgen.IncrementalDecoder(m), codes, [1] * 41)
    assert (got - m.decode(codes)).abs().max() < 1e-5


def test_latency_is_the_least_the_decoder_needs(tiny):
    dec = loopgen.IncrementalDecoder(tiny)
    assert dec.latency_samples == 2402 and dec.latency_frames == 4  # 3.75 frames: derived from the layer shapes
    codes = codes_for(tiny, 1, 30, 3)
    ref = tiny.decode(codes)
    total = 0
    for i in range(30):
        total += dec.push(codes[..., i : i + 1]).shape[-1]
        assert total == max(0, (i + 1) * 640 - 2402)  # every final sample is out ...
    # ... and none too early: changing frame 29 changes samples from (29 * 640 - 2402) on
    codes2 = codes.clone()
    codes2[..., 29] = (codes2[..., 29] + 1) % 2048
    diff = (tiny.decode(codes2) - ref).abs()[0, 0]
    first = int((diff > 0).nonzero()[0])
    assert 29 * 640 - 2402 - 640 < first <= 30 * 640 - 2402


def test_decoder_restarts_after_flush(tiny):
    dec = loopgen.IncrementalDecoder(tiny)
    a = codes_for(tiny, 1, 10, 4)
    first = stream(dec, a, [3, 3])
    second = stream(dec, a, [1] * 10)
    assert torch.allclose(first, second, atol=1e-6)


def test_wrong_shape_is_rejected(tiny):
    with pytest.raises(loopgen.LoopgenError):
        loopgen.IncrementalDecoder(tiny, batch_size=2).push(torch.zeros(1, 4, 3, dtype=torch.long))


def test_streaming_leaves_the_state_dict_alone(tiny):
    keys = set(tiny.state_dict())
    loopgen.IncrementalDecoder(tiny).push(torch.zeros(1, 4, 2, dtype=torch.long))
    assert set(tiny.state_dict()) == keys


def _state_tensors(dec):
    from dataclasses import fields, is_dataclass

    out = []
    for mod in dec._seanet.modules():
        st = getattr(mod, "state", None)
        if is_dataclass(st):
            out += [(mod, f.name, getattr(st, f.name)) for f in fields(st) if isinstance(getattr(st, f.name), torch.Tensor)]
    return out


def test_layer_state_is_fixed_size_and_updated_in_place(tiny):
    """Once the stream runs, every layer's state keeps its memory and shape from push to push (capturable)."""
    dec = loopgen.IncrementalDecoder(tiny)
    codes = codes_for(tiny, 1, 30, 5)
    for i in range(6):
        dec.push(codes[..., i : i + 1])
    before = [(name, t.data_ptr(), tuple(t.shape)) for _, name, t in _state_tensors(dec)]
    assert len(before) >= 20  # convs, transposed convs, LSTM, residual skips
    for i in range(6, 30):
        dec.push(codes[..., i : i + 1])
    assert [(name, t.data_ptr(), tuple(t.shape)) for _, name, t in _state_tensors(dec)] == before


def test_streaming_follows_the_codec_to_another_dtype():
    """Moving the codec re-derives the step weights and allocates state in the new dtype: still exact."""
    m = load_model("random:tiny")
    codes = codes_for(m, 1, 20, 6)
    ref32 = stream(loopgen.IncrementalDecoder(m), codes, [1] * 20)
    m.codec.to(torch.float64)
    dec = loopgen.IncrementalDecoder(m)
    got = stream(dec, codes, [1] * 20)
    assert got.dtype == torch.float64
    assert (got - m.decode(codes)).abs().max() < 1e-9
    assert (got.float() - ref32).abs().max() < 1e-4
    assert all(t.dtype in (torch.float64,) for _, _, t in _state_tensors(dec))
