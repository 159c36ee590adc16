"""The one exception type loopgen raises for problems a user can fix; the CLI prints it without a traceback."""
from __future__ import annotations

from typing import Any


class LoopgenError(Exception):
    """A problem with the user's input or environment, stated so that they can act on it."""


def short(v: Any, n: int = 60) -> str:
    """repr(v) cut to n characters: errors name the bad value without echoing megabytes back."""
    r = repr(v)
    return r if len(r) <= n else r[: n - 3] + "..."
