"""Sessions stepped together in one forward pass give exactly what each gives alone."""
from __future__ import annotations

import torch

from loopgen.models import SamplingParams
from loopgen.streaming import Batch, Session




def specs(m):
    return [
        dict(prompts=["techno"], params=SamplingParams(top_k=50), seed=1, seconds=1.6),
        dict(prompts=["a long prompt about slow ambient strings"], params=SamplingParams(temperature=0.7, cfg_coef=2.0), seed=2, seconds=1.2),
        dict(prompts=[[("jazz", 0.7), ("noise", 0.3)]], params=SamplingParams(top_k=0, top_p=0.9), seed=3, seconds=1.4),
    ]


def alone(m, spec, **kw):
    return [f.codes for f in Session(m, **spec, **kw)]


def test_batched_sessions_equal_each_alone(tiny):
    windows = dict(window_seconds=0.8, stride_seconds=0.5)  # re-priming happens at different times per session
    ref = [alone(tiny, sp, **windows) for sp in specs(tiny)]
    sessions = [Session(tiny, **sp, **windows) for sp in specs(tiny)]
    got = {id(s): [] for s in sessions}
    batch = Batch(tiny)
    batch.add(sessions[0])
    for _ in range(7):  # the others join later: rows at different positions
        for s, f in batch.step():
            got[id(s)].append(f.codes)
    batch.add(sessions[1])
    for _ in range(5):
        for s, f in batch.step():
            got[id(s)].append(f.codes)
    batch.add(sessions[2])
    while batch.sessions:
        for s, f in batch.step():
            got[id(s)].append(f.codes)
    for s, r in zip(sessions, ref):
        assert len(got[id(s)]) == len(r)
        assert all(torch.equal(a, b) for a, b in zip(got[id(s)], r))


def test_leave_a_batch_and_go_on_alone(tiny):
    sp = specs(tiny)
    ref = alone(tiny, sp[0])
    a, b = Session(tiny, **sp[0]), Session(tiny, **sp[1])
    batch = Batch(tiny, [a, b])
    frames = []
    for _ in range(20):
        frames += [f.codes for s, f in batch.step() if s is a]
    batch.remove(a)
    frames += [f.codes for f in a]
    assert all(torch.equal(x, y) for x, y in zip(frames, ref)) and len(frames) == len(ref)
    assert batch.sessions == [b]


def test_prompt_count_change_carries_the_kv_history(tiny):
    """A voice that goes from one prompt to two copies of it (and back) must sound exactly as if nothing changed: the
    new prompt row inherits the voice's own KV history, and 0.5 * a + 0.5 * a == a. A new row with any other history
    (zeros, the unconditional row's, another session's) gives other logits and other codes."""
    spec = dict(params=SamplingParams(top_k=20), seconds=1.0)
    ref = [f.codes for f in Session(tiny, ["x"], seed=0, **spec)]
    a, b = Session(tiny, ["x"], seed=0, **spec), Session(tiny, ["y"], seed=1, seconds=0.6)
    batch = Batch(tiny, [a, b])
    got = []
    for i in range(45):
        if i == 10:
            a.set_prompts([[("x", 0.5), ("x", 0.5)]])  # a new LM row for this voice
            assert a.engine is b.engine and len(a.voices[0].rows) == 3
        if i == 30:
            a.set_prompts(["x"])
            assert len(a.voices[0].rows) == 2
        got += [f.codes for s, f in batch.step() if s is a]
    while batch.sessions:
        got += [f.codes for s, f in batch.step() if s is a]
    assert len(got) == len(ref) and all(torch.equal(x, y) for x, y in zip(got, ref))


def test_chunked_prefill_keeps_other_sessions_stepping(tiny):
    """A continuation with a long prompt primes 4 tokens per step; the session next to it keeps making frames, and
    the primed session makes the same music as when it primes at once."""
    prompt = torch.randint(0, 2048, (1, 4, 40), generator=torch.Generator().manual_seed(0))
    ref = [f.codes for f in Session(tiny, ["go on"], SamplingParams(top_k=1), 0, 0.4, prompt)]
    long = Session(tiny, ["go on"], SamplingParams(top_k=1), 0, 0.4, prompt)
    other = Session(tiny, ["beat"], seed=1, seconds=1.0)
    batch = Batch(tiny, [long, other], prefill_chunk=4)
    got, other_frames_while_priming = [], 0
    for _ in range(12):  # 41 known columns at 4 per step: the long one is still priming
        for s, f in batch.step():
            other_frames_while_priming += s is other
            assert s is other
    assert other_frames_while_priming >= 8
    while batch.sessions:
        got += [f.codes for s, f in batch.step() if s is long]
    assert len(got) == len(ref) and all(torch.equal(a, b) for a, b in zip(got, ref))


def test_rows_reused_after_a_session_leaves_carry_nothing_over(tiny):
    """A session that takes the slots a finished one left (stale K/V, text, columns and draw counts in them) gives
    exactly what it gives in a fresh engine."""
    sp = specs(tiny)
    ref = alone(tiny, sp[1])
    batch = Batch(tiny, [Session(tiny, **sp[0]), Session(tiny, **sp[2])])
    for _ in range(30):
        batch.step()
    first = batch.sessions[0]
    first.cancel()
    batch.step()  # it leaves and frees its slot and rows
    late = Session(tiny, **sp[1])
    batch.add(late)
    assert late.voices[0].slot == 0  # the freed slot, not a new one
    got = []
    while late in batch.sessions:
        got += [f.codes for s, f in batch.step() if s is late]
    assert len(got) == len(ref) and all(torch.equal(x, y) for x, y in zip(got, ref))


def test_uninitialised_cache_memory_is_never_read(tiny):
    """KV memory is allocated uninitialised and zeroed just ahead of use: poison everything not yet made ready with
    NaN, again and again as the sessions run, and the results must not change."""
    sp = specs(tiny)[:2]
    ref = [alone(tiny, x) for x in sp]
    a, b = Session(tiny, **sp[0]), Session(tiny, **sp[1])
    batch = Batch(tiny, [a])

    @torch.inference_mode()  # engine state is inference-mode state
    def poison():
        c = batch.engine.cache
        c.k[:, :, :, c.ready :] = float("nan")
        c.v[:, :, :, c.ready :] = float("nan")

    got = {id(a): [], id(b): []}
    for _ in range(9):  # b joins later: rows at different positions
        poison()
        for s, f in batch.step():
            got[id(s)].append(f.codes)
    batch.add(b)
    while batch.sessions:
        poison()
        for s, f in batch.step():
            got[id(s)].append(f.codes)
    for s, r in zip((a, b), ref):
        assert len(got[id(s)]) == len(r) and all(torch.equal(x, y) for x, y in zip(got[id(s)], r))
