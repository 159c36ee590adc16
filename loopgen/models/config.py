"""Typed configurations of the three parts of a MusicGen checkpoint, read from transformers' config.json."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import LoopgenError


@dataclass(frozen=True)
class EncodecConfig:
    sampling_rate: int = 32000
    audio_channels: int = 1
    num_filters: int = 64
    upsampling_ratios: tuple[int, ...] = (8, 5, 4, 4)
    hidden_size: int = 128
    codebook_size: int = 2048
    codebook_dim: int = 128
    num_quantizers: int = 4
    kernel_size: int = 7
    last_kernel_size: int = 7
    residual_kernel_size: int = 3
    dilation_growth_rate: int = 2
    num_residual_layers: int = 1
    compress: int = 2
    num_lstm_layers: int = 2
    use_conv_shortcut: bool = False
    pad_mode: str = "reflect"
    use_causal_conv: bool = False

    @property
    def hop_length(self) -> int:
        return math.prod(self.upsampling_ratios)

    @property
    def frame_rate(self) -> int:
        return math.ceil(self.sampling_rate / self.hop_length)

    @classmethod
    def from_hf(cls, d: dict[str, Any]) -> "EncodecConfig":
        if d.get("norm_type", "weight_norm") != "weight_norm":
            raise LoopgenError(f"EnCodec norm_type {d.get('norm_type')!r} is not supported (only weight_norm)")
        if d.get("normalize", False) or d.get("chunk_length_s") is not None:
            raise LoopgenError("EnCodec with normalize or chunking is not supported (MusicGen's 32 kHz codec uses neither)")
        ratios = tuple(d.get("upsampling_ratios", (8, 5, 4, 2)))
        sr = int(d.get("sampling_rate", 24000))
        hidden = int(d.get("hidden_size", 128))
        codebook_size = int(d.get("codebook_size", 1024))
        frame_rate = math.ceil(sr / math.prod(ratios))
        bits = math.ceil(math.log2(codebook_size))
        bandwidths = d.get("target_bandwidths", [1.5, 3.0, 6.0, 12.0, 24.0])
        num_q = int(1000 * bandwidths[-1] // (frame_rate * bits))
        return cls(
            sampling_rate=sr,
            audio_channels=int(d.get("audio_channels", 1)),
            num_filters=int(d.get("num_filters", 32)),
            upsampling_ratios=ratios,
            hidden_size=hidden,
            codebook_size=codebook_size,
            codebook_dim=int(d.get("codebook_dim") or hidden),
            num_quantizers=num_q,
            kernel_size=int(d.get("kernel_size", 7)),
            last_kernel_size=int(d.get("last_kernel_size", 7)),
            residual_kernel_size=int(d.get("residual_kernel_size", 3)),
            dilation_growth_rate=int(d.get("dilation_growth_rate", 2)),
            num_residual_layers=int(d.get("num_residual_layers", 1)),
            compress=int(d.get("compress", 2)),
            num_lstm_layers=int(d.get("num_lstm_layers", 2)),
            use_conv_shortcut=bool(d.get("use_conv_shortcut", True)),
            pad_mode=str(d.get("pad_mode", "reflect")),
            use_causal_conv=bool(d.get("use_causal_conv", True)),
        )


@dataclass(frozen=True)
class T5Config:
    vocab_size: int = 32128
    d_model: int = 768
    d_kv: int = 64
    d_ff: int = 3072
    num_layers: int = 12
    num_heads: int = 12
    num_buckets: int = 32
    max_distance: int = 128
    eps: float = 1e-6
    gated: bool = False
    act: str = "relu"

    @classmethod
    def from_hf(cls, d: dict[str, Any]) -> "T5Config":
        proj = str(d.get("feed_forward_proj", "relu"))
        gated = proj.startswith("gated-")
        act = proj.split("-")[-1]
        if act not in ("relu", "gelu", "gelu_new"):
            raise LoopgenError(f"T5 feed_forward_proj {proj!r} is not supported")
        return cls(
            vocab_size=int(d.get("vocab_size", 32128)),
            d_model=int(d.get("d_model", 512)),
            d_kv=int(d.get("d_kv", 64)),
            d_ff=int(d.get("d_ff", 2048)),
            num_layers=int(d.get("num_layers", 6)),
            num_heads=int(d.get("num_heads", 8)),
            num_buckets=int(d.get("relative_attention_num_buckets", 32)),
            max_distance=int(d.get("relative_attention_max_distance", 128)),
            eps=float(d.get("layer_norm_epsilon", 1e-6)),
            gated=gated,
            act=act,
        )


@dataclass(frozen=True)
class LMConfig:
    card: int = 2048  # entries per codebook; id `card` is the pad / start token
    dim: int = 1024
    num_layers: int = 24
    num_heads: int = 16
    ffn_dim: int = 4096
    num_codebooks: int = 4
    audio_channels: int = 1
    max_positions: int = 2048
    scale_embedding: bool = False
    activation: str = "gelu"
    cross_attention: bool = True  # False: conditioning is a prefix of the sequence (musicgen-melody)

    @property
    def smallest(self) -> bool:
        """No released model is smaller: an LM no wider or deeper than musicgen-small's (the defaults here), the
        smallest MusicGen and MAGNeT (what the daemon's speed line may suggest)."""
        return self.dim <= LMConfig.dim and self.num_layers <= LMConfig.num_layers

    @property
    def delays(self) -> tuple[int, ...]:
        """Delay (in steps) of each codebook: k for mono, k//2 for interleaved stereo [L0,R0,L1,R1,...]."""
        if self.audio_channels == 2:
            return tuple(k // 2 for k in range(self.num_codebooks))
        return tuple(range(self.num_codebooks))

    @classmethod
    def from_hf(cls, d: dict[str, Any]) -> "LMConfig":
        act = str(d.get("activation_function", "gelu"))
        if act not in ("gelu", "relu", "gelu_new"):
            raise LoopgenError(f"decoder activation {act!r} is not supported")
        return cls(
            card=int(d.get("vocab_size", 2048)),
            dim=int(d.get("hidden_size", 1024)),
            num_layers=int(d.get("num_hidden_layers", 24)),
            num_heads=int(d.get("num_attention_heads", 16)),
            ffn_dim=int(d.get("ffn_dim", 4096)),
            num_codebooks=int(d.get("num_codebooks", 4)),
            audio_channels=int(d.get("audio_channels", 1)),
            max_positions=int(d.get("max_position_embeddings", 2048)),
            scale_embedding=bool(d.get("scale_embedding", False)),
            activation=act,
        )


@dataclass(frozen=True)
class MusicgenConfig:
    text: T5Config = field(default_factory=T5Config)
    audio: EncodecConfig = field(default_factory=EncodecConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    max_seconds: float = 30.0  # the training window
    projection: bool | None = None  # text -> LM projection; None: when the widths differ (transformers' rule)

    @property
    def has_projection(self) -> bool:
        return self.text.d_model != self.lm.dim if self.projection is None else self.projection

    @classmethod
    def from_hf(cls, d: dict[str, Any], preprocessor: dict[str, Any] | None = None) -> "MusicgenConfig":
        """config.json of a transformers checkpoint -> MusicgenConfig, or MelodyConfig for a melody model
        (`preprocessor`: its preprocessor_config.json, the chroma front end's settings, if the folder has one)."""
        model_type = d.get("model_type")
        if model_type not in ("musicgen", "musicgen_melody"):
            raise LoopgenError(
                f"checkpoint model_type {model_type!r} is not supported (loopgen loads 'musicgen' and "
                "'musicgen_melody' checkpoints)"
            )
        dec = d["decoder"]
        if dec.get("cross_attention_hidden_size") not in (None, dec.get("hidden_size")):
            raise LoopgenError("decoder cross_attention_hidden_size differs from hidden_size: not supported")
        parts = dict(text=T5Config.from_hf(d["text_encoder"]), audio=EncodecConfig.from_hf(d["audio_encoder"]))
        if model_type == "musicgen":
            return cls(lm=LMConfig.from_hf(dec), **parts)
        pre = preprocessor or {}
        lm = replace(LMConfig.from_hf(dec), cross_attention=False)
        melody = MelodyConfig(
            lm=lm, num_chroma=int(d.get("num_chroma", 12)), chroma_length=int(d.get("chroma_length", 235)),
            n_fft=int(pre.get("n_fft", 16384)), chroma_hop=int(pre.get("hop_length", 4096)),
            chroma_seconds=float(pre.get("chunk_length", 30)), **parts,
        )
        if int(pre.get("sampling_rate", melody.audio.sampling_rate)) != melody.audio.sampling_rate:
            raise LoopgenError("the chroma front end's sampling_rate differs from the codec's: not supported")
        return melody


@dataclass(frozen=True)
class MelodyConfig(MusicgenConfig):
    """musicgen-melody: no cross-attention; the projected chroma of a melody (`chroma_length` frames, tiled or cut)
    and the projected text states are a prefix of the token sequence. The chroma front end (transformers'
    MusicgenMelodyFeatureExtractor): a power STFT (n_fft, hop) of mono audio at the codec's rate, cut to
    `chroma_seconds`, folded onto `num_chroma` pitch classes, one-hot of the strongest."""

    num_chroma: int = 12
    chroma_length: int = 235
    n_fft: int = 16384
    chroma_hop: int = 4096
    chroma_seconds: float = 30.0


@dataclass(frozen=True)
class MagnetConfig(MusicgenConfig):
    """A MAGNeT: the same parts, a non-causal LM over one fixed segment, decoded by iterative masking."""

    span_len: int = 3  # masking spans, in frames
    subcodes_context: int = 5  # stages >= 1 attend to |i - j| <= this many frames (-1: everything)
    family: str = "music"  # "music" or "audio" (text-to-sound): their decoding defaults differ
    defaults: tuple[tuple[str, object], ...] = ()  # decoding defaults the checkpoint's config carries

    @property
    def segment_frames(self) -> int:
        return int(round(self.max_seconds * self.audio.frame_rate))
