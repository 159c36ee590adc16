"""The command router, sans-I/O: a command from any endpoint (WebSocket, OSC, MIDI) -> the effects that carry it out.

The endpoints decode bytes into commands (`protocol/`), route them here and perform the effects; the rules live
once. What starts a take (generate, continue, extend) asks for it to be played on the speakers when it *starts*:
the worker may still refuse it (busy, a duplicate id, a melody the model cannot take), and a refused request must
not replace what is playing. A file a command names (a melody, audio to continue) is read off the event loop first,
then the command is routed again with the audio in it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..protocol import messages as M

STARTS = (M.Generate, M.Continue, M.ContinueFile, M.Extend)  # commands that start a take


@dataclass(frozen=True)
class Submit:
    """Queue `cmd` for the model worker; `play`: put its take on the speakers once it has started."""

    cmd: M.Command
    play: bool = False


@dataclass(frozen=True)
class Read:
    """Read the audio file at `path` (off the event loop, from the folders loopgen may read), then `with_audio`."""

    cmd: M.Command
    path: str


@dataclass(frozen=True)
class Replay:
    """`play`: one of the sender's own takes on the speakers (id None: its latest)."""

    id: Any


@dataclass(frozen=True)
class Reply:
    event: M.Event


Effect = Submit | Read | Replay | Reply


def route(cmd: M.Command | None) -> list[Effect]:
    """What the server does for one decoded command (None: nothing, e.g. an OSC default stored for later)."""
    if cmd is None or isinstance(cmd, M.Hello):
        return []  # hello is the endpoint's own (a WebSocket's handshake, an OSC peer's name)
    if isinstance(cmd, M.Ping):
        return [Reply(M.Pong(cmd.data))]
    if isinstance(cmd, M.Play):
        return [Replay(cmd.id)]
    path = file_named(cmd)
    if path is not None:
        return [Read(cmd, path)]
    return [Submit(cmd, play=isinstance(cmd, STARTS))]


def _melody(cmd: M.Command) -> M.Melody | None:
    return cmd.melody if isinstance(cmd, M.Set) else getattr(getattr(cmd, "params", None), "melody", None)


def file_named(cmd: M.Command) -> str | None:
    """The file a command names, to be read before the model thread sees it: a melody path, or the audio of a
    ContinueFile; None when it names none (or its audio is already in it)."""
    melody = _melody(cmd)
    if melody is not None and melody.path is not None:
        return melody.path
    if isinstance(cmd, M.ContinueFile) and cmd.path is not None:
        return cmd.path
    return None


def with_audio(cmd: M.Command, audio: np.ndarray, rate: int) -> M.Command:
    """The command with the file it named read: audio [C, N] at `rate` in place of the path."""
    melody = _melody(cmd)
    if melody is not None and melody.path is not None:
        read = M.Melody(audio, rate)
        if isinstance(cmd, M.Set):
            return dataclasses.replace(cmd, melody=read)
        return dataclasses.replace(cmd, params=dataclasses.replace(cmd.params, melody=read))
    if isinstance(cmd, M.ContinueFile):
        return M.Continue(cmd.id, cmd.params, audio, rate)
    raise ValueError(f"{type(cmd).__name__} names no file")
