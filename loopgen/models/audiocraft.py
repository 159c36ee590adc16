"""audiocraft's release layout: `state_dict.bin` (the LM, its training config as a YAML string under `xp.cfg`) and
`compression_state_dict.bin` (a whole EnCodec with its config, or a pointer such as `facebook/encodec_32khz`).

MAGNeT is published only this way, and so are many fine-tuned MusicGens. Files are read with
`torch.load(weights_only=True)` (never a full unpickle) and the config with `yaml.safe_load`; tensor names are
translated to transformers' names so that `weights.load_weights` stays the one place that fills a model. The T5
encoder is not in the files: it comes from `text_encoder=` (a folder or hub id), a `t5/` folder beside the files, or
the hub cache under the name the config gives.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ..errors import LoopgenError
from .. import hub
from .config import EncodecConfig, LMConfig, T5Config
from .weights import iter_checkpoint

LM_FILE, CODEC_FILE = "state_dict.bin", "compression_state_dict.bin"
T5_DIMS = {"t5-small": 512, "t5-base": 768, "t5-large": 1024, "t5-3b": 1024, "t5-11b": 1024}


def is_release(folder: Path) -> bool:
    return (folder / LM_FILE).exists() and (folder / CODEC_FILE).exists()


def _load(path: Path) -> dict[str, Any]:
    try:
        pkg = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated file, or one that needs a full unpickle: refuse both
        raise LoopgenError(f"cannot read {path}: {type(e).__name__}: {str(e).splitlines()[0][:200]}") from e
    if not isinstance(pkg, dict):
        raise LoopgenError(f"{path} is not an audiocraft checkpoint (no dict inside)")
    return pkg


def _cfg(pkg: dict[str, Any], path: Path) -> dict[str, Any]:
    import yaml

    raw = pkg.get("xp.cfg")
    if not isinstance(raw, str) or "best_state" not in pkg:
        raise LoopgenError(f"{path} has no 'best_state' and 'xp.cfg': not an audiocraft release file")
    cfg = yaml.safe_load(raw)
    if not isinstance(cfg, dict):
        raise LoopgenError(f"{path}: xp.cfg is not a mapping")
    return cfg


def read_lm(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """-> (the LM's state dict, its xp.cfg as a dict)."""
    pkg = _load(folder / LM_FILE)
    cfg = _cfg(pkg, folder / LM_FILE)  # refuses a file without best_state
    return pkg["best_state"], cfg


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise LoopgenError(f"this audiocraft checkpoint uses {what}, which loopgen does not support")


def lm_config(cfg: dict[str, Any]) -> tuple[LMConfig, str]:
    """xp.cfg -> (LMConfig, 'magnet' | 'musicgen'), refusing options whose maths loopgen does not implement."""
    kind = {"transformer_lm": "musicgen", "transformer_lm_magnet": "magnet"}.get(cfg.get("lm_model"))
    if kind is None:
        raise LoopgenError(f"lm_model {cfg.get('lm_model')!r} is not supported (MusicGen or MAGNeT LMs)")
    t = cfg["transformer_lm"]
    _need(t.get("norm", "layer_norm") == "layer_norm" and t.get("norm_first", True), "a post-norm or non-LayerNorm transformer")
    _need(not t.get("bias_ff", False) and not t.get("bias_attn", False) and not t.get("bias_proj", False), "biases")
    _need(t.get("positional_embedding", "sin") == "sin" and not t.get("xpos", False), "non-sinusoidal positions")
    _need(t.get("layer_scale") is None and not t.get("qk_layer_norm", False), "layer scale or qk layer norm")
    _need(t.get("kv_repeat", 1) == 1, "grouped key/values")
    _need(t.get("activation", "gelu") == "gelu", f"activation {t.get('activation')!r}")
    fuser = cfg.get("fuser", {})
    _need(list(fuser.get("cross", [])) == ["description"] and not fuser.get("prepend") and not fuser.get("sum"),
          "conditions other than a text description by cross-attention (melody models load from the transformers layout)")
    _need(not fuser.get("cross_attention_pos_emb", False), "positions on the cross-attention input")
    n_q = int(t["n_q"])
    pattern = cfg.get("codebooks_pattern", {})
    if kind == "musicgen":
        delays = list(pattern.get("delay", {}).get("delays", range(n_q)))
        channels = 2 if n_q == 8 and delays == [0, 0, 1, 1, 2, 2, 3, 3] else 1
        expect = [k // 2 for k in range(n_q)] if channels == 2 else list(range(n_q))
        _need(pattern.get("modeling") == "delay" and delays == expect, f"codebook pattern {pattern.get('modeling')} {delays}")
    else:
        channels = 1
        _need(pattern.get("modeling", "parallel") == "parallel", f"codebook pattern {pattern.get('modeling')}")
    dim = int(t["dim"])
    lm = LMConfig(card=int(t["card"]), dim=dim, num_layers=int(t["num_layers"]), num_heads=int(t["num_heads"]),
                  ffn_dim=int(t.get("hidden_scale", 4) * dim), num_codebooks=n_q, audio_channels=channels,
                  max_positions=4096)
    return lm, kind


def lm_tensors(state: dict[str, torch.Tensor], dim: int) -> Iterator[tuple[str, torch.Tensor]]:
    """audiocraft LM names -> transformers MusicGen names (fused in_proj rows split into q, k, v)."""
    dec = "decoder.model.decoder."
    ren = {"norm1": "self_attn_layer_norm", "norm2": "final_layer_norm", "norm_cross": "encoder_attn_layer_norm",
           "linear1": "fc1", "linear2": "fc2", "self_attn.out_proj": "self_attn.out_proj",
           "cross_attention.out_proj": "encoder_attn.out_proj"}
    for name in list(state):
        t = state.pop(name)
        name = name.replace(".mha.", ".")  # audiocraft wraps torch's MultiheadAttention when not `custom`
        if m := re.fullmatch(r"emb\.(\d+)\.weight", name):
            yield f"{dec}embed_tokens.{m[1]}.weight", t
        elif m := re.fullmatch(r"linears\.(\d+)\.weight", name):
            yield f"decoder.lm_heads.{m[1]}.weight", t
        elif m := re.fullmatch(r"out_norm\.(weight|bias)", name):
            yield f"{dec}layer_norm.{m[1]}", t
        elif m := re.fullmatch(r"condition_provider\.conditioners\.description\.output_proj\.(weight|bias)", name):
            yield f"enc_to_dec_proj.{m[1]}", t
        elif m := re.fullmatch(r"transformer\.layers\.(\d+)\.(self_attn|cross_attention)\.in_proj_weight", name):
            att = "self_attn" if m[2] == "self_attn" else "encoder_attn"
            for part, rows in zip("qkv", t.split(dim)):
                yield f"{dec}layers.{m[1]}.{att}.{part}_proj.weight", rows
        elif m := re.fullmatch(r"transformer\.layers\.(\d+)\.(.+)\.(weight|bias)", name):
            if m[2] not in ren:
                raise LoopgenError(f"unexpected tensor {name} in the audiocraft LM state")
            yield f"{dec}layers.{m[1]}.{ren[m[2]]}.{m[3]}", t
        else:
            raise LoopgenError(f"unexpected tensor {name} in the audiocraft LM state")


# -- the codec -----------------------------------------------------------------------------------------------------
def codec_config(cfg: dict[str, Any]) -> EncodecConfig:
    """A whole EnCodec's xp.cfg (SEANet + RVQ) -> EncodecConfig (transformers' field names)."""
    _need(cfg.get("compression_model") == "encodec", f"compression model {cfg.get('compression_model')!r}")
    s, q, e = cfg["seanet"], cfg["rvq"], cfg["encodec"]
    _need(s.get("norm", "weight_norm") == "weight_norm" and not s.get("disable_norm_outer_blocks", 0), "codec norms")
    _need(not e.get("renormalize", False) and s.get("activation", "ELU") == "ELU", "a renormalising or non-ELU codec")
    _need(int(e.get("channels", 1)) == 1, "a multi-channel codec")
    dim = int(s["dimension"])
    return EncodecConfig(
        sampling_rate=int(e.get("sample_rate", cfg.get("sample_rate"))), audio_channels=1,
        num_filters=int(s["n_filters"]), upsampling_ratios=tuple(int(r) for r in s["ratios"]), hidden_size=dim,
        codebook_size=int(q["bins"]), codebook_dim=dim, num_quantizers=int(q["n_q"]),
        kernel_size=int(s.get("kernel_size", 7)), last_kernel_size=int(s.get("last_kernel_size", 7)),
        residual_kernel_size=int(s.get("residual_kernel_size", 3)), dilation_growth_rate=int(s.get("dilation_base", 2)),
        num_residual_layers=int(s.get("n_residual_layers", 1)), compress=int(s.get("compress", 2)),
        num_lstm_layers=int(s.get("lstm", 2)), use_conv_shortcut=not bool(s.get("true_skip", True)),
        pad_mode=str(s.get("pad_mode", "reflect")), use_causal_conv=bool(e.get("causal", s.get("causal", False))),
    )


_CODEC_DROP = re.compile(r"\.(inited|cluster_size|embed_avg)$")


def codec_tensors(state: dict[str, torch.Tensor]) -> Iterator[tuple[str, torch.Tensor]]:
    """audiocraft SEANet/RVQ names -> transformers EncodecModel names, under `audio_encoder.`."""
    for name in list(state):
        t = state.pop(name)
        if _CODEC_DROP.search(name):
            continue
        n = re.sub(r"^(encoder|decoder)\.model\.", r"\1.layers.", name)
        n = n.replace(".conv.conv.", ".conv.").replace(".convtr.convtr.", ".conv.")
        n = re.sub(r"^quantizer\.vq\.layers\.(\d+)\._codebook\.", r"quantizer.layers.\1.codebook.", n)
        yield "audio_encoder." + n, t


def read_codec(folder: Path) -> tuple[EncodecConfig, Iterator[tuple[str, torch.Tensor]]]:
    """compression_state_dict.bin -> (config, tensors): the codec inside it, or the transformers-layout codec it
    points to (resolved like any hub id: the local cache first)."""
    import json


    pkg = _load(folder / CODEC_FILE)
    if "pretrained" in pkg:
        src = hub.resolve(str(pkg["pretrained"]))
        cfg = EncodecConfig.from_hf(json.loads((src / "config.json").read_text()))
        return cfg, (("audio_encoder." + n, t) for n, t in iter_checkpoint(src))
    return codec_config(_cfg(pkg, folder / CODEC_FILE)), codec_tensors(pkg["best_state"])


# -- the text encoder ----------------------------------------------------------------------------------------------
def t5_name(cfg: dict[str, Any]) -> str:
    d = cfg.get("conditioners", {}).get("description", {})
    _need(d.get("model") == "t5", f"text conditioner {d.get('model')!r}")
    _need(not d.get("t5", {}).get("normalize_text", False), "text normalisation")
    return str(d["t5"]["name"])


def find_t5(folder: Path, name: str, text_encoder: str | Path | None) -> Path:
    """The T5 folder (transformers layout): `text_encoder`, else `t5/` beside the files, else the hub."""
    if text_encoder is not None:
        return hub.resolve(str(text_encoder))
    if (folder / "t5" / "config.json").exists():
        return folder / "t5"
    repo = name if "/" in name else f"google-t5/{name}"  # t5-base on the hub today lives under google-t5/
    return hub.resolve(repo)


def t5_source(src: Path) -> tuple[T5Config, Iterator[tuple[str, torch.Tensor]]]:
    import json


    cfg = T5Config.from_hf(json.loads((src / "config.json").read_text()))
    keep = re.compile(r"^(shared\.weight|encoder\..+)$")
    return cfg, (("text_encoder." + n, t) for n, t in iter_checkpoint(src) if keep.match(n))


def generation_defaults(cfg: dict[str, Any]) -> dict[str, Any]:
    """The `generate.lm` section a solver config carries (temperature, top_p, cfg coefficients...), if any."""
    lm = (cfg.get("generate") or {}).get("lm") or {}
    return {k: v for k, v in lm.items() if not isinstance(v, dict)}
