"""Reading a transformers MusicGen checkpoint's tensors into our modules, one tensor at a time.

The model is built on the meta device; each checkpoint tensor is read, converted to the target dtype/device, and
either assigned as a parameter or copied into its slice of a fused parameter (q/k/v, the K heads, the per-layer
cross-attention K/V, the K embedding tables). The checkpoint is never held whole next to the model.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from ..errors import LoopgenError

_DROP = re.compile(
    r"(\.cluster_size|\.embed_avg|\.inited|embed_positions\.weights|text_encoder\.encoder\.embed_tokens\.weight)$"
)
_DEC = "decoder.model.decoder."


_ST_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}


def read_safetensors(path: Path, keep: Callable[[str], bool] | None = None) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield each tensor of a .safetensors file (those `keep` accepts by name) as a freshly allocated CPU tensor, read
    with plain file reads; the others are never read.

    Unlike a memory map, nothing of the file stays resident after the tensor is consumed, so a loader that converts
    or fuses tensors holds the model plus at most one tensor. `safetensors.safe_open` parses the header."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as sf:  # validates the header; gives names in file order
        names = list(sf.keys())
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        base = 8 + n
        entries = sorted((header[k]["data_offsets"][0], k) for k in names)
        for _, name in entries:
            if keep is not None and not keep(name):
                continue
            info = header[name]
            if info["dtype"] not in _ST_DTYPES:
                raise LoopgenError(f"{path.name}: tensor {name} has unsupported dtype {info['dtype']}")
            begin, end = info["data_offsets"]
            buf = torch.empty(end - begin, dtype=torch.uint8)
            f.seek(base + begin)
            if end > begin and f.readinto(memoryview(buf.numpy())) != end - begin:
                raise LoopgenError(f"{path.name} is truncated (tensor {name})")
            yield name, buf.view(_ST_DTYPES[info["dtype"]]).reshape(info["shape"])


def checkpoint_files(folder: Path) -> list[Path]:
    """The weight files of a transformers checkpoint: model.safetensors, its shards, or pytorch_model.bin (shards)."""
    if (folder / "model.safetensors").exists():
        files = [folder / "model.safetensors"]
    elif (folder / "model.safetensors.index.json").exists():
        index = json.loads((folder / "model.safetensors.index.json").read_text())
        files = [folder / f for f in sorted(set(index["weight_map"].values()))]
    elif (folder / "pytorch_model.bin").exists():
        files = [folder / "pytorch_model.bin"]
    elif (folder / "pytorch_model.bin.index.json").exists():
        index = json.loads((folder / "pytorch_model.bin.index.json").read_text())
        files = [folder / f for f in sorted(set(index["weight_map"].values()))]
    else:
        raise LoopgenError(f"no weights in {folder}: expected model.safetensors or pytorch_model.bin")
    for f in files:
        if not f.exists():
            raise LoopgenError(f"checkpoint shard missing: {f}")
    return files


def iter_checkpoint(folder: Path, keep: Callable[[str], bool] | None = None) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield (name, tensor) from the checkpoint's weight files (the names `keep` accepts; safetensors files do not
    read the others at all)."""
    for f in checkpoint_files(folder):
        if f.suffix == ".safetensors":
            yield from read_safetensors(f, keep)
        else:
            state = torch.load(str(f), map_location="cpu", mmap=True, weights_only=True)
            for name in list(state.keys()):
                tensor = state.pop(name)
                if keep is None or keep(name):
                    yield name, tensor
            del state


def _route(name: str, card: int, dim: int) -> tuple[str, int | None] | None:
    """checkpoint name -> (our parameter name, row offset into a fused parameter or None); None = drop."""
    if _DROP.search(name):
        return None
    if name.startswith("audio_encoder."):
        return "codec." + name[len("audio_encoder.") :], None
    if name.startswith("text_encoder."):
        return "text." + name[len("text_encoder.") :], None
    if name.startswith("enc_to_dec_proj."):
        return "proj." + name[len("enc_to_dec_proj.") :], None
    if name.startswith("audio_enc_to_dec_proj."):  # melody: chroma -> LM width
        return "chroma_proj." + name[len("audio_enc_to_dec_proj.") :], None
    m = re.fullmatch(r"decoder\.lm_heads\.(\d+)\.weight", name)
    if m:
        return "lm.heads.weight", int(m.group(1)) * card
    if not name.startswith(_DEC):
        return ("?" + name), None
    rest = name[len(_DEC) :]
    m = re.fullmatch(r"embed_tokens\.(\d+)\.weight", rest)
    if m:
        return "lm.emb", int(m.group(1))
    if rest.startswith("layer_norm."):
        return "lm.norm." + rest[len("layer_norm.") :], None
    m = re.fullmatch(r"layers\.(\d+)\.(.+)", rest)
    if not m:
        return ("?" + name), None
    i, sub = int(m.group(1)), m.group(2)
    pre = f"lm.layers.{i}."
    fused = {
        "self_attn.q_proj.weight": (pre + "qkv.weight", 0),
        "self_attn.k_proj.weight": (pre + "qkv.weight", dim),
        "self_attn.v_proj.weight": (pre + "qkv.weight", 2 * dim),
        "encoder_attn.k_proj.weight": ("lm.cross_kv.weight", 2 * dim * i),
        "encoder_attn.v_proj.weight": ("lm.cross_kv.weight", 2 * dim * i + dim),
    }
    if sub in fused:
        return fused[sub]
    renames = {
        "self_attn.out_proj.": "out.",
        "self_attn_layer_norm.": "norm1.",
        "encoder_attn.q_proj.": "cross_q.",
        "encoder_attn.out_proj.": "cross_out.",
        "encoder_attn_layer_norm.": "norm_cross.",
        "final_layer_norm.": "norm2.",
        "fc1.": "fc1.",
        "fc2.": "fc2.",
    }
    for old, new in renames.items():
        if sub.startswith(old):
            return pre + new + sub[len(old) :], None
    return ("?" + name), None


def _weight_norm(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """w = g * v / ||v||, the norm over every dim but the first (torch's weight_norm with dim=0)."""
    dims = tuple(range(1, v.dim()))
    return (v * (g / v.norm(dim=dims, keepdim=True))).to(v.dtype)


def load_weights(
    model: nn.Module, folder: Path, device: torch.device, card: int, dim: int,
    tensors: Iterator[tuple[str, torch.Tensor]] | None = None, skip: frozenset[str] = frozenset(),
) -> None:
    """Fill `model` (built on the meta device, each parameter already in its target dtype) from `folder`, or from
    `tensors` named as in a transformers checkpoint (the audiocraft loader translates its names to those).
    Parameters named in `skip` are not read (their checkpoint tensors are passed over): they stay on the meta device
    for the caller to replace (int8 weights from the int8 store)."""
    expected = {k: (p.shape, p.dtype) for k, p in model.state_dict(keep_vars=True).items()}
    filled: dict[str, torch.Tensor] = {k: torch.empty(expected[k][0], dtype=expected[k][1], device="meta")
                                       for k in skip}
    rows_done: dict[str, int] = {}
    pending_norm: dict[str, dict[str, torch.Tensor]] = {}

    def put(key: str, t: torch.Tensor, offset: int | None) -> None:
        if key not in expected or key in skip:
            return  # a tensor this architecture does not use, or one the caller has already
        shape, dtype = expected[key]
        if offset is None:
            if tuple(t.shape) != tuple(shape):
                raise LoopgenError(f"checkpoint tensor for {key} has shape {tuple(t.shape)}, expected {tuple(shape)}")
            filled[key] = t.to(device=device, dtype=dtype)
            return
        if key not in filled:
            filled[key] = torch.empty(shape, dtype=dtype, device=device)
            rows_done[key] = 0
        target = filled[key]
        if key == "lm.emb":
            part = target[offset]
        else:
            part = target[offset : offset + t.shape[0]]
        part.copy_(t)
        rows_done[key] += t.numel()

    def wanted(name: str) -> bool:
        routed = _route(name, card, dim)
        return routed is None or routed[0] not in skip

    for name, tensor in iter_checkpoint(folder, wanted if skip else None) if tensors is None else tensors:
        wn = re.fullmatch(r"(.+)\.(?:parametrizations\.weight\.original([01])|weight_([gv]))", name)
        if wn:
            base = wn.group(1)
            part = "g" if (wn.group(2) == "0" or wn.group(3) == "g") else "v"
            pending_norm.setdefault(base, {})[part] = tensor
            if len(pending_norm[base]) == 2:
                pair = pending_norm.pop(base)
                routed = _route(base + ".weight", card, dim)
                if routed is not None:
                    put(routed[0], _weight_norm(pair["g"].float(), pair["v"].float()), routed[1])
            continue
        routed = _route(name, card, dim)
        if routed is not None:
            put(routed[0], tensor, routed[1])
        del tensor

    if "text.shared.weight" not in filled:
        raise LoopgenError("checkpoint has no text_encoder.shared.weight")
    missing = [k for k in expected if k not in filled]
    short = [k for k, n in rows_done.items() if n != filled[k].numel()]
    if pending_norm or missing or short:
        what = sorted(missing + short + [k + " (half a weight-norm pair)" for k in pending_norm])
        raise LoopgenError(f"checkpoint in {folder} lacks {len(what)} tensors, e.g. {', '.join(what[:5])}")
    model.load_state_dict(filled, assign=True, strict=True)
    for m in model.modules():
        if isinstance(m, nn.LSTM):
            m._init_flat_weights()
