"""Checkpoint loading through the real code paths: folders, the hub cache, every weight format and spelling."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from loopgen import LoopgenError, load_model


def _same_model(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.allclose(sa[k].float(), sb[k].float(), atol=1e-6), k


def _reference_run(m):
    return m.generate(["beat"], seconds=0.4, top_k=1, cfg_coef=3.0)


def test_weight_g_v_spelling_loads_the_same(hf_mono, tmp_path):
    """Older transformers saved weight norm as weight_g / weight_v (the released hub files do)."""
    from safetensors.torch import load_file, save_file

    old = tmp_path / "old"
    shutil.copytree(hf_mono, old)
    state = load_file(str(hf_mono / "model.safetensors"))
    renamed = {}
    for k, v in state.items():
        k = k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v")
        renamed[k] = v
    assert any(k.endswith("weight_g") for k in renamed)
    save_file(renamed, str(old / "model.safetensors"))
    a, b = load_model(str(hf_mono)), load_model(str(old))
    _same_model(a, b)
    assert torch.equal(_reference_run(a).codes, _reference_run(b).codes)


def test_pytorch_bin_and_sharded_safetensors(hf_mono, tmp_path):
    from safetensors.torch import load_file

    ref = load_model(str(hf_mono))
    binf = tmp_path / "bin"
    binf.mkdir()
    for f in ("config.json", "tokenizer.json"):
        shutil.copy(hf_mono / f, binf / f)
    torch.save(load_file(str(hf_mono / "model.safetensors")), binf / "pytorch_model.bin")
    _same_model(ref, load_model(str(binf)))

    from transformers import MusicgenForConditionalGeneration

    sharded = tmp_path / "sharded"
    MusicgenForConditionalGeneration.from_pretrained(hf_mono).save_pretrained(sharded, max_shard_size="200KB")
    shutil.copy(hf_mono / "tokenizer.json", sharded / "tokenizer.json")
    assert (sharded / "model.safetensors.index.json").exists()
    _same_model(ref, load_model(str(sharded)))


def test_a_checkpoint_is_the_first_model_a_process_loads(hf_mono, tmp_path):
    """A fresh process (as `loopgen render` or `serve` is) whose first model comes from a checkpoint: the model is
    built on "meta" and its first layer probes the CPU's kernels then, which must still run on the CPU (a probe's
    tensors made on "meta" failed every such load). In this test process an earlier random build has probed.
    Nor does building on "meta" import torch._dynamo (an embedding's random init there did: ~2 s of every load)."""
    from loopgen.models.kernels import runs

    code = ("import sys, torch; torch.set_num_threads(1)\n"
            "from loopgen import load_model\nfrom loopgen.models import lm\n"
            "before = 'torch._dynamo' in sys.modules\n"  # (a torch that imports it itself: nothing to assert)
            "m = load_model(sys.argv[1])\n"
            "print(lm._ONEDNN, m.generate(['beat'], seconds=0.2, top_k=1).codes.shape[-1],"
            " 'torch._dynamo' in sys.modules and not before)")
    env = {**os.environ, "LOOPGEN_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code, str(hf_mono)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    onednn, frames, dynamo = out.stdout.split()
    assert onednn == str(runs("onednn", torch.float32)) and int(frames) > 0
    assert dynamo == "False"


def _fake_hub_cache(cache: Path, repo: str, src: Path) -> None:
    """Lay out a huggingface_hub cache entry the way a download would."""
    rev = "0123456789abcdef0123456789abcdef01234567"
    root = cache / ("models--" + repo.replace("/", "--"))
    snap = root / "snapshots" / rev
    snap.mkdir(parents=True)
    for f in src.iterdir():
        shutil.copy(f, snap / f.name)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(rev)


def test_hub_id_loads_from_cache_offline(hf_mono, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    _fake_hub_cache(cache, "someone/musicgen-tiny", hf_mono)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    _same_model(load_model(str(hf_mono)), load_model("someone/musicgen-tiny"))


def test_not_cached_offline_says_how_to_fetch(tmp_path, monkeypatch):
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LoopgenError) as e:
        load_model("facebook/musicgen-small")
    msg = str(e.value)
    assert "not in the local Hugging Face cache" in msg
    assert "hf download facebook/musicgen-small" in msg and "random:small" in msg


@pytest.mark.parametrize("name", ["musicgen-tiny", "random:huge", "./no/such/folder"])
def test_unknown_model_id(name):
    with pytest.raises(LoopgenError, match="unknown model"):
        load_model(name)


def test_device_and_dtype_errors():
    if not torch.cuda.is_available():
        with pytest.raises(LoopgenError, match="not there"):
            load_model("random:tiny", device="cuda")
    with pytest.raises(LoopgenError, match="unknown device"):
        load_model("random:tiny", device="tpu9")
    with pytest.raises(LoopgenError, match="float16 is not supported on cpu"):
        load_model("random:tiny", device="cpu", dtype="float16")
    with pytest.raises(LoopgenError, match="unknown dtype"):
        load_model("random:tiny", dtype="int3")


def test_folder_without_weights(tmp_path, hf_mono):
    shutil.copy(hf_mono / "config.json", tmp_path / "config.json")
    shutil.copy(hf_mono / "tokenizer.json", tmp_path / "tokenizer.json")
    with pytest.raises(LoopgenError, match="no weights"):
        load_model(str(tmp_path))


def test_truncated_checkpoint_is_reported(hf_mono, tmp_path):
    from safetensors.torch import load_file, save_file

    part = tmp_path / "part"
    shutil.copytree(hf_mono, part)
    state = load_file(str(hf_mono / "model.safetensors"))
    state.pop("decoder.lm_heads.2.weight")
    save_file(state, str(part / "model.safetensors"))
    with pytest.raises(LoopgenError, match="lacks"):
        load_model(str(part))


def test_bfloat16_on_cpu_runs():
    m = load_model("random:tiny", dtype="bfloat16")
    assert m.dtype == torch.bfloat16
    g = m.generate(["x"], seconds=0.3, seed=1)
    assert g.codes.shape == (1, 4, 15) and torch.isfinite(g.audio).all()
