"""The command router, sans-I/O: a command from any endpoint (WebSocket, OSC, MIDI) -> the effects that carry it out.

The endpoints decode bytes into commands (`protocol/`), route them here and perform the effects; the rules live
once. What starts a take (generate, continue, extend) asks for it to be played on the speakers when it *starts*:
the worker may still refuse it (busy, a duplicate id, a melody the model cannot take), and a refused request must
not replace what is playing. A file a command names (a melody, audio to continue; a path, or a file's bytes) is
read off the event loop first, then the command is routed again with the audio in it.
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
    """Read an audio file (off the event loop), then `with_audio`: `source` is a path (from the folders loopgen may
    read) or a file's bytes; `melody`: it is the command's melody (its start is used), else audio to continue (its
    end is used)."""

    cmd: M.Command
    source: str | bytes
    melody: bool = False


@dataclass(frozen=True)
class Replay:
    """`play`: one of the sender's own takes on the speakers (id None: its latest)."""

    id: Any


@dataclass(frozen=True)
class ListWorkers:
    """`workers`: answer the sender with every model worker's state."""


@dataclass(frozen=True)
class Reply:
    event: M.Event


Effect = Submit | Read | Replay | Reply | ListWorkers


def route(cmd: M.Command | None) -> list[Effect]:
    """What the server does for one decoded command (None: nothing, e.g. an OSC default stored for later)."""
    if cmd is None or isinstance(cmd, M.Hello):
        return []  # hello is the endpoint's own (a WebSocket's handshake, an OSC peer's name)
    if isinstance(cmd, M.Ping):
        return [Reply(M.Pong(cmd.data))]
    if isinstance(cmd, M.Play):
        return [Replay(cmd.id)]
    if isinstance(cmd, M.Workers):
        return [ListWorkers()]
    read = file_named(cmd)
    if read is not None:
        return [read]
    params = getattr(cmd, "params", None)
    return [Submit(cmd, play=isinstance(cmd, STARTS) and (params is None or params.play))]


def _melody(cmd: M.Command) -> M.Melody | None:
    return cmd.melody if isinstance(cmd, M.Set) else getattr(getattr(cmd, "params", None), "melody", None)


def file_named(cmd: M.Command) -> Read | None:
    """The file a command names, to be read before the model thread sees it: a melody (a path or a file's bytes),
    then the audio of a ContinueFile; None when it names none (or its audio is already in it)."""
    melody = _melody(cmd)
    if melody is not None and melody.source is not None:
        return Read(cmd, melody.source, melody=True)
    if isinstance(cmd, M.ContinueFile) and cmd.path is not None:
        return Read(cmd, cmd.path)
    return None


def with_audio(cmd: M.Command, audio: np.ndarray, rate: int) -> M.Command:
    """The command with the file it named read: audio [C, N] at `rate` in place of the path."""
    melody = _melody(cmd)
    if melody is not None and melody.source is not None:
        read = M.Melody(audio, rate)
        if isinstance(cmd, M.Set):
            return dataclasses.replace(cmd, melody=read)
        return dataclasses.replace(cmd, params=dataclasses.replace(cmd.params, melody=read))
    if isinstance(cmd, M.ContinueFile):
        return M.Continue(cmd.id, cmd.params, audio, rate)
    raise ValueError(f"{type(cmd).__name__} names no file")
