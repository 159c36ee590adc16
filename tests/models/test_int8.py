"""int8 on the CPU: close to float32 step by step, and a working load / render / refusal path."""
from __future__ import annotations

import pytest
import torch

from loopgen import LoopgenError, load_model


def _teacher_forced(m, codes, texts):
    states, mask = m.encode_text(texts, guided=False)
    b, t = codes.shape[0], codes.shape[-1]
    cache = m.lm.new_cache(b, t + 1, states.shape[1])
    m.lm.condition(cache, torch.arange(b), states, mask)
    table, live, out = m.lm.position_table(t + 1), torch.ones(b, dtype=torch.bool), []
    with torch.inference_mode():
        for s in range(t):
            tok = codes[:, :, s - 1] if s else torch.full((b, m.num_codebooks), m.cfg.lm.card)
            cache.prepare(s + 1)
            out.append(m.lm.decode(cache, tok, torch.full((b,), s), live, table))
    return torch.stack(out)  # [T, B, K, V]


def test_int8_logits_follow_float32(hf_mono):
    texts = ["warm keys", "dub techno with a long tail"]
    f32, i8 = load_model(str(hf_mono)), load_model(str(hf_mono), dtype="int8")
    assert i8.lm.packed and i8.lm.heads.int8 is not None and i8.lm.cross_kv.int8 is None
    codes = f32.generate(texts, seconds=0.6, top_k=1, seed=0).codes
    a, b = _teacher_forced(f32, codes, texts), _teacher_forced(i8, codes, texts)
    assert (a - b).abs().max() < 0.15 * a.std()  # measured here: 0.06 against a spread of 1.0
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.9  # measured here: 0.98


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
