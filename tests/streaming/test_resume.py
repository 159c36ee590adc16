"""A stream resumed in a fresh session (another process, after its worker was lost) goes on exactly as the original:
the same codes, greedy or sampled, across window changes and live changes; the take's audio has no seam."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from loopgen.streaming.family import Batch
from loopgen.streaming.session import Session
from loopgen.streaming.take import Take


def _run(session, states=None):
    """Step a session alone to its end -> its frames' codes [B, K, n]; states[i]: (window_state, ticks) after frame i."""
    codes = []
    for f in session:
        codes.append(f.codes)
        if states is not None:
            states.append((session.window_state, session.ticks))
    return torch.stack(codes, dim=-1)


@pytest.mark.parametrize("params", [{"top_k": 1}, {"temperature": 1.0, "top_k": 50}], ids=["greedy", "sampled"])
def test_a_resumed_session_makes_the_same_codes_across_windows(tiny, params):
    kw = dict(params=params, seed=3, seconds=3.0, window_seconds=1.0, stride_seconds=0.4)
    states: list = []
    whole = _run(Session(tiny, "dub techno", **kw), states)  # [1, K, 150]: windows of 50 frames, 30 kept
    assert len({s[0][0] for s in states}) > 3  # several windows were opened
    for k in (1, 10, 49, 50, 51, 77, 149):  # at a window's end, its first frame, anywhere
        s = Session(tiny, "dub techno", **kw)
        (w0, p, drawn), ticks = states[k - 1]
        s.resume(whole[..., :k], w0, p, drawn, ticks)
        rest = _run(s)
        assert torch.equal(rest, whole[..., k:]), k


def test_a_resumed_session_without_its_draws_differs(tiny):
    """The draw counter matters (the test above would pass for greedy alone without it)."""
    kw = dict(params={"temperature": 1.0, "top_k": 50}, seed=3, seconds=1.0)
    states: list = []
    whole = _run(Session(tiny, "x", **kw), states)
    s = Session(tiny, "x", **kw)
    (w0, p, drawn), ticks = states[19]
    s.resume(whole[..., :20], w0, p, drawn + 1, ticks)
    assert not torch.equal(_run(s), whole[..., 20:])


@pytest.mark.parametrize("prompts", [False, True], ids=["params", "prompts"])
def test_a_resumed_take_with_live_changes_and_a_continued_riff_has_the_same_audio(tiny, prompts):
    """Live parameter changes resume exactly. A prompt change keeps the self-attention history made under the old
    prompts; a resumed window is primed under the new ones: it goes on without a seam, not code for code."""
    riff = torch.sin(torch.arange(int(32000 * 0.7)) / 32000 * 2 * torch.pi * 220)[None] * 0.3  # [1, n]

    def take():
        return Take(tiny, [[("house", 1.0)]], {"temperature": 1.0, "top_k": 50}, 11, 64000, loop=True,
                    original=riff, keep_original=True, guided=True)

    a, b = take(), take()
    batch = Batch(tiny, [a.session])
    codes, cut = [], 30
    while not a.session.done:
        if a.session.ticks == 12:
            a.set_params(temperature=0.7, cfg_coef=2.0)
        if a.session.ticks == 20 and prompts:
            a.set_prompts([("ambient", 0.5), ("house", 0.5)])
        for _, f in batch.step():
            a.push(f)
            codes.append(f.codes)
            if len(codes) == cut:
                state, ticks, changes = a.session.window_state, a.session.ticks, list(a.changes)
                made_then = a.made
    a.flush()
    b.resume(torch.stack(codes[:cut], dim=-1), state, ticks, changes)
    assert b.made == made_then  # the take so far, decoded again: the audio streamed before the move
    batch_b = Batch(tiny, [b.session])
    rest = []
    while not b.session.done:
        for _, f in batch_b.step():
            b.push(f)
            rest.append(f.codes)
    b.flush()
    assert b.changes == a.changes and a.audio().shape == b.audio().shape
    n = b.raw().shape[-1] - b.made + made_then  # the original's samples, then what was made before the move
    assert np.abs((a.raw() - b.raw())[:, :n].numpy()).max() < 1e-5  # the take so far: the same audio
    if not prompts:
        assert torch.equal(torch.stack(rest, -1), torch.stack(codes[cut:], -1))
        assert np.abs((a.audio() - b.audio()).numpy()).max() < 1e-5
