"""What a CUDA graph does to a step, reproduced on the CPU: the kernels recorded once are what every replay runs.

`ReplayGraphs` has `models.graphs.CudaGraphs`' interface (`run(key, step)`) and its semantics, so the engine's and the
decoder bank's captured paths can be proven here, where there is no GPU:

- the first call with a key runs the step eagerly (its result), then records it without effect: the recording runs
  the step's Python and its ops, logs every op with its arguments, and puts back every tensor an op wrote;
- every later call with that key replays the logged ops and nothing else: no Python of the step runs, every number
  the step's Python computed (an index, a slice bound, a branch taken) is baked in, tensors that existed before the
  recording are used in place (their addresses are the key), tensors made during it are made again;
- a replay's outputs are the same tensors every time (the graph's memory), overwritten by the next replay;
- everything a capture refuses is refused inside the step (`HostGuard`): a read of a value back to the host
  (`.item()`, `.tolist()`, `.numpy()`, `if t:`, `int(t)`), a tensor made from host data (`torch.tensor(...)`,
  `t[[1, 2]]`, `t[i] = 0.5`: a copy from the host on a GPU), and an op whose output shape depends on values
  (`nonzero`, boolean-mask indexing, `masked_select`, `unique`): a graph's shapes are fixed when it is captured.

A step that would go wrong as a CUDA graph (a position passed as a Python number, a state bit flipped in Python,
an output kept without a copy) goes wrong here too.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_unflatten

_HOST_READS = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.is_nonzero.default}
_HOST_DATA = {torch.ops.aten.lift_fresh.default, torch.ops.aten.lift_fresh_copy.default}
_VALUE_SHAPED = {  # ops whose output shape depends on the values: a replay would keep the first shape
    torch.ops.aten.nonzero.default, torch.ops.aten.masked_select.default, torch.ops.aten.nonzero_static.default,
    torch.ops.aten._unique2.default, torch.ops.aten.unique_dim.default, torch.ops.aten.unique_consecutive.default,
    torch.ops.aten.repeat_interleave.Tensor, torch.ops.aten.argwhere.default,
}
_READ_METHODS = {"tolist", "numpy", "item", "__bool__", "__int__", "__float__", "__index__", "__array__"}


def _refuse(func: Any, args: tuple, kwargs: dict) -> None:
    """Raise for an op a CUDA graph capture cannot hold (see the module docstring)."""
    if func in _HOST_READS:
        raise RuntimeError(f"{func} reads a device value back to the host inside a captured step")
    if func in _HOST_DATA:  # torch.tensor(...), t[[i, j]] or t[i] = number: a copy from the host on a GPU
        raise RuntimeError(f"{func}: a tensor made from host data inside a captured step")
    if func in _VALUE_SHAPED:
        raise RuntimeError(f"{func}: its output's shape depends on values, which a captured graph cannot follow")
    if func is torch.ops.aten.index.Tensor or func is torch.ops.aten.index_put_.default:
        for i in args[1] if len(args) > 1 else ():
            if isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8):
                raise RuntimeError(f"{func} with a boolean mask: a shape that depends on values")


class _NoHostReads(TorchFunctionMode):
    """Reads that do not go through an op (`.tolist()`, `.numpy()` on the CPU): refused at the Python surface."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", None) in _READ_METHODS:
            raise RuntimeError(f"Tensor.{func.__name__}() reads device values back to the host inside a captured step")
        return func(*args, **(kwargs or {}))


class _NoHostOps(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        _refuse(func, args, kwargs)
        return func(*args, **kwargs)


class HostGuard:
    """`with HostGuard():` refuses, as a CUDA graph capture would, every host read, every tensor made from host data
    and every value-shaped op run inside it (real values, any device: the per-step path checked where it runs)."""

    def __enter__(self) -> "HostGuard":
        self._modes = [_NoHostReads(), _NoHostOps()]
        for m in self._modes:
            m.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        for m in reversed(self._modes):
            m.__exit__(*exc)


def _written(func: Any, args: tuple, kwargs: dict) -> list[torch.Tensor]:
    """The tensors an op writes into (its mutable arguments, out= included)."""
    out = []
    for i, a in enumerate(func._schema.arguments):
        if a.alias_info is None or not a.alias_info.is_write:
            continue
        v = args[i] if i < len(args) and not a.kwarg_only else kwargs.get(a.name)
        out += [t for t in tree_flatten(v)[0] if isinstance(t, torch.Tensor)]
    return out


class _Recorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple[Any, tuple, dict, Any]] = []
        self.saved: list[tuple[torch.Tensor, torch.Tensor]] = []  # (written tensor, its value before the recording)
        self._seen: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        _refuse(func, args, kwargs)
        for t in _written(func, args, kwargs):
            if id(t) not in self._seen:
                self._seen.add(id(t))
                self.saved.append((t, t.clone()))
        out = func(*args, **kwargs)
        self.ops.append((func, args, kwargs, out))
        return out


class ReplayGraphs:
    """CudaGraphs' interface and semantics on any device (see the module docstring). captures / replays count."""

    def __init__(self) -> None:
        self.graphs: dict[Hashable, tuple[list, Any]] = {}
        self.captures = self.replays = 0

    def run(self, key: Hashable, step: Callable[[], Any]) -> Any:
        entry = self.graphs.get(key)
        if entry is not None:
            self.replays += 1
            return self._replay(*entry)
        out = step()  # eager: this call's result
        rec = _Recorder()
        with _NoHostReads(), rec:
            static = step()
        for t, before in reversed(rec.saved):  # recorded, not run: the state does not move
            t.copy_(before)
        self.graphs[key] = (_plan(rec.ops), static)
        self.captures += 1
        return out

    @staticmethod
    def _replay(plan: list, static: Any) -> Any:
        made: dict[int, torch.Tensor] = {}  # id of a tensor made in the recording -> the one made in this replay
        for func, flat, spec, subs, outs in plan:
            if subs:
                flat = list(flat)
                for i, key in subs:
                    flat[i] = made.get(key, flat[i])
            if spec is None:  # positional leaves only
                new = func(*flat)
            else:
                args, kwargs = tree_unflatten(flat, spec)
                new = func(*args, **kwargs)
            if outs:
                news = [new] if isinstance(new, torch.Tensor) else tree_flatten(new)[0]
                for j, o in outs:
                    if news[j] is not o:
                        made[id(o)] = news[j]
        for o in tree_flatten(static)[0]:  # the graph's output memory: the same tensors each replay
            if isinstance(o, torch.Tensor) and id(o) in made:
                o.copy_(made[id(o)])
        return static


def _plan(ops: list) -> list:
    """The recorded ops with their arguments flattened once: per op (func, leaves, structure or None where the
    arguments are positional leaves, [(leaf index, id of the recorded tensor it was)] for tensors made during the
    recording, [(output index, recorded output tensor)]). A replay substitutes and calls, nothing more."""
    made: set[int] = set()
    plan = []
    for func, args, kwargs, out in ops:
        flat, spec = tree_flatten((args, kwargs))
        simple = not kwargs and all(not isinstance(a, (list, tuple, dict)) for a in args)
        subs = [(i, id(x)) for i, x in enumerate(flat) if isinstance(x, torch.Tensor) and id(x) in made]
        outs = [(j, o) for j, o in enumerate(tree_flatten(out)[0]) if isinstance(o, torch.Tensor)]
        made.update(id(o) for _, o in outs)
        plan.append((func, tuple(args) if simple else flat, None if simple else spec, subs, outs))
    return plan
