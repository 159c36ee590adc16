"""CUDA graphs for loopgen's fixed-shape steps (the engine's step, the decoder bank's push).

A step here is a function of no arguments that reads and writes tensors whose memory stays put between calls (the
engine's slots and KV cache, the bank's state): the caller changes what it computes by writing into those tensors
(parameters, prompts, rows joining and leaving), never by passing new ones. Such a step is captured once per key and
replayed: one launch for the whole step instead of hundreds. The key names what the captured kernels depend on
(shapes, and the addresses of the tensors, which change only when the caller reallocates them: a new key, a new
capture).

The first call with a key runs the step eagerly (that is this step's result, and the warm-up a capture needs), then
records the graph without running it: the recorded kernels first run at the next call. Both run on one side stream
of the caller's, the one every capture uses: the BLAS libraries keep their handles and workspaces per stream, and
creating them inside a capture is not allowed (so the warm-up must be on the capture's own stream). A step's output is the
graph's own memory, overwritten by the next replay: consume or copy it before stepping again.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import torch

from ..errors import LoopgenError


def tensor_key(*tensors: torch.Tensor) -> tuple:
    """What a captured step depends on: each tensor's address, shape and dtype."""
    return tuple((t.data_ptr(), tuple(t.shape), t.dtype) for t in tensors)


class CudaGraphs:
    """Captured steps of one caller, `limit` keys at most (the oldest is dropped: reallocations leave old keys)."""

    def __init__(self, device: torch.device, limit: int = 8):
        if device.type != "cuda":
            raise LoopgenError(f"CUDA graphs need a CUDA device; this model is on {device.type}")
        self.limit = limit
        self.graphs: dict[Hashable, tuple[torch.cuda.CUDAGraph, Any]] = {}
        self.pool = None  # one memory pool shared by this caller's graphs
        self.stream = torch.cuda.Stream(device)  # warm-ups and captures (replays run on the caller's stream)

    def run(self, key: Hashable, step: Callable[[], Any]) -> Any:
        """step() now: replayed if `key` was captured, else run eagerly and captured for the next call."""
        entry = self.graphs.get(key)
        if entry is not None:
            entry[0].replay()
            return entry[1]
        main, side = torch.cuda.current_stream(self.stream.device), self.stream
        side.wait_stream(main)
        with torch.cuda.stream(side):
            out = step()  # eager: this call's result, and the warm-up (library handles, workspaces) the capture needs
        main.wait_stream(side)
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                t.record_stream(main)  # used on the caller's stream: its memory waits for that stream when freed
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool, stream=side):  # recorded, not run: the state does not move here
            static = step()
        self.pool = graph.pool()
        self.graphs[key] = (graph, static)
        while len(self.graphs) > self.limit:
            self.graphs.pop(next(iter(self.graphs)))
        return out
