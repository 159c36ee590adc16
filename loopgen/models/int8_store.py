"""A checkpoint's int8 weights kept on disk, so that an int8 model loads about as fast as a float32 one.

Quantizing at load reads every float32 weight, rounds it and packs it for fbgemm; the second load of the same
checkpoint reads the int8 values and scales from here instead of the float32 per-step weights (a quarter of the
bytes), and only packs them (in parallel, lm.MusicgenLM.quantize). One file per checkpoint:
`<cache dir>/int8/<where>-<which>.safetensors` (cache.cache_dir), holding "<layer>.values" int8 [out, in] and
"<layer>.scale" float64 [out] for each quantized projection. `where` hashes the weight files' resolved paths (a
hub snapshot's file resolves to its blob, named by the file's own hash), `which` their sizes and modification times
and this store's FORMAT: a checkpoint rewritten in place gets a new file, and the old one is removed. A file that
does not read or does not fit the model is ignored (and written again); a folder that cannot be written costs only
the speed.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

import torch

from .cache import cache_dir, write_atomic

FORMAT = 1  # bump when what the values mean changes (lm.int8_values, the scale's rule)
Int8 = dict[str, tuple[torch.Tensor, torch.Tensor]]  # projection name -> (values int8 [out, in], scale f64 [out])


def _digest(obj) -> str:  # noqa: ANN001
    return hashlib.sha256(json.dumps(obj).encode()).hexdigest()[:20]


class Int8Store:
    def __init__(self, files: list[Path]):
        real = [Path(os.path.realpath(f)) for f in files]
        self.where = _digest([str(f) for f in real])
        stats = [(st.st_size, st.st_mtime_ns) for st in (f.stat() for f in real)]
        self.path = cache_dir() / "int8" / f"{self.where}-{_digest([FORMAT, stats])}.safetensors"

    def read(self, shapes: dict[str, tuple[int, ...]]) -> Int8 | None:
        """The stored values for projections of these weight shapes, or None (no file, unreadable, other shapes)."""
        from safetensors.torch import load_file

        try:
            flat = load_file(str(self.path))
        except Exception:  # missing, truncated or not safetensors: the load quantizes afresh and writes it again
            return None
        out: Int8 = {}
        for name, shape in shapes.items():
            v, s = flat.get(name + ".values"), flat.get(name + ".scale")
            if (v is None or s is None or tuple(v.shape) != tuple(shape) or v.dtype != torch.int8
                    or tuple(s.shape) != (shape[0],) or s.dtype != torch.float64):
                return None
            out[name] = (v, s)
        return out

    def write(self, made: Int8) -> bool:
        """Store `made` (atomically: a reader never sees half a file) and remove this checkpoint's older files.
        Returns False where the cache folder cannot be written."""
        from safetensors.torch import save_file

        flat = {}
        for name, (v, s) in made.items():
            flat[name + ".values"], flat[name + ".scale"] = v.contiguous(), s.contiguous()
        if not write_atomic(self.path, lambda tmp: save_file(flat, tmp)):
            return False
        for old in self.path.parent.glob(f"{self.where}-*.safetensors"):
            if old != self.path:
                with contextlib.suppress(OSError):
                    old.unlink(missing_ok=True)
        return True
