"""`serve --link`: Ableton Link's tempo is the default bpm, and the daemon's own audio out starts each loop on the next
Link bar. Proven with a second Link peer (aalink, discovered over the machine's own network) that the test plays."""
from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
import soundfile as sf

from loopgen.server.link import bar_distance
from loopgen.streaming.mix import Mixer

from loopgen.clients import connect

from .test_osc_server import Peer
from .test_ws_server import collect, url

pytestmark = pytest.mark.xdist_group("realtime")  # real-time timing: asks for turns with the JACK and Ray modules;
# under pytest 9.2 the mark does not group (pyproject.toml)


def test_bar_distance():
    assert bar_distance(0.0, 120, 4, 1000) == 0  # on a bar line
    assert bar_distance(3.0, 120, 4, 1000) == 500  # one beat at 120 bpm
    assert bar_distance(4.5, 60, 4, 1000) == 3500
    assert bar_distance(-1.0, 120, 4, 1000) == 500  # Link beats are negative before a session's origin
    assert bar_distance(7.9999999999, 120, 4, 1000) == 0


def test_grid_launch_starts_on_the_given_bar_line():
    m = Mixer(1)
    m.launch("a", grid=True)  # nothing playing: silence until the bar line
    m.feed("a", np.full((4000, 1), 0.5, np.float32))
    out = m.block(1000, until=700)
    assert np.all(out[:700] == 0) and np.all(out[700:] == 0.5) and m.started == [("a", 700)]
    m.started.clear()
    m.launch("b", bar_samples=10, grid=True)  # a new one: "a" plays on until the next grid line, then crossfades
    m.feed("b", np.full((4000, 1), -0.25, np.float32))
    assert np.all(m.block(1000, until=1500) == 0.5)  # not in this block
    out = m.block(1000, until=500)
    assert np.all(out[:500] == 0.5) and out[500, 0] == pytest.approx(0.5, abs=0.01) and m.started == [("b", 500)]
    assert np.all(m.block(100, until=10) == -0.25)  # crossfaded over the rest of that block: "b" alone now


def test_link_tempo_is_the_default_bpm_and_loops_start_on_link_bars(serve):
    from aalink import Link

    async def scenario(server):
        other = Link(100.0)  # another app in the session, e.g. Live with Link on
        other.quantum = 4.0
        other.enabled = True
        try:
            for _ in range(100):
                if server.link.peers and other.num_peers:
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the two Link peers did not find each other on this machine")
            other.tempo = 100.0  # the session's tempo, set by the other peer
            for _ in range(50):
                if abs(server.link.tempo - 100.0) < 1e-3:
                    break
                await asyncio.sleep(0.05)
            assert server.link.tempo == pytest.approx(100.0, abs=1e-3)
            p = Peer(server.osc_port)
            p.send("/loopgen/set/bars", 1)  # bars alone: the Link tempo is the bpm
            p.send("/loopgen/generate", "steady kick")
            await p.expect("/loopgen/started")
            path, seconds = await p.expect("/loopgen/done")
            assert seconds == pytest.approx(2.4) and sf.info(path).frames == 76800  # one 4/4 bar at 100 bpm
            player = server.player
            for _ in range(100):  # it waits for the next bar line (up to 2.4 s at 100 bpm)
                if player.starts:
                    break
                await asyncio.sleep(0.05)
            id = next(iter(player.starts))
            underruns = player.underruns  # (the null output may start reading before the first write)
            await asyncio.sleep(0.05)
            start = player.played_at(player.starts[id])  # when the null output played its first sample
            # the other peer's beat at that moment is on a bar line (its own timeline: Link aligns bars across peers)
            beat = other.beat - (time.perf_counter() - start) * other.tempo / 60.0
            off = (beat + 2) % 4 - 2
            assert abs(off) < 0.05, f"started {off:+.3f} beats from the other peer's bar line"
            # the next loop waits for the next bar line too, not for the playing loop's
            p.send("/loopgen/generate", "open hats", 1, 100)
            await p.expect("/loopgen/done")
            for _ in range(100):
                if len(player.starts) > 1:
                    break
                await asyncio.sleep(0.05)
            second = [k for k in player.starts if k != id][0]
            beat = other.beat - (time.perf_counter() - player.played_at(player.starts[second])) * 100 / 60
            assert abs((beat + 2) % 4 - 2) < 0.05
            assert player.underruns == underruns  # no dropout while the loops played
            async with connect(url(server)) as c:  # WebSocket: bars alone take the Link tempo too
                events, _ = await collect(c.generate("pads", bars=2, seed=1))
                assert events[-1]["seconds"] == pytest.approx(4.8)
                events, _ = await collect(c.generate("pads", bars=1, bpm=120, seed=1))  # a given bpm wins
                assert events[-1]["seconds"] == pytest.approx(2.0)
        finally:
            other.enabled = False

    serve(scenario, link=True)


def test_link_needs_its_extra(monkeypatch):
    import builtins

    from loopgen.errors import LoopgenError
    from loopgen.server.link import LinkClock

    real = builtins.__import__

    def no_aalink(name, *a, **kw):
        if name == "aalink":
            raise ImportError("No module named 'aalink'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_aalink)
    with pytest.raises(LoopgenError, match=r"pip install 'loopgen\[link\]'"):
        LinkClock()
