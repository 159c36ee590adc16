"""The one exception type loopgen raises for problems a user can fix; the CLI prints it without a traceback."""
from __future__ import annotations


class LoopgenError(Exception):
    """A problem with the user's input or environment, stated so that they can act on it."""
