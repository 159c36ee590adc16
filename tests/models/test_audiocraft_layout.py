"""audiocraft's release layout for MusicGen (how many fine-tuned MusicGens are published): the same weights as
tests/conftest.py's transformers checkpoint (seed 0), exported by audiocraft (float16 LM, a pointer to
facebook/encodec_32khz), must load equal to the transformers layout and generate what audiocraft generated."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from loopgen import LoopgenError, load_model
from loopgen.models.magnet import Magnet
from tests.models.test_loading import _fake_hub_cache

REF = Path(__file__).parent / "reference" / "audiocraft"


@pytest.fixture()
def codec_in_hub(hf_mono, tmp_path, monkeypatch):
    """facebook/encodec_32khz in an offline hub cache: hf_mono's codec, saved by transformers."""
    from transformers import MusicgenForConditionalGeneration

    src = tmp_path / "encodec"
    MusicgenForConditionalGeneration.from_pretrained(hf_mono).audio_encoder.save_pretrained(src)
    cache = tmp_path / "hub"
    _fake_hub_cache(cache, "facebook/encodec_32khz", src)
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    return cache


def test_musicgen_release_equals_transformers_layout(hf_mono, codec_in_hub):
    from safetensors.torch import load_file

    a, b = load_model(str(REF / "musicgen")), load_model(str(hf_mono))
    assert type(a).__name__ == "MusicGen" and a.max_frames == 1500  # 30 s: sinusoids have no position limit
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:  # the release keeps the LM in float16: the same weights, rounded
        want = sb[k].half().float() if k.startswith(("lm.", "proj.")) else sb[k]
        assert torch.equal(sa[k].float(), want.float()), k
    refs = load_file(str(REF / "musicgen" / "refs.safetensors"))
    g = a.generate(["warm analog bass loop"], seconds=30 / 50, temperature=0.0, cfg_coef=3.0)
    assert torch.equal(g.codes, refs["greedy"])  # audiocraft's own greedy guided generation


def test_text_encoder_found_beside_given_or_missing(tmp_path, codec_in_hub):
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in ("state_dict.bin", "compression_state_dict.bin"):
        shutil.copy(REF / "musicgen" / f, bare / f)
    with pytest.raises(LoopgenError, match="google-t5/t5-base"):  # not beside, not cached, offline
        load_model(str(bare))
    given = load_model(str(bare), text_encoder=str(REF / "musicgen" / "t5"))
    beside = load_model(str(REF / "musicgen"))
    assert torch.equal(given.text.shared.weight, beside.text.shared.weight)


def test_magnet_from_the_hub_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    files = tmp_path / "files"  # the hub repo holds the two release files only; T5 is its own repo
    files.mkdir()
    for f in ("state_dict.bin", "compression_state_dict.bin"):
        shutil.copy(REF / "magnet-music" / f, files / f)
    _fake_hub_cache(cache, "facebook/magnet-small-10secs", files)
    _fake_hub_cache(cache, "google-t5/t5-base", REF / "magnet-music" / "t5")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    m = load_model("facebook/magnet-small-10secs")
    assert isinstance(m, Magnet) and m.name == "facebook/magnet-small-10secs"


def test_release_files_are_never_unpickled(tmp_path):
    """torch.load(weights_only=True): a file that needs arbitrary code is refused, not run."""
    bad = tmp_path / "bad"
    shutil.copytree(REF / "magnet-music", bad)

    class Evil:
        def __reduce__(self):
            return (print, ("this ran",))

    torch.save({"best_state": {}, "xp.cfg": "a: 1", "x": Evil()}, bad / "state_dict.bin")
    with pytest.raises(LoopgenError, match="cannot read"):
        load_model(str(bad))


def test_unsupported_config_is_named(tmp_path):
    import yaml

    bad = tmp_path / "bad"
    shutil.copytree(REF / "magnet-music", bad)
    pkg = torch.load(bad / "state_dict.bin", weights_only=True)
    cfg = yaml.safe_load(pkg["xp.cfg"])
    cfg["transformer_lm"]["positional_embedding"] = "rope"
    pkg["xp.cfg"] = yaml.safe_dump(cfg)
    torch.save(pkg, bad / "state_dict.bin")
    with pytest.raises(LoopgenError, match="non-sinusoidal positions"):
        load_model(str(bad))


def test_checkpoint_generation_defaults_are_used(tmp_path):
    """A solver config's `generate.lm` section (audiocraft's names) sets the model's decoding defaults."""
    import yaml

    own = tmp_path / "own"
    shutil.copytree(REF / "magnet-music", own)
    pkg = torch.load(own / "state_dict.bin", weights_only=True)
    cfg = yaml.safe_load(pkg["xp.cfg"])
    cfg["generate"] = {"lm": {"temp": 2.0, "top_p": 0.5, "use_sampling": False, "decoding_steps": [4, 2, 2, 2]}}
    pkg["xp.cfg"] = yaml.safe_dump(cfg)
    torch.save(pkg, own / "state_dict.bin")
    d = load_model(str(own)).defaults()
    assert (d.temperature, d.top_p, d.greedy, d.decoding_steps) == (2.0, 0.5, True, (4, 2, 2, 2))
    assert d.max_cfg_coef == 10.0  # the rest: the family's


def test_int8_is_refused_for_magnet():
    with pytest.raises(LoopgenError, match="int8 is for MusicGen"):
        load_model(str(REF / "magnet-music"), dtype="int8")


def test_an_audiocraft_layout_musicgen_keeps_its_int8_in_the_store(codec_in_hub, tmp_path, monkeypatch):
    from loopgen.models import lm as lm_mod

    monkeypatch.setenv("LOOPGEN_CACHE_DIR", str(tmp_path / "cache"))
    first = load_model(str(REF / "musicgen"), dtype="int8")
    assert len(list((tmp_path / "cache" / "int8").glob("*.safetensors"))) == 1
    from .test_int8 import _codec_steps

    rounded, real = [], lm_mod.int8_values
    monkeypatch.setattr(lm_mod, "int8_values", lambda w, s: rounded.append(tuple(w.shape)) or real(w, s))
    second = load_model(str(REF / "musicgen"), dtype="int8")
    assert sorted(rounded) == sorted(_codec_steps(second))  # the codec's step matrices only: the LM's came stored
    a, b = first.state_dict(), second.state_dict()  # int8 projections as their dequantized values
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
