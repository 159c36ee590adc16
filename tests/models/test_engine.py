"""The engine's step: fixed shapes that torch.compile(fullgraph=True) captures once per batch size, equal to eager,
with rows at different positions and live changes of every parameter and of the prompts along the way."""
from __future__ import annotations

import pytest
import torch

from loopgen import load_model
from loopgen.params import SamplingParams

from .graph_replay import ReplayGraphs


@pytest.fixture(scope="module", params=["random:tiny", "random:melody-tiny"])
def plain(request):
    """A MusicGen, and a melody model (its voices' positions start after their conditioning prefix)."""
    m = load_model(request.param)
    m.lm.unpack()  # the F.linear path: what CUDA and torch.compile run
    return m


def _script(m, compile, replay=None):
    """Three voices joining at steps 0, 7 and 19 (so they sit at different positions), 110 steps with live changes.
    Returns every step's codes, the graphs compiled, the voices and the set of capture keys seen (see `Engine._key`)."""
    graphs, keys = [], set()

    def counting(gm, example_inputs):
        graphs.append(gm)
        from torch._dynamo.backends.common import aot_autograd  # noqa: F401  (functionalised, like inductor)
        return gm.forward

    room = 300 if m.prefixed else 0  # a melody model's prefix (235 chroma frames + text) before the window
    eng = m.engine(voices=3, rows=8, positions=160 + room, compile=counting if compile else None)
    if replay is not None:  # a CUDA graph's semantics, on the CPU (tests/models/graph_replay.py)
        eng._graphs = replay
    base = SamplingParams(temperature=1.0, top_k=50, top_p=0.0, cfg_coef=3.0)
    joins = {0: ("warm keys", 1), 7: ("dub techno", 2), 19: ("glitchy ambient", 3)}
    voices, out = [], []
    for step in range(110):
        if step in joins:
            text, seed = joins[step]
            v = eng.add([(text, 1.0)], base, seed, True, 150)
            eng.start_window(v, None, 140)
            voices.append(v)
        if step == 30:
            eng.set_params(voices[0], base.replace(temperature=0.6))
        if step == 40:
            eng.set_params(voices[1], base.replace(top_k=5, top_p=0.8))
        if step == 50:
            eng.set_params(voices[2], base.replace(cfg_coef=1.0, top_k=0, top_p=0.9))
        if step == 60:
            eng.set_prompts(voices[0], [("rain on a tin roof", 0.5), ("warm keys", 0.5)])  # a row joins the voice
        if step == 80:
            eng.set_prompts(voices[1], [("solo cello", 1.0)])
        if step == 90:
            eng.set_params(voices[0], base.replace(temperature=0.0))  # greedy
        for v in voices:
            eng.prime(v)
        out.append(eng.step()[: len(voices)].clone())
        keys.add(eng._key(eng.lm.position_table(eng.positions + 1)))
    return out, graphs, voices, keys


def test_compiled_step_is_one_graph_and_equals_eager(plain):
    eager, _, _, keys = _script(plain, compile=False)
    compiled, graphs, voices, _ = _script(plain, compile=True)
    assert len(graphs) == 1  # one capture for the whole run: positions, parameters and prompts are data
    assert len(keys) == 1  # and a CUDA graph captured at step 0 stays valid: nothing the step touches moved
    assert {v.col for v in voices} == {111, 104, 92}  # rows really were at different positions
    for a, b in zip(eager, compiled):
        assert torch.equal(a, b)


def test_replayed_step_equals_eager(plain):
    """The step as a CUDA graph runs it: recorded once at step 0, then 109 replays of the recorded kernels alone (no
    Python of the step runs), through voices joining, every parameter and the prompts changing."""
    eager, _, _, _ = _script(plain, compile=False)
    graphs = ReplayGraphs()
    replayed, _, _, _ = _script(plain, compile=False, replay=graphs)
    assert (graphs.captures, graphs.replays) == (1, 109)
    for a, b in zip(eager, replayed):
        assert torch.equal(a, b)


def test_voices_leaving_and_joining_keep_the_captured_step_valid(tiny):
    """A CUDA graph replays the step on fixed memory: voices leave and join within the engine's room as writes into
    it; only a growth past that room moves memory (a new capture key). Off CUDA, graphs=True is refused."""
    eng = tiny.engine(voices=2, rows=4, positions=40)

    def key() -> tuple:
        return eng._key(eng.lm.position_table(eng.positions + 1))

    a = eng.add([("a", 1.0)], SamplingParams(cfg_coef=3.0), 1, True, 30)
    eng.start_window(a, None, 20)
    eng.prime(a)
    eng.step()
    first = key()
    b = eng.add([("b", 0.5), ("c", 0.5)], SamplingParams(cfg_coef=1.0), 2, False, 30)
    eng.start_window(b, None, 20)
    eng.prime(b)
    eng.step()
    eng.remove(a)
    c = eng.add([("d", 1.0)], SamplingParams(cfg_coef=2.0), 3, True, 30)
    eng.start_window(c, None, 20)
    eng.prime(c)
    eng.step()
    assert key() == first
    d = eng.add([("e", 1.0)], SamplingParams(cfg_coef=2.0), 4, True, 30)  # a third voice: the engine grows
    assert key() != first
    from loopgen.errors import LoopgenError

    with pytest.raises(LoopgenError, match="CUDA graphs need a CUDA device"):
        tiny.engine(graphs=True)
    assert d.slot == 2


def test_one_graph_per_batch_size(plain):
    graphs = []

    def counting(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    for voices in (1, 2, 1):
        eng = plain.engine(voices=voices, rows=2 * voices, positions=40, compile=counting)
        for i in range(voices):
            v = eng.add([("x", 1.0)], SamplingParams(), i, True, 30)
            eng.start_window(v, None, 20)
        for _ in range(5):
            eng.step()
    assert len(graphs) == 2  # batch 1 reuses its graph


def test_eager_default_path_equals_plain_matmul_path(monkeypatch):
    """The CPU's oneDNN path and the F.linear path (CUDA's) give the same music."""
    from loopgen.models.lm import Dense

    a = load_model("random:tiny").generate(["x", "y"], seconds=0.6, seed=3)
    m = load_model("random:tiny")
    m.lm.unpack()
    monkeypatch.setattr(Dense, "onednn", False)
    b = m.generate(["x", "y"], seconds=0.6, seed=3)
    assert torch.equal(a.codes, b.codes)


def test_state_grown_during_a_step_can_be_written_between_steps(tiny):
    """An engine that grew inside inference mode (a window start during a step) still takes new voices, parameters
    and prompts outside it."""
    from loopgen.params import SamplingParams

    eng = tiny.engine()
    with torch.inference_mode():
        eng.reserve(voices=3, rows=6, positions=200, text=128)
    v = eng.add([("x", 1.0)], SamplingParams(), 1, True, 100)
    eng.set_params(v, SamplingParams(temperature=0.5))
    eng.set_prompts(v, [("x", 0.5), ("y", 0.5)])
    eng.start_window(v, None, 50)
    eng.step()


def test_thread_policy_leaves_a_core_and_is_applied(monkeypatch):
    import torch

    from loopgen import LoopgenError
    from loopgen.models.threads import default_threads, set_threads

    monkeypatch.delenv("LOOPGEN_THREADS", raising=False)
    assert [default_threads(c) for c in (1, 2, 8)] == [1, 1, 7]
    monkeypatch.setenv("LOOPGEN_THREADS", "3")
    assert default_threads(2) == 3
    monkeypatch.setenv("LOOPGEN_THREADS", "many")
    with pytest.raises(LoopgenError):
        default_threads(2)
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
