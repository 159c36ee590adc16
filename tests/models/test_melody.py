"""musicgen-melody: our chroma equals transformers' feature extractor, our melody LM equals transformers' on tiny
checkpoints transformers wrote (mono and stereo), and the chroma follows the pitches played."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from loopgen import load_model
from loopgen.errors import LoopgenError
from loopgen.models.chroma import PITCH_CLASSES, Chroma, chroma_filter_bank, from_pitch_classes, pitch_classes

transformers = pytest.importorskip("transformers")
REF = Path(__file__).parent / "reference"
sys.path.insert(0, str(REF))
from melody_signals import signals  # noqa: E402

from .test_parity import _hf_generate_codes  # noqa: E402

SR = 32000


def hf_melody_model(folder):
    from transformers import MusicgenMelodyForConditionalGeneration

    return MusicgenMelodyForConditionalGeneration.from_pretrained(folder).eval()


def sine_notes(midi: list[int], seconds: float = 0.5, sr: int = SR) -> np.ndarray:
    per = int(seconds * sr)
    f = np.repeat(440.0 * 2.0 ** ((np.asarray(midi) - 69) / 12), per)
    return (0.5 * np.sin(2 * np.pi * np.cumsum(f) / sr)).astype(np.float32)


# -- the chroma front end -----------------------------------------------------------------------------------------
def test_filter_bank_equals_transformers():
    from transformers.audio_utils import chroma_filter_bank as theirs

    for sr, n_fft in [(32000, 16384), (32000, 2048), (16000, 4096)]:
        ref = theirs(num_frequency_bins=n_fft, num_chroma=12, sampling_rate=sr, tuning=0)
        assert np.array_equal(chroma_filter_bank(sr, n_fft), ref)


@pytest.mark.parametrize("name", ["scale_32k", "short_32k", "long_32k", "noise_32k", "stereo_44k"])
def test_chroma_equals_feature_extractor(name):
    """Committed references from transformers' MusicgenMelodyFeatureExtractor (make_melody_refs.py). At 32 kHz the
    one-hot chroma is identical frame for frame; a 44.1 kHz melody is resampled by soxr here and by torchaudio
    there, so there the frames agree except where two pitch classes are all but tied."""
    ref = np.load(REF / "melody" / "chroma.npz")[name]
    wav, sr = signals()[name]
    ours = Chroma()(wav, sr)  # [T, 12]
    assert ours.shape == (len(ref), 12)
    assert torch.equal(ours.sum(-1), torch.ones(len(ref)))  # one-hot
    got = ours.argmax(-1).numpy()
    if sr == SR:
        assert np.array_equal(got, ref)
    else:
        assert (got == ref).mean() >= 0.95
    if name == "long_32k":
        assert len(ref) == 235  # cut to 30 s


def test_chroma_follows_the_pitches_played():
    """A sequence of sine notes of known pitch: the chroma frames inside each note name that note's pitch class."""
    melody = [60, 64, 67, 69, 62, 65, 71, 66, 61, 70]  # C E G A D F B F# C# A#
    chroma = Chroma()(sine_notes(melody), SR)
    hop_s = 4096 / SR
    for i, note in enumerate(melody):
        mid = int(round((i * 0.5 + 0.25) / hop_s))  # the frame centred in the note
        got = int(chroma[mid].argmax())
        assert PITCH_CLASSES[got] == PITCH_CLASSES[note % 12], (i, PITCH_CLASSES[got])


def test_pitch_classes_round_trip_and_errors():
    chroma = Chroma()(sine_notes([60, 62, 64]), SR)
    assert torch.equal(from_pitch_classes(pitch_classes(chroma)), chroma)
    for bad in ([], [12], [-1]):
        with pytest.raises(LoopgenError):
            from_pitch_classes(bad)


# -- the melody LM against transformers ---------------------------------------------------------------------------
def _prefix_logits(ours, texts, chroma, seq):
    """Our LM teacher-forced one step at a time after the prefix: logits [B, K, T, V]."""
    b, k, t = seq.shape
    prefix = torch.cat([ours.prefix([txt], chroma if chroma is None else chroma[i], guided=False)
                        for i, txt in enumerate(texts)])  # [B, P, D]
    p = prefix.shape[1]
    cache = ours.lm.new_cache(b, p + t)
    rows = torch.arange(b)
    ours.lm.prefill_embeds(cache, rows, prefix, 0)
    table = ours.lm.position_table(p + t)
    live = torch.ones(b, dtype=torch.bool)
    out = []
    with torch.inference_mode():
        for step in range(t):
            cache.prepare(p + step + 1)
            out.append(ours.lm.decode(cache, seq[:, :, step], torch.full((b,), p + step), live, table))
    return torch.stack(out, dim=2)


@pytest.mark.parametrize("which", ["hf_melody", "hf_stereo_melody"])
@pytest.mark.parametrize("with_melody", [True, False])
def test_logits_close_every_step(which, with_melody, request):
    folder = request.getfixturevalue(which)
    ours, ref = load_model(str(folder)), hf_melody_model(folder)
    texts = ["warm rhodes chords", "acid bass line 303"]  # the same token count: transformers pads a batch
    ids, mask = ours.tokenizer(texts)
    assert bool(mask.all())
    chroma = None
    if with_melody:
        chroma = torch.stack([Chroma()(sine_notes([60, 64, 67, 72]), SR), Chroma()(sine_notes([57, 53, 50, 45]), SR)])
    b, k, t = 2, ours.num_codebooks, 30
    seq = torch.randint(0, 2049, (b, k, t), generator=torch.Generator().manual_seed(2))
    seq[:, :, 0] = 2048
    kw = {} if chroma is None else {"input_features": chroma}
    with torch.no_grad():
        theirs = ref(input_ids=ids, attention_mask=mask, decoder_input_ids=seq.reshape(b * k, t), **kw).logits
    theirs = theirs.view(b, k, -1, theirs.shape[-1])[:, :, -t:]
    mine = _prefix_logits(ours, texts, chroma, seq)
    err = (mine - theirs).abs().max()
    assert err < 1e-4, err


@pytest.mark.parametrize("which", ["hf_melody", "hf_stereo_melody"])
@pytest.mark.parametrize("with_melody", [True, False])
def test_greedy_guided_generation_identical(which, with_melody, request):
    folder = request.getfixturevalue(which)
    ours, ref = load_model(str(folder)), hf_melody_model(folder)
    texts = ["drums and a lead", "slow pad strings"]  # equal token counts: transformers pads a batch
    frames = 48
    ids, mask = ours.tokenizer(texts)
    assert bool(mask.all())
    delay = max(ours.cfg.lm.delays)
    melody = np.stack([sine_notes([60, 62, 64, 65, 67, 69]), sine_notes([72, 71, 69, 67, 65, 64])])[:, None]
    kw = {}
    if with_melody:
        kw["input_features"] = torch.stack([Chroma()(w, SR) for w in melody])
    theirs, audio = _hf_generate_codes(ref, input_ids=ids, attention_mask=mask, do_sample=False, guidance_scale=3.0,
                                       max_new_tokens=frames + delay, **kw)
    mine = ours.generate(texts, seconds=frames / 50, top_k=1, cfg_coef=3.0, seed=0,
                         melody=melody if with_melody else None, melody_sample_rate=SR)
    assert mine.codes.shape == theirs.shape == (2, ours.num_codebooks, frames)
    assert torch.equal(mine.codes, theirs)
    assert (mine.audio - audio).abs().max() < 1e-4
    assert mine.melody == ("raw audio" if with_melody else None)
    if with_melody:  # the melody reaches the model: without it the music differs
        assert not torch.equal(mine.codes, ours.generate(texts, seconds=frames / 50, top_k=1, cfg_coef=3.0).codes)


@pytest.mark.parametrize("which", ["hf_melody", "hf_stereo_melody"])
def test_continuation_identical(which, request):
    folder = request.getfixturevalue(which)
    ours, ref = load_model(str(folder)), hf_melody_model(folder)
    texts = ["keep going now"]
    prompt = torch.randn(1, ours.channels, SR // 2, generator=torch.Generator().manual_seed(3)) * 0.3  # 25 frames
    melody = sine_notes([64, 67, 71, 74])
    codes = ours.encode(prompt, SR)  # [1, K, 25]
    ids, mask = ours.tokenizer(texts)
    new, delay = 40, max(ours.cfg.lm.delays)
    theirs, _ = _hf_generate_codes(
        ref, input_ids=ids, attention_mask=mask, input_features=Chroma()(melody, SR)[None],
        decoder_input_ids=codes.reshape(-1, codes.shape[-1]), do_sample=False, guidance_scale=3.0,
        max_new_tokens=new + delay,
    )
    mine = ours.generate(texts, seconds=new / 50, top_k=1, cfg_coef=3.0, prompt_audio=prompt, prompt_sample_rate=SR,
                         melody=melody, melody_sample_rate=SR)
    assert mine.prompt_frames == 25
    assert torch.equal(mine.codes[:, :, :25], codes)
    assert torch.equal(mine.codes, theirs)


# -- the API ------------------------------------------------------------------------------------------------------
def test_one_melody_per_row_or_none():
    """A row's music depends on its own melody only: [melody, None] rows equal each row made alone."""
    m = load_model("random:melody-tiny")
    a = sine_notes([60, 64, 67])
    both = m.generate(["one", "two"], seconds=0.6, seed=7, melody=[a, None], melody_sample_rate=SR)
    first = m.generate("one", seconds=0.6, seed=7, melody=a, melody_sample_rate=SR)
    second = m.generate("two", seconds=0.6, seed=8)
    assert torch.equal(both.codes[0], first.codes[0]) and torch.equal(both.codes[1], second.codes[0])
    # any rate and channel count: a stereo 48 kHz copy gives the same chroma, so (here) the same music
    st = np.stack([sine_notes([60, 64, 67], sr=48000)] * 2)
    again = m.generate("one", seconds=0.6, seed=7, melody=st, melody_sample_rate=48000)
    assert torch.equal(m.melodies(st, 48000, 1)[0][0], m.melodies(a, SR, 1)[0][0])
    assert torch.equal(again.codes, first.codes)


def test_melody_errors():
    m = load_model("random:melody-tiny")
    a = sine_notes([60])
    with pytest.raises(LoopgenError, match="melody_sample_rate"):
        m.generate("x", seconds=0.2, melody=a)
    with pytest.raises(LoopgenError, match="melodies for 2"):
        m.generate(["x", "y"], seconds=0.2, melody=[a], melody_sample_rate=SR)
    with pytest.raises(LoopgenError, match="NaN"):
        m.generate("x", seconds=0.2, melody=np.full(100, np.nan, np.float32), melody_sample_rate=SR)
    with pytest.raises(LoopgenError, match="takes no melody"):
        load_model("random:tiny").generate("x", seconds=0.2, melody=a, melody_sample_rate=SR)
