"""int8 on the CPU: close to float32 step by step, and a working load / render / refusal path."""
from __future__ import annotations

import pytest
import torch

from loopgen import LoopgenError, load_model
from loopgen.models.lm import ALL_ROWS


def _teacher_forced(m, codes, texts, groups=None):
    states, mask = m.encode_text(texts, guided=False)
    b, t = codes.shape[0], codes.shape[-1]
    cache = m.lm.new_cache(b, t + 1, states.shape[1])
    m.lm.condition(cache, torch.arange(b), states, mask)
    table, live, out = m.lm.position_table(t + 1), torch.ones(b, dtype=torch.bool), []
    with torch.inference_mode():
        for s in range(t):
            tok = codes[:, :, s - 1] if s else torch.full((b, m.num_codebooks), m.cfg.lm.card)
            cache.prepare(s + 1)
            out.append(m.lm.decode(cache, tok, torch.full((b,), s), live, table, groups=groups))
    return torch.stack(out)  # [T, B, K, V]


def _codec_steps(m) -> list[tuple]:
    """The shapes of the codec's streaming step matrices: an LSTM layer's [4H, 2H], a transposed convolution's
    [Cout * kernel, Cin]."""
    from loopgen.models.encodec import SConvTranspose1d, SLSTM

    out = []
    for mod in m.codec.decoder.modules():
        if isinstance(mod, SLSTM):
            h = mod.lstm.hidden_size
            out += [(4 * h, 2 * h)] * mod.lstm.num_layers
        elif isinstance(mod, SConvTranspose1d) and mod.kernel == 2 * mod.stride:
            out.append((mod.conv.out_channels * mod.kernel, mod.conv.in_channels))
    return out


def test_int8_streams_its_codec_in_int8_close_to_float32():
    """An int8 model's codec streams through int8 step matrices (the LSTM's, the transposed convolutions': most of a
    frame's decode on the CPU), close to float32's stream; its offline decode stays float32, exactly."""
    import math

    from loopgen.streaming.decoder import IncrementalDecoder

    f32, i8 = load_model("random:tiny"), load_model("random:tiny", dtype="int8")
    steps = [d for m in i8.codec.decoder.modules() for d in _step_denses(m)]
    assert len(steps) == len(_codec_steps(i8)) and all(d.int8 is not None for d in steps)
    codes = torch.randint(0, 64, (1, i8.num_codebooks, 60), generator=torch.Generator().manual_seed(0))

    def stream(m):
        dec = IncrementalDecoder(m)
        return torch.cat([dec.push(codes[..., i : i + 1]) for i in range(60)] + [dec.flush()], -1).double()

    ref, out = stream(f32), stream(i8)
    snr = 10 * math.log10(ref.pow(2).mean() / (out - ref).pow(2).mean())
    assert 30 < snr < 120  # measured here: 41.7 dB (musicgen-small's codec, random weights: 58.6 dB)
    assert torch.equal(i8.decode(codes), f32.decode(codes))


def _step_denses(mod) -> list:
    from loopgen.models.encodec import SConvTranspose1d, SLSTM

    if isinstance(mod, SLSTM):
        return [d for d, _ in mod.step_weights()]
    if isinstance(mod, SConvTranspose1d) and mod.kernel == 2 * mod.stride:
        return [mod.step_matrix()]
    return []


def test_int8_logits_follow_float32(hf_mono):
    texts = ["warm keys", "dub techno with a long tail"]
    f32, i8 = load_model(str(hf_mono)), load_model(str(hf_mono), dtype="int8")
    assert i8.lm.packed and i8.lm.heads.int8 is not None and i8.lm.cross_kv.int8 is None
    codes = f32.generate(texts, seconds=0.6, top_k=1, seed=0).codes
    a = _teacher_forced(f32, codes, texts)
    for groups in (None, ALL_ROWS):  # each row its own activation scale; the rows' one
        b = _teacher_forced(i8, codes, texts, groups)
        assert (a - b).abs().max() < 0.15 * a.std()  # measured here: 0.06 against a spread of 1.0
        assert (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.9  # measured here: 0.98


def test_an_int8_row_does_not_depend_on_the_rows_beside_it():
    """fbgemm quantizes a call's activations with one scale: each group of rows is its own call, and a call without
    groups is one call per row."""
    m = load_model("random:tiny", dtype="int8")
    fc1 = m.lm.layers[0].fc1
    x = torch.randn(6, m.cfg.lm.dim) * torch.tensor([1.0, 50, 0.01, 3, 1, 7])[:, None]
    assert torch.equal(fc1(x)[2:3], fc1(x[2:3])) and torch.equal(fc1(x)[2:3], fc1(x[2:3], ALL_ROWS))  # row by row
    groups = (torch.tensor([4, 0]), torch.tensor([1, 3]))
    out = fc1(x, groups)
    assert torch.equal(out[[4, 0]], fc1(x[[4, 0]], ALL_ROWS)) and torch.equal(out[[1, 3]], fc1(x[[1, 3]], ALL_ROWS))
    assert not out[[2, 5]].any()  # rows of no group: not stepping
    assert not torch.equal(fc1(x, ALL_ROWS)[[0, 4]], out[[0, 4]])  # one call over all rows: row 1 sets the scale


def test_an_int8_take_plays_the_same_beside_another():
    """A take is the same music whether another plays beside it or not (the daemon's take, `render --from`): the
    engine quantizes each voice's activations apart. Measured before: 19 % of the codes agreed."""
    from loopgen.params import SamplingParams
    from loopgen.streaming import Batch, Session

    m = load_model("random:tiny", dtype="int8")

    def codes(crowd: bool) -> torch.Tensor:
        a = Session(m, "warm keys", SamplingParams(cfg_coef=3.0), 1, seconds=0.6)
        others = [Session(m, "loud noise drums", SamplingParams(cfg_coef=3.0), 2, seconds=0.6)] if crowd else []
        batch, out = Batch(m, [a, *others]), []
        while not a.done:
            out += [f.codes for s, f in batch.step() if s is a]
        return torch.cat(out, -1)

    assert torch.equal(codes(False), codes(True))


def test_int8_paths(tmp_path, capsys):
    from loopgen.cli import main

    m = load_model("random:tiny", dtype="int8")
    sd = m.state_dict()
    ref = load_model("random:tiny").state_dict()
    k = "lm.layers.0.fc1.weight"
    assert sd[k].shape == ref[k].shape and (sd[k] - ref[k]).abs().max() < ref[k].abs().max() / 100  # 1/127 steps
    with pytest.raises(LoopgenError, match="cannot be compiled"):
        m.engine(compile=True)
    out = tmp_path / "int8.wav"
    assert main(["render", "x", "-o", str(out), "--model", "random:tiny", "--dtype", "int8", "--seconds", "0.3"]) == 0
    assert "seed" in capsys.readouterr().err


def test_int8_values_are_torch_quantize_per_channels():
    """The fast int8 rounding (int8_values) gives exactly the values torch.quantize_per_channel gives, on weights
    with channels of very different scales, exact halves and zero rows."""
    import warnings

    from loopgen.models.lm import int8_values

    g = torch.Generator().manual_seed(0)
    w = torch.randn(512, 1024, generator=g) * torch.logspace(-6, 3, 512)[:, None]  # (a double reciprocal: 2 differ)
    w[3] = 0.0
    w[5, :8] = torch.arange(8) * 0.5  # exact multiples of half a step
    scale = (w.abs().amax(1).clamp(min=1e-8) / 127).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = torch.quantize_per_channel(w, scale, torch.zeros(512, dtype=torch.long), 0, torch.qint8).int_repr()
    assert torch.equal(int8_values(w, scale), ref)


def test_the_int8_store_spares_the_second_load_its_float_weights(hf_mono, tmp_path, monkeypatch):
    """The first int8 load writes the checkpoint's int8 values to the store; the second reads them instead of the
    float32 per-step weights (never read from the file) and runs exactly as the first."""
    import os
    import shutil

    from loopgen.models import lm as lm_mod
    from loopgen.models import weights

    monkeypatch.setenv("LOOPGEN_CACHE_DIR", str(tmp_path / "cache"))
    ckpt = tmp_path / "ckpt"
    shutil.copytree(hf_mono, ckpt)
    texts = ["warm keys"]
    first = load_model(str(ckpt), dtype="int8")
    stored = list((tmp_path / "cache" / "int8").glob("*.safetensors"))
    assert len(stored) == 1
    codes = first.generate(texts, seconds=0.4, top_k=1, seed=0).codes

    read: list[str] = []
    real, real_values = weights.read_safetensors, lm_mod.int8_values

    def recording(path, keep=None):
        for name, t in real(path, keep):
            read.append(name)
            yield name, t

    rounded: list[tuple] = []
    monkeypatch.setattr(weights, "read_safetensors", recording)
    monkeypatch.setattr(lm_mod, "int8_values", lambda w, s: rounded.append(tuple(w.shape)) or real_values(w, s))
    second = load_model(str(ckpt), dtype="int8")
    assert read and not [n for n in read if "fc1.weight" in n or "q_proj" in n or "lm_heads" in n]
    assert sorted(rounded) == sorted(_codec_steps(second))  # the codec's step matrices only: the LM's came stored
    assert "decoder.model.decoder.layers.0.encoder_attn.k_proj.weight" in read  # cross K/V stay float: read
    assert torch.equal(_teacher_forced(first, codes, texts), _teacher_forced(second, codes, texts))

    # a checkpoint rewritten in place is quantized afresh; its old store file goes
    st = (ckpt / "model.safetensors").stat()
    os.utime(ckpt / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    monkeypatch.setattr(lm_mod, "int8_values", lambda *a: read.append("rounded") or real_values(*a))
    load_model(str(ckpt), dtype="int8")
    now = list((tmp_path / "cache" / "int8").glob("*.safetensors"))
    assert "rounded" in read and len(now) == 1 and now != stored


def test_a_broken_or_unwritable_int8_store_costs_only_speed(hf_mono, tmp_path, monkeypatch):
    monkeypatch.setenv("LOOPGEN_CACHE_DIR", str(tmp_path / "cache"))
    texts = ["warm keys"]
    ref = load_model(str(hf_mono), dtype="int8")
    (path,) = (tmp_path / "cache" / "int8").glob("*.safetensors")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated: read as nothing, written again
    again = load_model(str(hf_mono), dtype="int8")
    codes = ref.generate(texts, seconds=0.4, top_k=1, seed=0).codes
    assert torch.equal(_teacher_forced(ref, codes, texts), _teacher_forced(again, codes, texts))
    assert load_model(str(hf_mono), dtype="int8") is not None and path.stat().st_size > 1000
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("LOOPGEN_CACHE_DIR", str(blocked))  # the store cannot be made: the load goes on
    assert torch.equal(_teacher_forced(load_model(str(hf_mono), dtype="int8"), codes, texts),
                       _teacher_forced(ref, codes, texts))



def test_the_activation_range_is_probed_not_read_from_the_cpus_flags(monkeypatch):
    """8-bit activations where fbgemm is exact with them (here: VNNI, by /proc/cpuinfo as the test's oracle only),
    7-bit where a probe that would saturate int16 pair sums comes out wrong."""
    from pathlib import Path

    from loopgen.models import lm

    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        assert lm.int8_full_range() == ("vnni" in cpuinfo.read_text())
    real = torch.ops.quantized.linear_dynamic

    def saturating(x, packed, reduce_range):  # an AVX2 CPU: a pair of u8 x s8 products clamped to int16
        y = real(x, packed, reduce_range)
        return y.clamp(max=32767 * (x.shape[-1] // 2)) if not reduce_range else y

    monkeypatch.setattr(torch.ops.quantized, "linear_dynamic", saturating)
    assert not lm.int8_full_range()
    monkeypatch.setattr(lm, "_REDUCE_RANGE", None)
    load_model("random:tiny", dtype="int8")
    assert lm._REDUCE_RANGE is True
