"""Nothing in the per-step path reads a value back from the device: the engine's step, the sessions' bookkeeping
(windows, re-primes, live changes) and the batched decode run whole on PyTorch's meta device, which has no values, so
any read (`.item()`, `.tolist()`, `if tensor:`, a shape that depends on values) raises there. On a GPU such a read
would stall the host once per frame; the daemon's one copy per step (the PCM leaving the process) is outside this."""
from __future__ import annotations

from loopgen import load_model
from loopgen.params import SamplingParams
from loopgen.streaming import Batch, Session
from loopgen.streaming.bank import DecoderBank
from loopgen.streaming.take import Take, push_frames


def test_the_step_and_the_decode_never_read_the_device():
    m = load_model("random:tiny")
    if m.lm.packed:
        m.lm.unpack()  # oneDNN's packed layout exists on the CPU only
    m.to("meta")
    bank = DecoderBank(m, 1)
    guided = SamplingParams(cfg_coef=3.0)
    a = Take(m, [[("warm keys", 1.0)]], guided, 1, 16000, bank=bank)
    b = Take(m, [[("noise", 1.0)]], guided.replace(top_k=0, top_p=0.9), 2, 16000, bank=bank)
    windows = Session(m, "short windows", guided, 3, seconds=0.6, window_seconds=0.4, stride_seconds=0.2)
    batch = Batch(m, [a.session, windows], prefill_chunk=8)
    takes = {id(a.session): a, id(b.session): b}
    frames = {id(a): 0, id(b): 0, id(windows): 0}
    steps = 0
    while not (a.session.done and b.session.done and windows.done):
        if steps == 5:
            batch.add(b.session)  # joins while the others play
        if steps == 15:
            a.set_params(temperature=0.5, top_k=10)
            b.set_prompts([("noise", 0.5), ("keys", 0.5)])  # one LM row more
            windows.set_params(cfg_coef=1.5)
        done = batch.step()
        push_frames([(takes[id(s)], f) for s, f in done if id(s) in takes])
        for s, _ in done:
            frames[id(takes.get(id(s), s))] += 1
        steps += 1
        assert steps < 200
    assert frames == {id(a): 25, id(b): 25, id(windows): 30}  # every frame made, through 2 windows of 20
    assert windows.w0 == 10  # its second window was re-primed from its own tail
    assert a.frames == b.frames == 25 and bank.calls >= 20  # decoded in the bank (after 5 warm-up frames each)
    assert a.flush().shape == (1, 2402) and a.audio().shape == (1, 16000)  # the decoder's last samples; the take


def test_the_per_step_path_copies_nothing_from_the_host(monkeypatch):
    """Each step and each batched decode, with real values on the CPU, under the refusals of a CUDA graph capture
    (tests/models/graph_replay.HostGuard): no `torch.tensor(list)`, no list indexing of a device tensor, no host
    number written into one, no host read. On a GPU each of those is a copy that waits for the stream, per frame.
    Covered: fresh takes and a continuation primed in chunks, a stream joining a batch, streams moving into the
    decoder bank's rows and pausing there, and windows re-primed from a session's own tail. Live changes and joins
    happen between steps (they are events, not the per-step path). The CPU's own shortcuts (sampling.FREE_READS),
    which read on the host where that is free, are off, as on a GPU."""
    import torch

    from loopgen.models import sampling
    from tests.models.graph_replay import HostGuard

    monkeypatch.setattr(sampling, "FREE_READS", ())  # a GPU's path: the CPU's shortcuts read values on the host
    m = load_model("random:tiny")
    bank = DecoderBank(m, 1)
    guided = SamplingParams(cfg_coef=3.0)
    original = torch.sin(torch.arange(9600) / 20.0)[None] * 0.3  # 0.3 s to continue: 15 prompt frames
    a = Take(m, [[("warm keys", 1.0)]], guided, 1, 16000, bank=bank)
    b = Take(m, [[("noise", 1.0)]], guided.replace(top_k=0, top_p=0.9), 2, 12800, bank=bank, original=original)
    windows = Session(m, "short windows", guided, 3, seconds=0.6, window_seconds=0.4, stride_seconds=0.2)
    batch = Batch(m, [a.session, windows], prefill_chunk=4)
    takes = {id(a.session): a, id(b.session): b}
    steps = 0
    while not (a.session.done and b.session.done and windows.done):
        if steps == 5:
            batch.add(b.session)  # joins while the others play; its 15 prompt frames primed 4 a step
        if steps == 15:
            a.set_params(temperature=0.5, top_k=10)
            b.set_prompts([("noise", 0.5), ("keys", 0.5)])
        with HostGuard():
            done = batch.step()
            push_frames([(takes[id(s)], f) for s, f in done if id(s) in takes])
        steps += 1
        assert steps < 200
    assert a.frames == 25 and b.frames == 20 and windows.w0 == 10 and bank.calls >= 20
