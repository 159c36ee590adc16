"""A stream resumed in a fresh session (another process, after its worker was lost) goes on exactly as the original:
the same codes, greedy or sampled, across window changes and live changes; the take's audio has no seam."""
from __future__ import annotations

import dataclasses

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
    kw = dict(params=params, seed=3, seconds=2.0, window_seconds=1.0, stride_seconds=0.4)
    states: list = []
    whole = _run(Session(tiny, "dub techno", **kw), states)  # [1, K, 100]: windows of 50 frames, 30 kept
    assert len({s[0].w0 for s in states}) > 2  # several windows were opened
    for k in (1, 49, 50, 77):  # at a window's end, its first frame, anywhere
        s = Session(tiny, "dub techno", **kw)
        state, ticks = states[k - 1]
        s.resume(whole[..., :k], state, ticks)
        rest = _run(s)
        assert torch.equal(rest, whole[..., k:]), k


def test_a_resumed_session_without_its_draws_differs(tiny):
    """The draw counter matters (the test above would pass for greedy alone without it)."""
    kw = dict(params={"temperature": 1.0, "top_k": 50}, seed=3, seconds=1.0)
    states: list = []
    whole = _run(Session(tiny, "x", **kw), states)
    s = Session(tiny, "x", **kw)
    state, ticks = states[19]
    s.resume(whole[..., :20], dataclasses.replace(state, drawn=state.drawn + 1), ticks)
    assert not torch.equal(_run(s), whole[..., 20:])


@pytest.mark.parametrize("prompts", [False, True], ids=["params", "prompts"])
def test_a_resumed_take_with_live_changes_and_a_continued_riff_has_the_same_audio(tiny, prompts):
    """Live changes resume exactly: parameters apply from the next step; a prompt change kept the self-attention
    history made under the old prompts, so the resumed window is primed under each position's own prompts (and a
    change made in the last steps before the move, past what the frames prime, applies as its position is fed)."""
    riff = torch.sin(torch.arange(int(32000 * 0.7)) / 32000 * 2 * torch.pi * 220)[None] * 0.3  # [1, n]

    def take():
        return Take(tiny, [[("house", 1.0)]], {"temperature": 1.0, "top_k": 50}, 11, 64000, loop=True,
                    original=riff, keep_original=True, guided=True)

    a = take()
    batch = Batch(tiny, [a.session])
    codes, at = [], {}
    while not a.session.done:
        if a.session.ticks == 12:
            a.set_params(temperature=0.7, cfg_coef=2.0)
        if a.session.ticks in (20, 29) and prompts:
            a.set_prompts([("ambient", 0.5), ("house", 0.5)] if a.session.ticks == 20 else [("dub", 1.0)])
        for _, f in batch.step():
            a.push(f)
            codes.append(f.codes)
            at[len(codes)] = (a.session.window_state, a.session.ticks, list(a.changes), a.made)
    a.flush()
    changed = [c["frame"] - a.session.first_frame for c in a.changes if "prompts" in c]
    cuts = (30, changed[-1] + 1, changed[-1] + 3) if prompts else (30,)  # just after the last change too
    for cut in cuts:
        state, ticks, changes, made_then = at[cut]
        b = take()
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
        assert torch.equal(torch.stack(rest, -1), torch.stack(codes[cut:], -1)), cut
        assert np.abs((a.audio() - b.audio()).numpy()).max() < 1e-5


def test_window_changes_counts_every_change_of_the_window_state(tiny):
    """A worker sends a session's window state only when `window_changes` moves: it must move whenever the state
    does (a new window, a prompt switch), or a moved take would resume from a stale state."""
    s = Session(tiny, [[("dub", 1.0)]], {"top_k": 1}, seed=1, seconds=2.0, window_seconds=1.0, stride_seconds=0.4)
    seen, changes = None, 0
    for f in s:
        if f.index in (20, 21, 70):
            s.set_prompts([[("dub", 0.5), ("bells", 0.5)]] if f.index != 21 else [[("bells", 1.0)]])
        state = s.window_state
        if state != seen:
            assert s.window_changes != changes, f.index
            seen, changes = state, s.window_changes
    assert changes >= 5  # windows opened and switches made
