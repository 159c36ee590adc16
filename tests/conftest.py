"""Shared fixtures: tiny MusicGen checkpoints written by transformers' save_pretrained (no network)."""
from __future__ import annotations

import os
import tempfile
import asyncio
import contextlib
from pathlib import Path

# Two test workers share the cores, and a test on 2 torch threads keeps an OpenMP team that spins between its parallel
# regions (libgomp's default), taking the core the other worker's test needs (tests/streaming/test_bank.py: 20.5 s,
# 9.6 s without spinning). Their teams wait without spinning (read when libgomp loads: before torch; the processes
# the tests start inherit it). Bits do not depend on it; speed is measured in benchmarks/, not here.
os.environ.setdefault("GOMP_SPINCOUNT", "0")

import pytest  # noqa: E402
import torch  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LOOPGEN_CACHE_DIR", tempfile.mkdtemp(prefix="loopgen-test-cache-"))  # kernels.py: never ~
THREADS = 1  # every test runs on one torch thread (the daemon's own choice on 2 cores), whatever ran before it
# the processes tests start (`loopgen serve`, `render`) too: two test workers share the cores, so a daemon's adaptive
# policy would start each of them on every core; it is tested in-process (tests/models/test_threads.py, the takes
# replayed across a change in tests/server/test_takes.py, serve's default in tests/cli/test_cli.py)
os.environ.setdefault("LOOPGEN_THREADS", str(THREADS))
torch.set_num_threads(THREADS)


def _randomize(model: torch.nn.Module, seed: int) -> None:
    """transformers initialises with small weights and zero codebooks; give everything O(1)-scale random content
    so logits have clear maxima and decoded audio is not silent."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in**0.5)
            else:
                base = 1.0 if "norm" in name and name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith("codebook.embed"):
                b.copy_(torch.randn(b.shape, generator=g))
        for name, p in model.named_parameters():
            if "embed_tokens" in name or name.endswith("shared.weight"):
                p.copy_(torch.randn(p.shape, generator=g))


def _tiny_parts():
    """transformers configs of a tiny T5 and a scaled-down 32 kHz EnCodec (the real layout)."""
    from transformers import EncodecConfig, T5Config

    t5 = T5Config(vocab_size=300, d_model=24, d_kv=8, d_ff=48, num_layers=2, num_heads=3, feed_forward_proj="relu")
    enc = EncodecConfig(
        sampling_rate=32000, audio_channels=1, num_filters=4, upsampling_ratios=[8, 5, 4, 4], codebook_size=2048,
        hidden_size=16, codebook_dim=16, target_bandwidths=[2.2], use_causal_conv=False, use_conv_shortcut=False,
        num_lstm_layers=2, normalize=False, pad_mode="reflect",
    )
    return t5, enc


def write_hf_checkpoint(folder: Path, stereo: bool = False, seed: int = 0, melody: bool = False, **save_kw) -> Path:
    """A tiny random MusicgenForConditionalGeneration (melody: MusicgenMelodyForConditionalGeneration, 512
    positions: a 235-frame chroma prefix, the text and a few seconds of frames) with the real 32 kHz codec layout
    scaled down, saved with save_pretrained, plus a tokenizer.json."""
    import transformers as T

    from loopgen.models.random_models import byte_tokenizer

    kind = "MusicgenMelody" if melody else "Musicgen"
    t5, enc = _tiny_parts()
    dec = getattr(T, f"{kind}DecoderConfig")(
        vocab_size=2048, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64,
        num_codebooks=8 if stereo else 4, audio_channels=2 if stereo else 1,
        max_position_embeddings=512 if melody else 256,
    )
    torch.manual_seed(seed)
    config = getattr(T, f"{kind}Config")(text_encoder=t5, audio_encoder=enc, decoder=dec)
    model = getattr(T, f"{kind}ForConditionalGeneration")(config)
    _randomize(model, seed)
    if not melody:
        model.generation_config.max_length = 256
    model.save_pretrained(folder, **save_kw)
    byte_tokenizer().save(str(folder / "tokenizer.json"))
    return folder


def write_hf_melody_checkpoint(folder: Path, stereo: bool = False, seed: int = 0) -> Path:
    return write_hf_checkpoint(folder, stereo, seed, melody=True)


@pytest.fixture(scope="session")
def hf_melody(tmp_path_factory) -> Path:
    return write_hf_melody_checkpoint(tmp_path_factory.mktemp("hf_melody"), seed=5)


@pytest.fixture(scope="session")
def hf_stereo_melody(tmp_path_factory) -> Path:
    return write_hf_melody_checkpoint(tmp_path_factory.mktemp("hf_stereo_melody"), stereo=True, seed=6)


@pytest.fixture(scope="session")
def hf_mono(tmp_path_factory) -> Path:
    return write_hf_checkpoint(tmp_path_factory.mktemp("hf_mono"))


@pytest.fixture(scope="session")
def hf_stereo(tmp_path_factory) -> Path:
    return write_hf_checkpoint(tmp_path_factory.mktemp("hf_stereo"), stereo=True, seed=1)


@pytest.fixture(autouse=True)
def _threads_put_back():
    """The CLI's render and serve set torch's thread count for the process: put it back after each test, so no
    test's speed or bits depend on which tests ran before it."""
    yield
    if torch.get_num_threads() != THREADS:
        torch.set_num_threads(THREADS)


@pytest.fixture
def two_threads():
    """torch on 2 threads for one test (a daemon's count that differs from render's own policy; `_threads_put_back`
    ends it). Bit-for-bit comparisons pin it: oneDNN's choices, and so the last bits, depend on the thread count and
    on the rows of a call (on this CPU, 2 threads give the same bits for 2 to 16 rows; 1 thread changes them from 16
    rows on: docs/streaming.md)."""
    torch.set_num_threads(2)
    yield


@pytest.fixture(scope="session")
def tiny():
    from loopgen import load_model

    return load_model("random:tiny")


@pytest.fixture(scope="session")
def stereo():
    from loopgen import load_model

    return load_model("random:stereo-tiny")


# -- a real daemon on 127.0.0.1 (ephemeral ports, random:tiny, headless audio) ------------------------------------
@contextlib.asynccontextmanager
async def running(tmp_path, **kw):
    from loopgen.server import Config, Server

    # admission by count unless a test is about real-time admission: these tests run takes side by side on whatever
    # CPU CI has, where real-time admission would (rightly) refuse the second one on a slow or loaded machine
    kw = {"model": "random:tiny", "ws_port": 0, "osc_port": 0, "loops_dir": tmp_path / "loops", "audio_device": "none",
          "admission": "count", "measure_speed": False, **kw}  # the speed at start: its own tests
    cfg = Config(**kw)
    server = Server(cfg)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def serve(tmp_path):
    """serve(scenario, **config): run `await scenario(server)` against a fresh server."""

    def run(scenario, **kw):
        async def main():
            async with running(tmp_path, **kw) as server:
                return await asyncio.wait_for(scenario(server), 120)

        return asyncio.run(main())

    return run
