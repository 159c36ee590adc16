"""Building a MusicGen or a MAGNeT from audiocraft's release layout (see audiocraft.py for the files)."""
from __future__ import annotations

from itertools import chain
from pathlib import Path

import torch

from ..errors import LoopgenError
from .audiocraft import (
    find_t5, generation_defaults, lm_config, lm_tensors, read_codec, read_lm, t5_name, t5_source,
)
from .config import MagnetConfig, MusicgenConfig
from .magnet import Magnet
from .base import CodecLM
from .musicgen import MusicGen
from .t5 import TextTokenizer
from .weights import load_weights


def load_release(folder: Path, name: str, device: torch.device, dtype: torch.dtype,
                 text_encoder: str | Path | None = None) -> CodecLM:
    """state_dict.bin + compression_state_dict.bin in `folder` (+ the T5 they name) -> a ready model."""
    state, cfg = read_lm(folder)
    lm, kind = lm_config(cfg)
    codec, codec_tensors = read_codec(folder)
    if codec.codebook_size != lm.card:
        raise LoopgenError(f"the codec has {codec.codebook_size} entries per codebook but the LM {lm.card}")
    t5_dir = find_t5(folder, t5_name(cfg), text_encoder)
    if not (t5_dir / "tokenizer.json").exists():
        raise LoopgenError(f"{t5_dir} has no tokenizer.json (the T5 folder needs one, as transformers saves it)")
    text, t5_tensors = t5_source(t5_dir)
    tokenizer = TextTokenizer.from_file(t5_dir / "tokenizer.json")
    common = dict(text=text, audio=codec, lm=lm, max_seconds=float(cfg.get("dataset", {}).get("segment_duration", 30)),
                  projection=True)
    with torch.device("meta"):
        if kind == "magnet":
            mcfg = MagnetConfig(
                **common, span_len=int(cfg.get("masking", {}).get("span_len", 3)),
                subcodes_context=int(cfg["transformer_lm"].get("subcodes_context", 5)),
                family="audio" if codec.sampling_rate == 16000 else "music",
                defaults=tuple(sorted(generation_defaults(cfg).items())),
            )
            model: CodecLM = Magnet(mcfg, tokenizer, name=name)
        else:
            model = MusicGen(MusicgenConfig(**common), tokenizer, name=name)
    model.lm.to(dtype)
    tensors = chain(lm_tensors(state, lm.dim), codec_tensors, t5_tensors)
    load_weights(model, folder, device, lm.card, lm.dim, tensors=tensors)
    return model.eval()
