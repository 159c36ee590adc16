"""The Max for Live device run against a real daemon (the patch interpreted by maxsim.py, OSC over real UDP):
it finds the daemon, sends Live's tempo with every request, starts each take on Live's next bar and keeps it in
phase while the previous take plays on until then, plays stereo in stereo (mono on both sides), is silent while
Live's transport stands, places the take as a clip, and says when the daemon is not there."""
from __future__ import annotations

import asyncio
import socket

import numpy as np
import soundfile as sf

from loopgen.clients.max import maxpat

from ..conftest import running
from .maxsim import Device

BAR = 64000  # samples per bar at 120 bpm and 32 kHz (the device runs at the model's rate here)


async def _until(dev: Device, address: str, count: int = 1, timeout: float = 60.0) -> list:
    """Wait (real time, the device's clock standing) for the count-th reply with this address."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        dev.poll()
        got = [m for m in dev.received if m[0] == address]
        if len(got) >= count:
            return got[count - 1]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {address} (#{count}) within {timeout} s; got {dev.received}")


async def _play(dev: Device, ms: float) -> None:
    """Advance the device by ms in 100 ms steps, letting the daemon (same event loop) answer in between."""
    while ms > 0:
        dev.run(min(100.0, ms))
        ms -= 100.0
        await asyncio.sleep(0.002)


def _sent(dev: Device, address: str) -> list[list]:
    return [m[1:] for m in dev.sent if m[0] == address]


def test_device_plays_takes_on_lives_bars_in_stereo(serve):
    async def scenario(server):
        dev = Device(maxpat.build(), instance=1, send_port=server.osc_port, seed=1)
        dev.transport["running"] = True  # Live playing from bar 1 at 120 bpm
        dev.run(100)
        await _until(dev, "/loopgen/welcome")
        dev.run(10)
        assert dev.shown["status"] == "ready: random:stereo-tiny"
        assert dev.shown["speed"] == f"{maxpat.SPEED} -1.0"  # the welcome's real-time factor (not measured here)
        dev.set("bars", 1)
        dev.set("prompt", "dub techno")
        dev.press("gen-btn")
        # hello, Live's tempo and the bars go out before the request itself
        names = [m[0] for m in dev.sent]
        i = names.index("/loopgen/generate")
        assert names[i - 3 : i] == ["/loopgen/hello", "/loopgen/set/bpm", "/loopgen/set/bars"]
        assert _sent(dev, "/loopgen/generate")[-1] == ["dub techno", 1.0, 120.0]
        assert _sent(dev, "/loopgen/set/bpm")[-1] == [120.0]
        path1, secs1 = (await _until(dev, "/loopgen/done"))[1:]
        dev.run(10)
        arrived1 = dev.output().shape[0]  # the take arrives in bar 1; it must start on bar 2
        assert 0 < arrived1 < BAR and secs1 == 2.0
        take1 = sf.read(path1, dtype="float64")[0]
        assert take1.shape == (BAR, 2) and np.abs(take1[:, 0] - take1[:, 1]).max() > 1e-3  # a real stereo take
        await _play(dev, (2.6 * BAR - arrived1) / 32)  # on to bar 3.6
        out = dev.output()
        assert np.abs(out[: BAR - 64]).max() == 0  # nothing before the next bar line
        ramp = 1500  # the fade in (slide~ 64) settles within this
        np.testing.assert_allclose(out[BAR + ramp : 2 * BAR], take1[ramp:], atol=1e-5)  # from its first sample
        # looping, in phase (the seam's one sample is read between the take's last and first: float phase)
        np.testing.assert_allclose(out[2 * BAR + 1 : 2 * BAR + 38000], take1[1:38000], atol=1e-5)
        # a second take starts on the next bar after it arrives (bar 4), the first playing on, in phase, until then
        dev.set("prompt", "dub techno, more reverb")
        dev.press("gen-btn")
        path2, _ = (await _until(dev, "/loopgen/done", 2))[1:]
        dev.run(10)
        arrived2 = dev.output().shape[0]
        await _play(dev, (4.5 * BAR - arrived2) / 32)
        out = dev.output()
        take2 = sf.read(path2, dtype="float64")[0]
        np.testing.assert_allclose(out[2 * BAR + 1 : 3 * BAR - 64], take1[1 : BAR - 64], atol=1e-5)
        np.testing.assert_allclose(out[3 * BAR + ramp : 4 * BAR], take2[ramp:], atol=1e-5)
        np.testing.assert_allclose(out[4 * BAR + 1 : int(4.5 * BAR)], take2[1 : BAR // 2], atol=1e-5)
        # welcomes kept coming: 9 s, past the watchdog, and the status never said otherwise
        assert {text for _, box, text in dev.log if box == "status"} == {"ready: random:stereo-tiny"}
        # take to clip: the take's path into the highlighted clip slot (Live 12's ClipSlot.create_audio_clip)
        dev.press("clip-btn")
        assert dev.live_calls == [("live_set view highlighted_clip_slot", "create_audio_clip", path2)]
        assert dev.shown["take-path"] == path2
        # Live stops: silent within a few ms, no DC from a standing position
        dev.transport["running"] = False
        n = dev.output().shape[0]
        dev.run(200)
        assert np.abs(dev.output()[n + 2000 :]).max() < 1e-4

    serve(scenario, model="random:stereo-tiny")


def test_mono_takes_play_on_both_sides_and_tempo_follows_live(serve):
    async def scenario(server):
        dev = Device(maxpat.build(), instance=2, send_port=server.osc_port, seed=2)
        dev.transport["running"] = True
        dev.set_live_tempo(100.0)  # Live's tempo, through live.observer
        dev.run(100)
        await _until(dev, "/loopgen/welcome")
        dev.set("bars", 1)
        dev.press("gen-btn")
        assert _sent(dev, "/loopgen/generate")[-1][1:] == [1.0, 100.0]
        path, secs = (await _until(dev, "/loopgen/done"))[1:]
        assert abs(secs - 2.4) < 1e-6
        dev.run(5000)
        out = dev.output()
        assert np.abs(out).max() > 1e-3
        np.testing.assert_array_equal(out[:, 0], out[:, 1])  # mono model: left copied to the right
        # continue and extend also carry the tempo first
        dev.set_live_tempo(90.0)
        dev.press("ext-btn")
        assert [m[0] for m in dev.sent[-4:]] == ["/loopgen/hello", "/loopgen/set/bpm", "/loopgen/set/bars",
                                                 "/loopgen/extend"]
        assert _sent(dev, "/loopgen/set/bpm")[-1] == [90.0]
        await _until(dev, "/loopgen/done", 2)
        dev.press("cont-btn")
        assert [m[0] for m in dev.sent[-4:]] == ["/loopgen/hello", "/loopgen/set/bpm", "/loopgen/set/bars",
                                                 "/loopgen/continue"]
        await _until(dev, "/loopgen/done", 3)

    serve(scenario)


def test_two_devices_in_one_set_get_their_own_takes(serve):
    async def scenario(server):
        a = Device(maxpat.build(), instance=3, send_port=server.osc_port, seed=3)
        b = Device(maxpat.build(), instance=4, send_port=server.osc_port, seed=4)
        for d in (a, b):
            d.transport["running"] = True
            d.set("bars", 1)
            d.run(50)
        a.press("gen-btn")
        b.set("prompt", "b's own prompt")
        b.press("gen-btn")
        pa = (await _until(a, "/loopgen/done"))[1]
        pb = (await _until(b, "/loopgen/done"))[1]
        assert pa != pb
        await asyncio.sleep(0.5)
        a.run(10), b.run(10)  # polls, then serves what [deferlow] put off
        assert [m for m in a.received if m[0] == "/loopgen/done"] == [["/loopgen/done", pa, 2.0]]
        assert [m for m in b.received if m[0] == "/loopgen/done"] == [["/loopgen/done", pb, 2.0]]
        assert set(a.buffers) == {"003loopgen-a"} and set(b.buffers) == {"004loopgen-a"}

    serve(scenario)


def test_device_says_when_the_daemon_is_not_running_and_finds_it_when_it_starts(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dev = Device(maxpat.build(), instance=5, send_port=port, seed=5)
    assert dev.shown["status"] == maxpat.LOOKING
    dev.run(maxpat.WATCHDOG_MS - 100)
    assert dev.shown["status"] == maxpat.LOOKING
    dev.run(200)
    assert dev.shown["status"] == maxpat.DOWN.removeprefix("set ")

    async def later():  # the daemon started after the device: its next hello (every 2 s) finds it
        async with running(tmp_path, osc_port=port):
            dev.run(maxpat.HELLO_MS + 100)
            await _until(dev, "/loopgen/welcome")
            dev.run(10)
            assert dev.shown["status"] == "ready: random:tiny"

    asyncio.run(later())
