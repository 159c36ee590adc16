"""Sessions stepped together in one forward pass give exactly what each gives alone."""
from __future__ import annotations

import pytest
import torch

from loopgen import load_model
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


def test_prompt_count_change_inside_a_batch(tiny):
    a, b = Session(tiny, ["x"], seed=0, seconds=0.6), Session(tiny, ["y"], seed=1, seconds=0.6)
    batch = Batch(tiny, [a, b])
    batch.step()
    a.set_prompts([[("x", 0.5), ("z", 0.5)]])
    assert a.batch is batch and a.cache is b.cache
    n = 0
    while batch.sessions:
        n += len(batch.step())
    assert n == 60


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


def test_unwritten_cache_memory_is_never_read(tiny):
    """KV caches are allocated uninitialised: poison them with NaN and the results must not change."""
    sp = specs(tiny)[:2]
    ref = [alone(tiny, x) for x in sp]
    a, b = Session(tiny, **sp[0]), Session(tiny, **sp[1])
    for s in (a, b):
        s.cache.k.fill_(float("nan"))
        s.cache.v.fill_(float("nan"))
    batch = Batch(tiny, [a])
    got = {id(a): [], id(b): []}
    for _ in range(9):  # b joins later: rows at different positions (the masked path)
        for s, f in batch.step():
            got[id(s)].append(f.codes)
    batch.add(b)
    while batch.sessions:
        for s, f in batch.step():
            got[id(s)].append(f.codes)
    for s, r in zip((a, b), ref):
        assert len(got[id(s)]) == len(r) and all(torch.equal(x, y) for x, y in zip(got[id(s)], r))
