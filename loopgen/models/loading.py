"""`load_model`: a hub id, a local folder or `random:*` -> a ready MusicGen on the chosen device and dtype."""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch

from ..errors import LoopgenError
from .. import hub
from ..catalog import KNOWN_MODELS, RANDOM_MODELS
from .audiocraft import is_release
from .config import MelodyConfig, MusicgenConfig
from .melody import MusicgenMelody
from .base import CodecLM
from .musicgen import MusicGen
from .t5 import TextTokenizer
from .random_models import build_random
from .release import load_release
from .int8_store import Int8, Int8Store
from .weights import checkpoint_files, load_weights

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
DTYPE_NAMES = (*DTYPES, "int8")  # every precision load_model takes by name (CodecLM.dtype_name)
_RELEASE_PATTERNS = ["state_dict.bin", "compression_state_dict.bin", "*.json"]  # audiocraft's layout (MAGNeT)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """'auto'/None picks cuda, then mps, then cpu; an explicit device must exist."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise LoopgenError(f"unknown device {device!r}: use cpu, cuda, cuda:N or mps") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise LoopgenError(f"device {device!r} is not there: this torch sees no CUDA GPU; use the CPU "
                               "(device='cpu', or --device cpu on the command line)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise LoopgenError(f"device {device!r} is not there: {torch.cuda.device_count()} CUDA device(s) found")
    elif dev.type == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise LoopgenError(f"device {device!r} is not there: MPS is not available; use the CPU "
                               "(device='cpu', or --device cpu on the command line)")
    elif dev.type != "cpu":
        raise LoopgenError(f"device {device!r} is not supported: use cpu, cuda, cuda:N or mps")
    return dev


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """None picks float16 on cuda/mps and float32 on cpu; checks the device can run the dtype."""
    if dtype is None or dtype == "auto":
        return torch.float32 if device.type == "cpu" else torch.float16
    if isinstance(dtype, torch.dtype):
        dt = dtype
    elif dtype in DTYPES:
        dt = DTYPES[dtype]
    else:
        raise LoopgenError(f"unknown dtype {dtype!r}: use one of {', '.join(DTYPES)}, or int8 on the CPU")
    if dt == torch.float32:
        return dt
    if device.type == "cpu" and dt == torch.float16:
        raise LoopgenError("float16 is not supported on cpu (too slow and imprecise there): use float32 or bfloat16")
    if device.type == "cuda" and dt == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise LoopgenError(f"this GPU cannot run bfloat16: use float16 or float32 on {device}")
    try:
        a = torch.ones(2, 2, dtype=dt, device=device)
        (a @ a).sum().item()
    except (RuntimeError, TypeError) as e:
        raise LoopgenError(f"{device} cannot run {dtype}: {e}") from e
    return dt


def resolve_checkpoint(name: str) -> Path:
    """A checkpoint folder (transformers' layout, or audiocraft's release layout) for a folder or a hub id."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists() and not is_release(path):
            raise LoopgenError(f"{path} has no config.json and no audiocraft state_dict.bin: not a checkpoint folder")
        return path
    if not hub.is_hub_id(name):
        known = ", ".join([*RANDOM_MODELS, *KNOWN_MODELS])
        raise LoopgenError(f"unknown model {name!r}: not a folder and not a hub id. Known models: {known}")
    return hub.resolve(name, _RELEASE_PATTERNS if "magnet" in name.lower() else hub.TRANSFORMERS_FILES)


def _quantize(model: CodecLM, store: Int8Store | None = None, stored: Int8 | None = None) -> None:
    """int8 for the model's per-step projections: `stored` values (their float weights were not read), else
    quantized here and kept in `store` for the next load."""
    made = model.quantize(stored)
    if store is not None and stored is None:
        store.write(made)


def _int8_store(model: CodecLM, files: list[Path]) -> tuple[Int8Store, Int8 | None]:
    """The store of these weight files, and what it holds for this model's projections (None: nothing usable)."""
    store = Int8Store(files)
    shapes = {n: tuple(m.weight.shape) for n, m in model.lm.quantized().items()}
    return store, store.read(shapes)


def load_model(
    name: str, device: str | torch.device | None = None, dtype: str | torch.dtype | None = None,
    text_encoder: str | Path | None = None, kernels: Mapping[str, str] | None = None,
) -> CodecLM:
    """Load a MusicGen or a MAGNeT: a hub id ("facebook/musicgen-small", "facebook/magnet-small-10secs"), a
    checkpoint folder (transformers' layout, or audiocraft's release layout: state_dict.bin and
    compression_state_dict.bin), or one of RANDOM_MODELS.

    The LM runs in `dtype` (default float32 on cpu, float16 on gpu; "int8" on the CPU: int8 weights with dynamic
    int8 activations for its per-step projections); T5 and the codec stay in float32. text_encoder: the T5 for an
    audiocraft-layout checkpoint (a folder or hub id; default: a t5/ folder beside the files, else the hub).
    kernels: the CPU matmuls to run, by dtype name (a take's record; default: the fastest measured here, at the
    current thread count; see CodecLM.use_kernels)."""
    model = _load(name, device, dtype, text_encoder)
    model.use_kernels(kernels)
    return model


def _load(name: str, device: str | torch.device | None, dtype: str | torch.dtype | None,
          text_encoder: str | Path | None) -> CodecLM:
    dev = resolve_device(device)
    int8 = dtype == "int8"
    if int8 and dev.type != "cpu":
        raise LoopgenError(f"int8 runs on the CPU; on {dev} use float16 or bfloat16")
    dt = torch.float32 if int8 else resolve_dtype(dtype, dev)
    if name.startswith("random:"):
        model = build_random(name[len("random:") :], dev, dt)
        if int8:
            _quantize(model)
        return model
    folder = resolve_checkpoint(name)
    if is_release(folder):
        model = load_release(folder, name, dev, dt, text_encoder)
        if int8:  # (a release's LM is one pickle, read whole: the store spares the rounding, not the reading)
            _quantize(model, *_int8_store(model, [folder / "state_dict.bin"]))
        return model
    try:
        raw = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise LoopgenError(f"cannot read {folder / 'config.json'}: {e}") from e
    pre = folder / "preprocessor_config.json"  # a melody model's chroma settings
    try:
        cfg = MusicgenConfig.from_hf(raw, json.loads(pre.read_text()) if pre.exists() else None)
    except (OSError, json.JSONDecodeError) as e:
        raise LoopgenError(f"cannot read {pre}: {e}") from e
    tok_file = folder / "tokenizer.json"
    if not tok_file.exists():
        raise LoopgenError(f"{folder} has no tokenizer.json (the T5 tokenizer MusicGen checkpoints ship)")
    tokenizer = TextTokenizer.from_file(tok_file)
    with torch.device("meta"):
        model = (MusicgenMelody if isinstance(cfg, MelodyConfig) else MusicGen)(cfg, tokenizer, name=name)
    model.lm.to(dt)
    store, stored = _int8_store(model, checkpoint_files(folder)) if int8 else (None, None)
    skip = frozenset(f"lm.{n}.weight" for n in model.lm.quantized()) if stored is not None else frozenset()
    load_weights(model, folder, dev, cfg.lm.card, cfg.lm.dim, skip=skip)
    if int8:
        _quantize(model, store, stored)
    return model.eval()
