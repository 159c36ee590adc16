"""loopgen's own cache folder (the CPU kernels measured here, checkpoints' int8 weights) and its one way of writing."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_dir() -> Path:
    """`$LOOPGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/loopgen`, else `~/.cache/loopgen`."""
    base = os.environ.get("LOOPGEN_CACHE_DIR")
    if base is None:
        base = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "loopgen")
    return Path(base)


def write_atomic(path: Path, fill: Callable[[str], None]) -> bool:
    """fill(temporary path) writes the file, which then replaces `path` at once: a reader never sees half a file, and
    nothing is left behind when it fails. False where it cannot be written (a cache not kept costs only speed)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        os.close(fd)
        try:
            fill(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        return False
    return True
