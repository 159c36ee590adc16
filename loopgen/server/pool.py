"""The daemon's models and the workers that run them, by name: the one place a request's `model` is resolved and a
command is sent to the worker that holds its take.

A model answers to its full name (`facebook/musicgen-small`, `random:tiny`), to the part after the hub owner or the
`random:` scheme (`musicgen-small`, `tiny`), and to that without `musicgen-` (`small`, `melody`), as long as no other
served model answers to the same alias. The first model is the default (a request without `model`).
"""
from __future__ import annotations

from typing import Any, Protocol

from ..protocol import messages as M


class Worker(Protocol):
    """What the gateway asks of a model's worker (`worker.ModelWorker`, whatever runs its steps)."""

    m: Any  # the model (its name, rate, channels)

    def submit(self, cmd: M.Command, owner: Any, play: bool = False) -> None: ...
    def stop_owner(self, owner: Any) -> None: ...
    def find(self, id: Any, owner: Any = None, finished: bool = True) -> Any: ...
    def own(self, owner: Any, id: Any, finished: bool = True) -> Any: ...
    def starting(self, owner: Any, id: Any) -> bool: ...  # a start of the owner's not begun yet (queued)


def aliases(name: str) -> list[str]:
    """The names a model answers to, its full name first."""
    out = [name]
    short = name.rsplit("/", 1)[-1].split(":", 1)[-1]
    for a in (short, short.removeprefix("musicgen-")):
        if a and a not in out:
            out.append(a)
    return out


def served_names(models: list[str]) -> dict[str, list[str]]:
    """Each served model's names, its full name first: an alias two models share belongs to neither."""
    all_aliases = {n: aliases(n) for n in models}
    counts: dict[str, int] = {}
    for names in all_aliases.values():
        for a in names:
            counts[a] = counts.get(a, 0) + 1
    return {n: [a for a in names if a == n or counts[a] == 1] for n, names in all_aliases.items()}


class Pool:
    """Workers by model name, in the order they were added (the first is the default)."""

    def __init__(self) -> None:
        self.workers: dict[str, Any] = {}
        self.latest: Any = None  # the worker that started the latest take (stop / set without an id)

    def add(self, name: str, worker: Any) -> None:
        if name in self.workers:
            raise ValueError(f"{name} is served twice")
        self.workers[name] = worker

    @property
    def default(self) -> Any:
        return next(iter(self.workers.values()), None)

    def __iter__(self):
        return iter(self.workers.values())

    def __len__(self) -> int:
        return len(self.workers)

    def names(self) -> dict[str, list[str]]:
        return served_names(list(self.workers))

    def resolve(self, name: str | None, id: Any = None) -> Any:
        """The worker of the model a request names (None: the default); unknown_model naming the served ones."""
        if name is None:
            return self.default
        if name in self.workers:
            return self.workers[name]
        for model, names in self.names().items():
            if name in names:
                return self.workers[model]
        served = ", ".join(self.workers)
        raise M.ProtocolError("unknown_model", f"this daemon does not serve {M.short(name)}; it serves: {served}", id)

    def holding(self, owner: Any, id: Any, running: bool) -> Any:
        """The worker with the owner's own take `id` (running, or finished), else anyone's with that id; None."""
        for own in (True, False):
            for w in self.workers.values():
                job = w.own(owner, id, finished=not running) if own else w.find(id, owner, finished=not running)
                if job is not None:
                    return w
        return None

    def starting(self, owner: Any, id: Any) -> Any:
        """The worker with the owner's start `id` not begun yet (waiting for room), or None."""
        return next((w for w in self.workers.values() if w.starting(owner, id)), None)

    def route(self, cmd: M.Command, owner: Any) -> Any:
        """The worker a command goes to: a new take's model; the worker holding the take an extend, set or stop
        names (id None: the latest started); the default when none holds it (it answers unknown_id)."""
        params = getattr(cmd, "params", None)
        if isinstance(cmd, M.Extend):
            return self.holding(owner, cmd.of, running=False) or self.default
        if isinstance(cmd, (M.Generate, M.Continue, M.ContinueFile)):
            return self.resolve(params.model, cmd.id)
        id = getattr(cmd, "id", None)
        if id is None:
            return self.latest or self.default
        return (self.holding(owner, id, running=True) or self.starting(owner, id)
                or self.holding(owner, id, running=False) or self.default)
