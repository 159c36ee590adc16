"""Batched incremental decoding: the streams of a DecoderBank step together in one decoder call per frame, and each
stream's audio equals its decode alone, whatever joins, pauses or leaves beside it."""
from __future__ import annotations

import pytest
import torch

from loopgen.errors import LoopgenError
from loopgen.models.graphs import tensor_key
from loopgen.streaming.bank import DecoderBank

from ..models.graph_replay import ReplayGraphs


def codes_for(m, t, seed):
    return torch.randint(0, 2048, (1, m.num_codebooks, t), generator=torch.Generator().manual_seed(seed))


def crowd(m, plans, capacity=1, graphs=None, scripts=None, logs=None):
    """plans: per stream (codes [1, K, T], first tick, ticks it skips, first push size). Every stream runs to its end
    and is flushed; returns (audio per stream, the most slots the bank had, banked streams per decoder call).
    scripts: per stream, a recorded log of moves into and out of the bank to follow; logs: a list the streams' own
    logs are put in."""
    bank = DecoderBank(m, capacity)
    if graphs is not None:  # a CUDA graph's semantics, on the CPU (tests/models/graph_replay.py)
        bank._graphs = graphs
    streams = [bank.open() for _ in plans]
    for s, script in zip(streams, scripts or [None] * len(plans)):
        s.script = script
    if logs is not None:
        logs.extend(s for s in streams)
    out = [[] for _ in plans]
    pos = [0] * len(plans)
    per_call = []
    peak = tick = 0
    while any(s is not None for s in streams):
        items, who = [], []
        for i, (codes, start, skips, first) in enumerate(plans):
            if streams[i] is None or tick < start or tick in skips:
                continue
            n = first if pos[i] == 0 else 1
            if pos[i] < codes.shape[-1]:
                items.append((streams[i], codes[..., pos[i] : pos[i] + n]))
                who.append(i)
                pos[i] += n
            else:
                out[i].append(streams[i].flush())
                streams[i] = None
        calls = bank.calls
        for i, pcm in zip(who, bank.push(items)):
            out[i].append(pcm)
        banked = sum(1 for s, c in items if s.slot >= 0 and c.shape[-1] == 1)  # in the bank's rows after the push
        if bank.calls > calls:
            per_call += [banked / (bank.calls - calls)] * (bank.calls - calls)
        peak = max(peak, bank.slots)
        tick += 1
    assert bank.slots == bank.capacity0  # all closed: the memory is given back
    if logs is not None:
        logs[:] = [s.log for s in logs]
    return [torch.cat(x, dim=-1) for x in out], peak, per_call


PLANS = [  # (seed, first tick, skipped ticks, first push)
    (0, 0, (), 1), (1, 0, (5, 6, 7, 20), 1), (2, 3, (9,), 1), (3, 8, (), 12), (4, 12, (13, 14, 15, 16), 1),
    (5, 30, (), 1),
]


@pytest.mark.parametrize("model", ["tiny", "stereo"])
def test_each_stream_equals_its_decode_alone(model, request, two_threads):
    m = request.getfixturevalue(model)
    plans = [(codes_for(m, 30, seed), start, set(skips), first) for seed, start, skips, first in PLANS]
    logs: list = []
    got, peak, per_call = crowd(m, plans, logs=logs)  # capacity 1: the bank grows while streams run
    assert peak >= 4 and max(per_call) >= 4  # streams really were decoded together ...
    assert logs[0] == [[4, 2]] and logs[-1][-1][1] == 1  # into the bank when steady; the last one ends alone
    for g, (codes, _, _, first), log in zip(got, plans, logs):
        ref = m.decode(codes)
        assert g.shape == ref.shape
        assert (g - ref).abs().max() < 1e-5  # ... and each equals the offline decode
        # and, bit for bit, itself decoded alone making the same moves (the daemon's takes replay exactly)
        alone, _, _ = crowd(m, [(codes, 0, set(), first)], scripts=[log])
        assert torch.equal(g, alone[0])


def test_a_stream_alone_decodes_in_one_row_and_its_moves_are_replayed(tiny, two_threads):
    """Alone, a steady stream stays in its own one-row decoder (no bank call: what a second row cost a lone take);
    joined by another it moves into the bank, and back out when that one leaves. Made again by its log, the same
    bits; made again without it (always banked), other bits."""
    m = tiny
    codes = codes_for(m, 40, 7)
    logs: list = []
    alone, _, per_call = crowd(m, [(codes, 0, set(), 1)], logs=logs)
    assert logs == [[]] and per_call == []
    lone = DecoderBank(m, 1, exact=False).open()  # the engine's one row: the same bits
    assert torch.equal(alone[0], torch.cat([lone.push(codes[..., i : i + 1]) for i in range(40)] + [lone.flush()], -1))
    plans = [(codes, 0, set(), 1), (codes_for(m, 10, 8), 12, set(), 1)]  # a second stream from tick 12 to 22
    logs = []
    got, _, per_call = crowd(m, plans, logs=logs)
    assert logs[0] == [[12, 2], [22, 1]] and per_call  # in the bank while the other ran, alone again after
    again, _, _ = crowd(m, [(codes, 0, set(), 1)], scripts=[logs[0]])
    assert torch.equal(again[0], got[0])
    banked, _, _ = crowd(m, [(codes, 0, set(), 1)], scripts=[[[0, 2]]])
    assert not torch.equal(banked[0], got[0]) and (banked[0] - got[0]).abs().max() < 1e-5


@pytest.mark.parametrize("model", ["tiny", "stereo"])
def test_replayed_push_equals_eager(model, request):
    """The batched push as a CUDA graph runs it: captured once per (slots, some paused) and replayed as recorded
    kernels alone, while streams join, pause, leave and the bank grows: every stream's audio is the same bits."""
    m = request.getfixturevalue(model)
    plans = [(codes_for(m, 30, seed), start, set(skips), first) for seed, start, skips, first in PLANS]
    graphs = ReplayGraphs()
    got, _, _ = crowd(m, plans, graphs=graphs)
    want, _, _ = crowd(m, plans)
    assert graphs.replays > 5 * graphs.captures  # growth and pauses aside, pushes are replays
    for g, w in zip(got, want):
        assert torch.equal(g, w)


def test_one_decoder_call_per_frame_for_all_streams(tiny):
    plans = [(codes_for(tiny, 20, seed), 0, set(), 1) for seed in range(5)]
    _, _, per_call = crowd(tiny, plans, capacity=8)
    # after the 4-frame warm-up every tick is one call decoding all five streams (per_call: one entry per call)
    assert per_call == [5] * (20 - 4)


def test_memory_is_reused_and_given_back(tiny):
    bank = DecoderBank(tiny, 2)
    a, b, c = bank.open(), bank.open(), bank.open()
    codes = codes_for(tiny, 8, 0)
    for t in range(8):
        bank.push([(s, codes[..., t : t + 1]) for s in (a, b, c)])
    assert bank.slots == 4 and sorted(s.slot for s in (a, b, c)) == [0, 1, 2]
    key = tensor_key(bank.net.flat, bank.codes, bank.live)  # what a captured push (CUDA graph) depends on
    b.flush()
    d = bank.open()
    for t in range(8):
        bank.push([(d, codes[..., t : t + 1])])
    assert d.slot == 1  # the freed slot
    assert tensor_key(bank.net.flat, bank.codes, bank.live) == key  # a stream left, one joined: nothing moved
    for s in (a, c, d):
        s.flush()
    assert bank.slots == 2  # idle after a crowd: back to its first size


def test_misuse_is_refused(tiny):
    bank, other = DecoderBank(tiny), DecoderBank(tiny)
    s = bank.open()
    codes = codes_for(tiny, 2, 0)
    with pytest.raises(LoopgenError, match="once per push"):
        bank.push([(s, codes[..., :1]), (s, codes[..., 1:])])
    with pytest.raises(LoopgenError, match="another decoder bank"):
        other.push([(s, codes)])


def test_int8_streams_in_the_bank_equal_themselves_alone(two_threads):
    """An int8 model streams its codec in int8, each stream's activations quantized apart (one call per row): in the
    bank beside others a stream is the same bits as made alone by its log (a daemon's int8 take replays exactly)."""
    from loopgen import load_model

    m = load_model("random:tiny", dtype="int8")
    plans = [(codes_for(m, 30, seed), start, set(skips), first) for seed, start, skips, first in PLANS[:3]]
    logs: list = []
    got, _, per_call = crowd(m, plans, logs=logs)
    assert max(per_call) >= 3  # decoded together
    for g, (codes, _, _, first), log in zip(got, plans, logs):
        alone, _, _ = crowd(m, [(codes, 0, set(), first)], scripts=[log])
        assert torch.equal(g, alone[0])


def test_a_stream_dropped_without_close_stops_counting(tiny, two_threads):
    """A take that failed and was dropped without `close` no longer makes the bank think another stream is open: a
    stream alone afterwards still decodes in its own one row (no bank call, nothing logged)."""
    import gc

    bank = DecoderBank(tiny, 1)
    dropped = bank.open()
    for i in range(6):
        dropped.push(codes_for(tiny, 6, 1)[..., i : i + 1])
    del dropped
    gc.collect()
    alone, codes = bank.open(), codes_for(tiny, 12, 2)
    for i in range(12):
        alone.push(codes[..., i : i + 1])
    assert alone.log == [] and bank.calls == 0
