"""Seeded random models for offline runs, tests and benchmarks.

- `random:tiny`: a few small layers, real 32 kHz codec layout scaled down; runs fast on any CPU.
- `random:stereo-tiny`: the same with 8 interleaved stereo codebooks.
- `random:small`: exactly the musicgen-small architecture (T5-base, the 32 kHz EnCodec, 24-layer d=1024 LM).
- `random:medium`, `random:large`: the exact architectures of those sizes.
- `random:magnet-tiny` (2 s segments) and `random:magnet-small` (magnet-small-10secs' architecture): MAGNeTs.
- `random:melody-tiny` and `random:melody` (musicgen-melody's architecture): melody models (a chroma prefix).

Codebooks get random entries so decoded audio is not silent. The tokenizer is a byte-level one built in memory,
appending `</s>` like T5's.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import LoopgenError
from .lm import Dense
from .config import EncodecConfig, LMConfig, MagnetConfig, MelodyConfig, MusicgenConfig, T5Config
from .magnet import Magnet
from .melody import MusicgenMelody
from .base import CodecLM
from .musicgen import MusicGen
from .t5 import TextTokenizer

SEED = 1234

CONFIGS: dict[str, MusicgenConfig] = {
    "tiny": MusicgenConfig(
        text=T5Config(vocab_size=300, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4),
        audio=EncodecConfig(num_filters=8, hidden_size=32, codebook_dim=32),
        lm=LMConfig(dim=64, num_layers=2, num_heads=4, ffn_dim=128),
    ),
    "stereo-tiny": MusicgenConfig(
        text=T5Config(vocab_size=300, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4),
        audio=EncodecConfig(num_filters=8, hidden_size=32, codebook_dim=32),
        lm=LMConfig(dim=64, num_layers=2, num_heads=4, ffn_dim=128, num_codebooks=8, audio_channels=2),
    ),
    "small": MusicgenConfig(),  # the defaults are musicgen-small's
    # medium and large: audiocraft's model_scale configs (T5-base text encoder and the 32 kHz codec for all sizes)
    "medium": MusicgenConfig(lm=LMConfig(dim=1536, num_layers=48, num_heads=24, ffn_dim=6144)),
    "large": MusicgenConfig(lm=LMConfig(dim=2048, num_layers=48, num_heads=32, ffn_dim=8192)),
    # MAGNeT: tiny (2 s segments, for tests) and exactly magnet-small-10secs' architecture
    "magnet-tiny": MagnetConfig(
        text=T5Config(vocab_size=300, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4),
        audio=EncodecConfig(num_filters=8, hidden_size=32, codebook_dim=32),
        lm=LMConfig(dim=64, num_layers=2, num_heads=4, ffn_dim=128), max_seconds=2.0, projection=True,
    ),
    "magnet-small": MagnetConfig(max_seconds=10.0, projection=True),
    # melody: tiny, and musicgen-melody's architecture (medium's LM, no cross-attention, a 235-frame chroma prefix)
    "melody-tiny": MelodyConfig(
        text=T5Config(vocab_size=300, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4),
        audio=EncodecConfig(num_filters=8, hidden_size=32, codebook_dim=32),
        lm=LMConfig(dim=64, num_layers=2, num_heads=4, ffn_dim=128, cross_attention=False),
    ),
    "melody": MelodyConfig(lm=LMConfig(dim=1536, num_layers=48, num_heads=24, ffn_dim=6144, cross_attention=False)),
}


def byte_tokenizer():
    """A `tokenizers.Tokenizer`: <pad>=0, </s>=1, <unk>=2, then the 256 byte symbols; appends </s>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet())):
        vocab[ch] = 3 + i
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return tok


@torch.no_grad()
def init_random(model: CodecLM, seed: int = SEED) -> None:
    """Fill every parameter deterministically: torch's default layer init, N(0, 1) embeddings and codebooks."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.ConvTranspose1d)):
            fan_in = m.weight[0].numel() if not isinstance(m, nn.ConvTranspose1d) else m.weight.shape[0] * m.weight.shape[2]
            bound = fan_in**-0.5
            m.weight.uniform_(-bound, bound, generator=g)
            if m.bias is not None:
                m.bias.uniform_(-bound, bound, generator=g)
        elif isinstance(m, Dense):
            bound = m.weight.shape[1] ** -0.5
            m.weight.uniform_(-bound, bound, generator=g)
        elif isinstance(m, nn.LSTM):
            bound = m.hidden_size**-0.5
            for p in m.parameters():
                p.uniform_(-bound, bound, generator=g)
        elif isinstance(m, nn.Embedding):
            m.weight.normal_(0.0, 1.0, generator=g)
    model.lm.emb.normal_(0.0, 1.0, generator=g)
    for layer in model.codec.quantizer.layers:
        layer.codebook.embed.normal_(0.0, 1.0, generator=g)


def build_random(kind: str, device: torch.device, dtype: torch.dtype) -> CodecLM:
    if kind not in CONFIGS:
        raise LoopgenError(f"unknown model 'random:{kind}': use one of {', '.join('random:' + k for k in CONFIGS)}")
    cfg = CONFIGS[kind]
    cls = {MagnetConfig: Magnet, MelodyConfig: MusicgenMelody, MusicgenConfig: MusicGen}[type(cfg)]
    model = cls(CONFIGS[kind], TextTokenizer(byte_tokenizer()), name=f"random:{kind}")
    init_random(model)
    model.lm.to(dtype)
    return model.to(device).eval()
