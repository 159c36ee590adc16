"""Helpers shared by the benchmark scripts: a musicgen-small-architecture checkpoint written by transformers, and
peak-memory readings from /proc."""
from __future__ import annotations

import os
from pathlib import Path


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


SIZES = {  # LM (hidden, layers, heads, ffn) of each MusicGen size; T5-base and the 32 kHz EnCodec for all
    "small": (1024, 24, 16, 4096), "medium": (1536, 48, 24, 6144), "large": (2048, 48, 32, 8192),
}


def musicgen_checkpoint(folder: Path, size: str = "small") -> Path:
    """Write (once) a random-weight checkpoint of exactly musicgen-`size`'s architecture with save_pretrained."""
    if (folder / "model.safetensors").exists():
        return folder
    import torch
    from transformers import EncodecConfig, MusicgenConfig, MusicgenDecoderConfig, MusicgenForConditionalGeneration, T5Config

    from loopgen.models.random_models import byte_tokenizer

    torch.manual_seed(0)
    t5 = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12)
    enc = EncodecConfig(
        sampling_rate=32000, audio_channels=1, num_filters=64, upsampling_ratios=[8, 5, 4, 4], codebook_size=2048,
        hidden_size=128, target_bandwidths=[2.2], use_causal_conv=False, use_conv_shortcut=False, normalize=False,
    )
    hidden, layers, heads, ffn = SIZES[size]
    dec = MusicgenDecoderConfig(vocab_size=2048, hidden_size=hidden, num_hidden_layers=layers,
                                num_attention_heads=heads, ffn_dim=ffn, num_codebooks=4)
    model = MusicgenForConditionalGeneration(MusicgenConfig(text_encoder=t5, audio_encoder=enc, decoder=dec))
    with torch.no_grad():
        for name, b in model.named_buffers():
            if name.endswith("codebook.embed"):
                b.normal_()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    byte_tokenizer().save(str(folder / "tokenizer.json"))
    return folder


def weights_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.glob("*.safetensors"))


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)
    os.environ["OMP_NUM_THREADS"] = str(n)
