"""Audio out: the ring buffer, underrun counting, bar-synced launches and fades (headless null output)."""
from __future__ import annotations

import time

import numpy as np

from loopgen.server.audio_out import Player, Ring


def test_ring_wraps_and_counts_underruns():
    r = Ring(8, 1)
    r.write(np.arange(6, dtype=np.float32)[:, None])
    out = np.empty((4, 1), np.float32)
    r.read_into(out)
    assert out[:, 0].tolist() == [0, 1, 2, 3] and r.underruns == 0
    r.write(np.arange(6, 12, dtype=np.float32)[:, None])  # wraps around the end
    out = np.empty((10, 1), np.float32)
    r.read_into(out)
    assert out[:8, 0].tolist() == [4, 5, 6, 7, 8, 9, 10, 11] and out[8:, 0].tolist() == [0, 0]
    assert r.underruns == 1  # ran dry: silence, counted


def test_launch_waits_for_the_next_bar_and_crossfades():
    p = Player(32000, 1, "none", block=1000)
    a = np.ones((5000, 1), np.float32)  # a finished 5000-sample loop, bars of 2500
    p.launch("a", bar_samples=2500)
    p.finished("a", a)
    p.current.loop = a
    first = p._next_block()
    assert np.all(first == 1.0)
    p.launch("b")
    p.feed("b", np.full((4000, 1), -1.0, np.float32))
    blocks = [p._next_block() for _ in range(3)]
    y = np.concatenate(blocks)[:, 0]
    # the switch starts exactly at the bar line: sample 2500 of the loop = sample 1500 of these blocks
    assert np.all(y[:1500] == 1.0) and 0.99 < y[1500] < 1.0 and y[1999] < 0  # the fade starts on the bar line
    assert p.current.id == "b"


def test_stop_fades_out_and_null_output_runs_in_real_time():
    p = Player(32000, 1, "none", block=512)
    p.launch("a")
    p.feed("a", np.ones((32000, 1), np.float32))
    p.start()
    time.sleep(0.3)
    p.stop(fade=True)
    time.sleep(0.1)
    assert p.current is None
    consumed = p.ring.r
    assert 0.1 * 32000 < consumed < 1.0 * 32000  # the null device plays at about real time
    p.close()


def test_stop_fades_the_playing_block_to_silence():
    """The block after stop is the music under a falling equal-power gain ending at 0: not cut, not left as is."""
    from loopgen.streaming.mix import Mixer

    m = Mixer(1)
    m.launch("a")
    m.feed("a", np.full((4000, 1), 0.5, np.float32))
    assert np.all(m.block(1000) == 0.5)
    m.stop(fade=True)
    y = m.block(1000)[:, 0]
    assert y[0] > 0.49 and abs(y[-1]) < 1e-6 and np.all(np.diff(y) <= 0)
    assert abs(y[499] - 0.5 * np.cos(np.pi / 4)) < 2e-3  # equal power: -3 dB halfway
    assert np.all(m.block(1000) == 0.0) and m.current is None
