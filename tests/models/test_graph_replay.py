"""The CPU stand-in for CUDA graphs refuses, inside a captured step, everything a capture would refuse: a host read
by any route, a tensor made from host data, and an op whose output shape depends on values (which a replay would
freeze at its first shape)."""
from __future__ import annotations

import pytest
import torch

from .graph_replay import HostGuard, ReplayGraphs

x = torch.arange(6.0).view(3, 2)
REFUSED = {
    "item": lambda: x[0, 0].item(),
    "tolist": lambda: x.tolist(),
    "numpy": lambda: x.numpy(),
    "bool": lambda: bool(x[0, 0] > 1),
    "int": lambda: int(x[0, 0]),
    "torch.tensor": lambda: torch.tensor([1, 2]),
    "list index": lambda: x[[0, 2]],
    "host number written": lambda: x.clone().__setitem__(0, 0.5),
    "boolean mask": lambda: x[x > 2],
    "nonzero": lambda: x.nonzero(),
    "masked_select": lambda: x.masked_select(x > 2),
    "unique": lambda: torch.unique(x),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_captured_step_refuses(name):
    g = ReplayGraphs()
    with pytest.raises(RuntimeError):
        g.run("k", lambda: (x * 2, REFUSED[name]())[0])  # eager first, then the recording refuses
    with pytest.raises(RuntimeError), HostGuard():
        REFUSED[name]()


def test_a_fixed_shape_step_is_captured_and_replayed():
    state = torch.zeros(3)
    idx = torch.tensor([0, 2])
    g = ReplayGraphs()

    def step():
        state.index_add_(0, idx, torch.ones(2))  # device indices, device values: fine
        return state.where(state > 1, torch.zeros(3))  # a mask used as values, not as an index: fixed shape

    for _ in range(3):
        out = g.run("k", step)
    assert g.captures == 1 and g.replays == 2 and state.tolist() == [3.0, 0.0, 3.0] and out.tolist() == [3, 0, 3]
