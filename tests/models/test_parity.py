"""Our MusicGen equals transformers' on checkpoints transformers itself wrote."""
from __future__ import annotations

import pytest
import torch

from loopgen import load_model

transformers = pytest.importorskip("transformers")


def hf_model(folder):
    from transformers import MusicgenForConditionalGeneration

    return MusicgenForConditionalGeneration.from_pretrained(folder).eval()


def test_encode_codes_equal(hf_mono):
    ours, ref = load_model(str(hf_mono)), hf_model(hf_mono)
    wav = torch.randn(2, 1, 32000 * 2 + 123, generator=torch.Generator().manual_seed(0)) * 0.3
    with torch.no_grad():
        theirs = ref.audio_encoder.encode(wav).audio_codes[0]  # [B, K, T]
    mine = ours.encode(wav, 32000)
    assert mine.shape == theirs.shape
    assert torch.equal(mine, theirs)


def test_decode_close(hf_mono):
    ours, ref = load_model(str(hf_mono)), hf_model(hf_mono)
    codes = torch.randint(0, 2048, (2, 4, 77), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = ref.audio_encoder.decode(codes[None], [None]).audio_values
    mine = ours.decode(codes)
    assert mine.shape == theirs.shape == (2, 1, 77 * 640)
    assert theirs.abs().max() > 1e-2  # not silent
    assert (mine - theirs).abs().max() < 1e-4


def test_t5_states_close(hf_mono):
    ours, ref = load_model(str(hf_mono)), hf_model(hf_mono)
    ids, mask = ours.tokenizer(["a short one", "a much longer prompt about lo-fi drums and tape hiss"])
    assert mask[0].sum() < mask[1].sum()
    with torch.no_grad():
        theirs = ref.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    mine = ours.text(ids, mask)
    valid = mask.bool()
    assert (mine[valid] - theirs[valid]).abs().max() < 1e-4


def test_lm_logits_close_every_step(hf_mono):
    """Teacher-forced: transformers' full forward vs our cached one-step-at-a-time forward, every step."""
    ours, ref = load_model(str(hf_mono)), hf_model(hf_mono)
    texts = ["warm rhodes", "an acid bassline with a long filter sweep"]
    ids, mask = ours.tokenizer(texts)
    b, k, t = 2, 4, 40
    seq = torch.randint(0, 2049, (b, k, t), generator=torch.Generator().manual_seed(2))
    seq[:, :, 0] = 2048
    with torch.no_grad():
        theirs = ref(input_ids=ids, attention_mask=mask, decoder_input_ids=seq.reshape(b * k, t)).logits
    theirs = theirs.view(b, k, t, -1)
    states, smask = ours.encode_text(texts, guided=False)
    cache = ours.lm.new_cache(b, t, states.shape[1])
    ours.lm.condition(cache, torch.arange(b), states, smask)
    table = ours.lm.position_table(t)
    live = torch.ones(b, dtype=torch.bool)
    with torch.inference_mode():
        for step in range(t):
            pos = torch.full((b,), step)
            cache.prepare(step + 1)  # the caller's obligation: the cache is allocated uninitialised
            mine = ours.lm.decode(cache, seq[:, :, step], pos, live, table)  # [B, K, V], the fixed-shape step
            assert (mine - theirs[:, :, step]).abs().max() < 1e-4, step


def _hf_generate_codes(ref, **kw):
    """transformers' generate decodes to audio; record the codes it hands the codec."""
    seen = []
    orig = ref.audio_encoder.decode

    def spy(audio_codes, *a, **k):
        seen.append(audio_codes[0].clone())
        return orig(audio_codes, *a, **k)

    ref.audio_encoder.decode = spy
    try:
        with torch.no_grad():
            audio = ref.generate(**kw)
    finally:
        ref.audio_encoder.decode = orig
    codes = seen[0] if len(seen) == 1 else torch.stack([seen[0], seen[1]], dim=2).flatten(1, 2)
    return codes, audio


@pytest.mark.parametrize("which,onednn", [("hf_mono", True), ("hf_stereo", True), ("hf_mono", False)])
def test_greedy_guided_generation_identical(which, onednn, request, monkeypatch):
    """onednn False: the plain F.linear path over unpacked weights, the one CUDA and torch.compile take."""
    folder = request.getfixturevalue(which)
    ours, ref = load_model(str(folder)), hf_model(folder)
    if not onednn:
        from loopgen.models.lm import Dense

        ours.lm.unpack()
        monkeypatch.setattr(Dense, "onednn", False)
        assert not ours.lm.packed
    texts = ["drums", "a long dreamy ambient pad with slow evolving strings"]
    frames = 64
    ids, mask = ours.tokenizer(texts)
    k = ours.num_codebooks
    delay = max(ours.cfg.lm.delays)
    theirs, audio = _hf_generate_codes(
        ref, input_ids=ids, attention_mask=mask, do_sample=False, guidance_scale=3.0, max_new_tokens=frames + delay
    )
    mine = ours.generate(texts, seconds=frames / 50, top_k=1, cfg_coef=3.0, seed=0)
    assert mine.codes.shape == (2, k, frames)
    assert torch.equal(mine.codes, theirs)
    assert mine.audio.shape == audio.shape
    assert (mine.audio - audio).abs().max() < 1e-4


@pytest.mark.parametrize("which", ["hf_mono", "hf_stereo"])
def test_continuation_identical(which, request):
    folder = request.getfixturevalue(which)
    ours, ref = load_model(str(folder)), hf_model(folder)
    texts = ["keep going", "continue this groove with more hats"]
    c = ours.channels
    prompt = torch.randn(2, c, 32000 // 2, generator=torch.Generator().manual_seed(3)) * 0.3  # 0.5 s = 25 frames
    ids, mask = ours.tokenizer(texts)
    new = 40
    delay = max(ours.cfg.lm.delays)
    theirs, _ = _hf_generate_codes(
        ref, input_ids=ids, attention_mask=mask, input_values=prompt, do_sample=False, guidance_scale=3.0,
        max_new_tokens=new + delay,
    )
    mine = ours.generate(texts, seconds=new / 50, top_k=1, cfg_coef=3.0, prompt_audio=prompt, prompt_sample_rate=32000)
    assert mine.prompt_frames == 25
    assert mine.codes.shape == (2, ours.num_codebooks, 25 + new)
    assert torch.equal(mine.codes[:, :, :25], ours.encode(prompt, 32000))
    assert torch.equal(mine.codes, theirs)
