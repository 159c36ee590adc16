"""Audio out: the ring buffer, underrun counting, bar-synced launches and fades (headless null output)."""
from __future__ import annotations

import random
import time

import numpy as np
import pytest

from loopgen.server.audio_out import Player, Ring
from loopgen.server.outputs import NullOutput

pytestmark = pytest.mark.xdist_group("realtime")  # real-time timing: asks for turns with the JACK and Ray modules;
# under pytest 9.2 the mark does not group (pyproject.toml)


class PreemptedOutput(NullOutput):
    """The null output, read by a feeder that is preempted (a busy host) right after it reads the output's clock,
    for 0 or `DELAY` seconds at random: the outside clock it reads next is read that much later."""

    DELAY = 0.003

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.random = random.Random(0)

    def ahead(self, index: int) -> float:
        a = super().ahead(index)
        time.sleep(self.DELAY * self.random.randrange(2))
        return a


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


def fed(p: Player) -> None:
    """Wait until p's feeder has written: before, the output only starts (its dry reads count as no underrun)."""
    deadline = time.monotonic() + 5
    while not p.ring.w:
        assert time.monotonic() < deadline, "the feeder never wrote"
        time.sleep(0.001)


def heard_clean(p: Player, n, underruns: int) -> bool:
    """Wait until launch n's first sample has been played; whether the ring stayed fed since `underruns` was read
    before the launch (a feeder the host starved: all it made before is heard that much later)."""
    deadline = time.monotonic() + 5
    while n not in p.starts or p.ring.r <= p.starts[n]:
        assert time.monotonic() < deadline, f"launch {n} was never heard"
        time.sleep(0.001)
    return p.ring.underruns == underruns


def test_a_launch_is_heard_one_stated_latency_later():
    """The null output at 48 kHz from a 32 kHz model: a finished take launched at time t is heard at t + latency,
    to the sample, and reported so; 20 launches at random places in the output's periods and the feeder's blocks.
    Its deadline lies past all the feeder has made: with the latency stated as the ring's fill and the resampler's
    look-ahead alone, and the feeder making whole blocks past the fill, 5 of 20 (0.1 s apart) came 0.7-5.4 ms late.
    (A launch the ring ran dry under, a starved feeder, is heard later by the silence: not judged; most must be.)"""
    heard = []
    p = Player(32000, 1, "none", null_rate=48000,
               on_playing=lambda id, ahead, frame: heard.append((id, time.perf_counter() + ahead)))
    assert p.rate == 48000 and p.held > 0
    gaps = random.Random(1)
    took, late, told = [], {}, []
    p.start()
    fed(p)
    try:
        for n in range(20):
            time.sleep(0.02 + gaps.random() * 0.01)  # (a launch over the playing take starts it just as exactly)
            underruns, t = p.ring.underruns, time.perf_counter()
            p.launch(n)
            p.feed(n, np.ones((3200, 1), np.float32))
            p.finished(n, None)
            took.append(p.deadlines[n] - t - p.latency)  # (the deadline is read inside launch)
            if heard_clean(p, n, underruns):
                late[n] = NullOutput.played_at(p.output, p.starts[n]) - p.deadlines[n]  # the output's own clock
            id, at = heard[n]
            assert id == n
            told.append(abs(p.played_at(p.starts[n]) - at))
    finally:
        p.close()
    assert len(late) >= 10, f"the ring ran dry under {20 - len(late)} launches of 20"
    assert all(abs(x) < 1 / p.model_rate for x in late.values()), {n: round(x * 1000, 2) for n, x in late.items()}
    assert min(took) >= 0 and np.median(took) < 0.002, took  # (this thread may be preempted between the two)
    assert np.median(told) < 1e-3, told  # the `playing` report's delay: read by the feeder, added to on receipt


def test_a_preempted_feeder_starts_each_launch_at_its_deadline():
    """A launch is heard at its deadline (one stated latency after it) even when the feeder is preempted between
    reading the output's clock and its own (here 0 or 3 ms at random after each reading of the output's): read in
    the other order, one after the other, the start came that much early. 30 launches, each against the null
    output's own clock (those the ring ran dry under not judged; most must be)."""
    p = Player(32000, 1, "none")
    p.output = PreemptedOutput(32000, 1)
    p.start()
    fed(p)
    errors = {}
    try:
        for n in range(30):
            underruns = p.ring.underruns
            p.launch(n)
            p.feed(n, np.ones((3200, 1), np.float32))
            p.finished(n, None)
            if heard_clean(p, n, underruns):
                errors[n] = NullOutput.played_at(p.output, p.starts[n]) - p.deadlines[n]  # the output's own answer
    finally:
        p.close()
    assert len(errors) >= 15, f"the ring ran dry under {30 - len(errors)} launches of 30"
    # a feeder preempted in every reading of one launch is off by half the delay at most (1 in 16 launches)
    assert max(map(abs, errors.values())) < PreemptedOutput.DELAY / 2 + 0.0005, \
        {n: round(e * 1000, 2) for n, e in errors.items()}


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


def test_a_fault_in_what_plays_drops_it_and_the_next_launch_plays(caplog):
    """A source the mixer cannot play (three channels fed to a mono out) raises in the feeder: it is logged and
    dropped, once (dropped, it cannot fail again), and the feeder goes on: the next launch plays (before, the feeder
    thread ended: silence for good). The launch comes as soon as the fault is counted, while it is still being logged
    (slowly here): it was dropped with the faulty source when the feeder counted the fault before dropping it."""
    import logging

    class Slow(logging.Handler):
        def emit(self, record):
            time.sleep(0.1)

    slow = Slow()
    logging.getLogger("loopgen.audio").addHandler(slow)
    p = Player(32000, 1, "none")
    p.start()
    try:
        p.launch("bad")
        p.feed("bad", np.ones((3200, 3), np.float32))
        p.finished("bad", None)
        deadline = time.monotonic() + 5
        while not p.faults and time.monotonic() < deadline:
            time.sleep(0.005)
        assert p.faults == 1 and p.feeder.is_alive()
        p.launch("good")
        p.feed("good", np.ones((3200, 1), np.float32))
        p.finished("good", None)
        while "good" not in p.starts and time.monotonic() < deadline:
            time.sleep(0.005)
        assert "good" in p.starts and "bad" not in p.starts
        assert [r.levelname for r in caplog.records if r.name == "loopgen.audio"] == ["ERROR"]
    finally:
        p.close()
        logging.getLogger("loopgen.audio").removeHandler(slow)


def test_a_fault_past_the_mixer_leaves_the_feeder_playing_the_next_launch(caplog):
    """A fault after the mixer made its block (here the `playing` report raises, once) is counted and logged, what
    played stops, and the feeder goes on: the next launch plays."""
    def report(id, ahead, frame):
        if id == "bad":
            raise RuntimeError("a report that fails")

    p = Player(32000, 1, "none", on_playing=report)
    p.start()
    try:
        p.launch("bad")
        p.feed("bad", np.ones((3200, 1), np.float32))
        p.finished("bad", None)
        deadline = time.monotonic() + 5
        while not p.faults and time.monotonic() < deadline:
            time.sleep(0.005)
        assert p.faults == 1 and p.feeder.is_alive()
        p.launch("good")
        p.feed("good", np.ones((3200, 1), np.float32))
        p.finished("good", None)
        while "good" not in p.starts and time.monotonic() < deadline:
            time.sleep(0.005)
        assert "good" in p.starts and p.faults == 1
        assert [r.levelname for r in caplog.records if r.name == "loopgen.audio"] == ["ERROR"]
    finally:
        p.close()
