"""Finding a checkpoint's files: a local folder, or a hub id in the huggingface_hub cache (downloaded when missing and
allowed). Knows no checkpoint format: the callers say which files they need (`patterns`) and read them."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import LoopgenError

TRANSFORMERS_FILES = ["*.json", "*.safetensors"]  # transformers' layout: config and weights


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def is_hub_id(name: str) -> bool:
    """'owner/name' and not a path on this machine."""
    return name.count("/") == 1 and not Path(name).expanduser().exists() and not name.startswith((".", "/", "~"))


def resolve(name: str, patterns: list[str] = TRANSFORMERS_FILES) -> Path:
    """A local folder as it is, or a hub id's snapshot folder holding the files that match `patterns`: the local
    cache first, then a download (unless HF_HUB_OFFLINE is set)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if not is_hub_id(name):
        raise LoopgenError(f"{name!r} is not a folder and not a hub id (owner/name)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(name, allow_patterns=patterns, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    if offline():
        raise LoopgenError(not_cached(name, "HF_HUB_OFFLINE is set"))
    try:
        return Path(snapshot_download(name, allow_patterns=patterns))  # shows a progress bar per file
    except RepositoryNotFoundError as e:
        raise LoopgenError(f"unknown model {name!r}: no such repository on the Hugging Face hub") from e
    except Exception as e:  # no network, proxy, DNS, HTTP errors: all mean 'could not fetch'
        raise LoopgenError(not_cached(name, f"the hub could not be reached ({type(e).__name__})")) from e


def not_cached(name: str, why: str) -> str:
    return (
        f"{name} is not in the local Hugging Face cache and {why}. Fetch it once while online with "
        f"`hf download {name}` (or run any loopgen command online), "
        "or use --model random:small, which runs offline."
    )


def cached(repo: str, filename: str) -> bool:
    """Whether the hub cache holds `filename` of `repo` (no network)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo, filename), str)
