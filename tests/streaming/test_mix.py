"""The speakers' mixer (sans-I/O): where a source is in its take at the stream -> loop seam, and bar-line launches."""
from __future__ import annotations

import numpy as np
import pytest

from loopgen.streaming.mix import Mixer, Source


def _ramp(a: int, b: int) -> np.ndarray:
    return np.arange(a, b, dtype=np.float32)[:, None]  # [n, 1]: each sample its own index


def test_the_loop_resumes_where_the_stream_left_off():
    """Streamed samples 0..12 of a 10-sample loop, then the loop: sample 13 of the take is loop sample 3, whatever
    the block size, including a block that holds both the stream's end and the loop's start."""
    for block in (1, 3, 5, 8, 13, 20):
        s = Source("a")
        s.chunks = [_ramp(0, 7), _ramp(7, 13)]
        s.loop = np.arange(10, dtype=np.float32)[:, None] * 100  # loop sample i = 100 * i: told apart from the stream
        out = np.concatenate([s.pull(block, 1) for _ in range(40 // block + 1)])[:40, 0]
        want = [float(i) for i in range(13)] + [100.0 * (i % 10) for i in range(13, 40)]
        assert out.tolist() == want, block
        assert s.pos == (40 // block + 1) * block


def test_a_bar_line_launch_after_the_seam_lands_on_the_bar():
    """A loop of two 5-sample bars, streamed 0..12 then looping; a launch waits for the next bar line of the take
    (sample 15), not a line shifted by the samples streamed in the seam's block."""
    m = Mixer(1)
    m.launch("a", bar_samples=5)
    m.feed("a", _ramp(0, 13))
    m.finished("a", np.arange(10, dtype=np.float32)[:, None] * 100)
    first = m.block(11)  # 0..10, still streaming
    assert first[:, 0].tolist() == [float(i) for i in range(11)]
    m.launch("b")
    m.feed("b", np.full((20, 1), -1.0, np.float32))
    y = m.block(8)[:, 0]  # take samples 11..18: 11, 12 streamed, then loop samples 3, 4 -> bar line at 15
    assert y[:4].tolist() == [11.0, 12.0, 300.0, 400.0]
    assert m.started[-1] == ("b", 4)  # b starts on the bar line: the 4th sample of this block


def test_a_stream_waits_for_the_pre_roll_its_rate_needs():
    """Chunks of 100 samples every 0.01 s at 10 kHz: 1x real time -> the margin alone (0.1 s = 1000 samples).
    Every 0.02 s: 0.5x -> the margin plus remaining * (1 - r) / r."""
    from loopgen.streaming.mix import Preroll

    p = Preroll(10000, slack=1.0)
    s = Source("a", total=10000)
    s.add(np.zeros((100, 1), np.float32), 0.0)
    assert p.need(s) == float("inf")  # one arrival: no rate yet
    for i in range(1, 10):
        s.add(np.zeros((100, 1), np.float32), i * 0.01)
    assert p.need(s) == pytest.approx(1000)
    slow = Source("b", total=10000)
    for i in range(10):
        slow.add(np.zeros((100, 1), np.float32), i * 0.02)
    assert p.need(slow) == pytest.approx(1000 + 9000 * 0.5 / 0.5)
    assert Preroll(10000, slack=1.25).need(slow) == pytest.approx(1000 + 9000 * 0.6 / 0.4)  # taken as 0.4x


def test_a_dry_stream_plays_silence_and_goes_on_from_where_it_stopped():
    """A playing stream runs dry mid-block: the rest is silence, counted once, recorded (take sample, first silent
    mixer sample, first sample after); with more audio it goes on from the sample after the last one played."""
    m = Mixer(1)
    m.launch("a")
    m.feed("a", _ramp(1, 151))  # samples 1..150
    assert m.block(100)[:, 0].tolist() == [float(i) for i in range(1, 101)]
    y = m.block(100)[:, 0]
    assert y[:50].tolist() == [float(i) for i in range(101, 151)] and np.all(y[50:] == 0)
    assert m.underruns == 1 and list(m.dropouts[0]) == ["a", 150, 150, None]
    assert np.all(m.block(100) == 0) and m.underruns == 1  # still dry: the same dropout
    m.feed("a", _ramp(151, 201))
    y = m.block(100)[:, 0]
    assert y[:50].tolist() == [float(i) for i in range(151, 201)]  # in order: nothing lost, nothing repeated
    assert list(m.dropouts[0]) == ["a", 150, 150, 300] and m.underruns == 2  # (ran dry again at its end)
