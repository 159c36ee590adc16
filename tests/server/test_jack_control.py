"""The daemon driven through JACK (jackd2, dummy backend): JACK MIDI in through the map, JACK's transport as the
clock, one-line errors, and `loopgen devices`.
"""
from __future__ import annotations

import asyncio
import math
import sys

import numpy as np
import pytest
import soundfile as sf

from loopgen.clients import connect

from .jack_check import BEFORE, as_heard, origin, until
from .jackd import PERIOD, RATE, Recorder, start_jackd, stop_jackd
from .test_ws_server import url

pytestmark = pytest.mark.xdist_group("realtime")  # asks for turns with test_ray.py (Ray's processes could starve the
# real-time callbacks); under pytest 9.2 the mark does not group (pyproject.toml)


@pytest.fixture(scope="module")
def jackd(tmp_path_factory):
    name, proc = start_jackd(tmp_path_factory.mktemp("jackd"))
    yield name
    stop_jackd(proc)


def test_jack_midi_starts_steers_and_stops_a_take(serve, jackd):
    """A JACK MIDI controller on loopgen:midi_in, through the shipped map: note 37 starts a take (heard), CC 21
    sets its temperature at the next step, note 43 stops it: saved, and faded out on the speakers, not cut."""
    from .jackd import MidiSource

    async def scenario(server):
        rec, ctl = Recorder(jackd), MidiSource(jackd)
        try:
            rec.connect_from(f"{server.jack.name}:out_1")
            ctl.connect(f"{server.jack.name}:midi_in")
            ctl.send(0x90, 37, 100)  # note on, channel 1
            for _ in range(200):
                job = server.worker.find("midi-1", finished=False)
                if job is not None and server.player.starts:
                    break
                await asyncio.sleep(0.02)
            assert job is not None and server.player.current is not None
            ctl.send(0xB0, 21, 0)  # CC 21 -> temperature, the map's minimum
            for _ in range(100):
                if job.session.params.temperature == 0.3:
                    break
                await asyncio.sleep(0.02)
            assert job.session.params.temperature == 0.3
            await asyncio.sleep(0.5)
            ctl.send(0x90, 43, 100)  # the stop note
            for _ in range(200):
                done = server.worker.find("midi-1")
                if done is not None and done.path and server.player.current is None:
                    break
                await asyncio.sleep(0.02)
            assert done.path.endswith(".wav") and server.player.current is None
            end = rec.now()
            rec.wait_until(end + RATE // 2)
            got = rec.at(rec.f0, end + RATE // 2 - rec.f0)[:, 0]  # all the recorder heard, to 0.5 s after the stop
            env = np.sqrt(np.mean(got[: got.shape[0] // 32 * 32].reshape(-1, 32) ** 2, axis=1))  # 32-frame RMS
            level = np.median(env[env > 1e-4])  # the take's steady level
            last = int(np.flatnonzero(env > 0.1 * level)[-1])  # where the music ends
            assert last < env.shape[0] - RATE // 4 // 32 and env[last + 8 :].max() < 1e-6  # silent after the stop
            # the stop fades over a 256-sample block at 32 kHz (12 bins here): the 4 bins before the end are well
            # below the level (about 0.35 of it), where a cut would leave them at it
            assert env[last - 4 : last].mean() < 0.65 * level, env[last - 16 : last + 2] / level
        finally:
            ctl.close()
            rec.close()

    serve(scenario, audio_device="jack", midi="jack", jack_server=jackd, jack_connect=())


def test_jack_transport_gives_the_tempo_and_the_bar_lines(serve, jackd):
    """A JACK timebase master at 100 bpm: a request with bars alone gets 100 bpm bars, and each loop's first sample
    is heard on one of the master's bar lines, within one JACK period."""
    from .jackd import TimebaseMaster

    async def scenario(server):
        rec = Recorder(jackd)
        master = TimebaseMaster(jackd, 100.0)
        try:
            rec.connect_from(f"{server.jack.name}:out_1")
            for _ in range(100):
                if master.offset is not None and server.default_bpm:
                    break
                await asyncio.sleep(0.02)
            assert server.default_bpm == pytest.approx(100.0)
            async with connect(url(server)) as c:
                for i in range(2):  # the second waits for a bar line too, not for the first loop's
                    await c.send("generate", id=f"l{i}", prompt="kick", bars=1, seed=i)
                    stream, playing = [], None
                    while (ev := await c.next_event())["type"] != "done":
                        stream += [np.frombuffer(ev["pcm"], "<f4")[:, None]] if ev["type"] == "audio" else []
                        playing = ev if ev["type"] == "playing" else playing
                    done = ev
                    assert done["seconds"] == pytest.approx(2.4)  # one 4/4 bar at 100 bpm
                    assert sf.info(done["path"]).frames == 76800
                    playing = playing or await until(c, "playing", f"l{i}")
                    at = (playing["frame"] - master.offset) % (1 << 32)  # the transport's frame when heard
                    off = (at + master.bar_frames / 2) % master.bar_frames - master.bar_frames / 2
                    assert abs(off) <= PERIOD, f"heard {off:+.0f} frames from the master's bar line"
                    # and the recording has it there: the loop's first (streamed) samples at that frame
                    want, _ = as_heard(np.concatenate(stream)[:3200], 32000, origin(server, f"l{i}"), after=0)
                    rec.wait_until(playing["frame"] + 4800)
                    got = rec.at(playing["frame"] - BEFORE, want.shape[0] - 2400)
                    if i == 0:  # (the second is crossfaded in over its first block)
                        assert np.abs(got[: BEFORE + 2400] - want[: BEFORE + 2400]).max() < 1e-5
        finally:
            master.close()
            rec.close()

    serve(scenario, audio_device="jack", jack_transport=True, jack_server=jackd, jack_connect=())


def test_jack_errors_are_one_line_before_the_model_loads(tmp_path, monkeypatch):
    """No such JACK server, or two clocks: one clear error, no model was loaded for it, and the interpreter's switch
    interval (shortened while JACK is in use) is as it was."""
    import sys

    from loopgen.errors import LoopgenError
    from loopgen.server import Config, Server
    from loopgen.server import app

    pytest.importorskip("jack", reason="JACK-Client is not installed")
    loaded, interval = [], sys.getswitchinterval()
    monkeypatch.setattr(app, "load_model", lambda *a: loaded.append(a))
    for kw, match in ((dict(audio_device="jack", jack_server="no-such-server"), "cannot reach JACK server"),
                      (dict(link=True, jack_transport=True), "two clocks"),
                      (dict(audio_device="none", jack_connect=("system:playback_1",)), "--connect names JACK")):
        server = Server(Config(model="random:tiny", ws_port=0, osc_port=0, loops_dir=tmp_path, **kw))
        with pytest.raises(LoopgenError, match=match):
            asyncio.run(server.start())
        asyncio.run(server.stop())
    assert loaded == [] and sys.getswitchinterval() == interval


def test_audio_callbacks_get_the_gil_within_a_millisecond(tmp_path, serve):
    """A daemon whose audio thread calls into Python every period (PortAudio's stream callback, JACK's process
    callback) runs with a 1 ms switch interval, so the model's thread hands it the GIL in time; a headless one leaves
    the interpreter's; a PortAudio device that cannot be opened (found after the model loaded) leaves it as it was."""
    from loopgen.errors import LoopgenError
    from loopgen.server import Config, Server

    interval = sys.getswitchinterval()

    def made(**kw):
        return Server(Config(model="random:tiny", ws_port=0, osc_port=0, loops_dir=tmp_path, **kw))

    assert [made(audio_device=d).audio_callbacks for d in ("system", "3", "jack", "none", None)] == [
        True, True, True, False, False]
    assert made(audio_device="none", midi="jack").audio_callbacks

    async def scenario(server):
        return sys.getswitchinterval()

    assert serve(scenario) == interval  # headless
    server = made(audio_device="no such sound card")
    with pytest.raises(LoopgenError, match="no audio output"):
        asyncio.run(server.start())
    asyncio.run(server.stop())
    assert sys.getswitchinterval() == interval


def test_devices_lists_a_running_jack_server(jackd, monkeypatch, capsys):
    import sounddevice  # noqa: F401  (PortAudio initialised first, without this server: its JACK client would
    # outlive the test's server and abort at exit)

    from loopgen.cli import main

    monkeypatch.setenv("JACK_DEFAULT_SERVER", jackd)
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert f"JACK server at {RATE} Hz, period {PERIOD}: --audio-device jack (to system:playback_1, " \
           f"system:playback_2)" in out


def test_jack_transport_and_midi_without_jack_audio(serve, jackd):
    """`--jack-transport --midi jack` with the headless output: the daemon's JACK client has no audio ports, follows
    the master's tempo, takes MIDI from its midi_in, and starts the take on the master's next bar line."""
    from .jackd import MidiSource, TimebaseMaster

    async def scenario(server):
        master, ctl = TimebaseMaster(jackd, 90.0), MidiSource(jackd)
        try:
            names = [p.name for p in server.jack.client.get_ports(f"{server.jack.name}:")]
            assert names == [f"{server.jack.name}:midi_in"]
            assert sys.getswitchinterval() == 0.001  # JACK's process callback (MIDI, the transport) needs the GIL
            for _ in range(100):
                if server.default_bpm and master.offset is not None:
                    break
                await asyncio.sleep(0.02)
            assert server.default_bpm == pytest.approx(90.0)
            ctl.connect(f"{server.jack.name}:midi_in")
            ctl.send(0x90, 36, 100)  # a mapped note: a take of the map's bars at the master's tempo
            for _ in range(200):
                job = server.worker.find("midi-1", finished=False) or server.worker.find("midi-1")
                if job is not None:
                    break
                await asyncio.sleep(0.02)
            assert job is not None and job.params.bpm == pytest.approx(90.0)
            # the take starts on the master's next bar line, placed through the headless output's clock and JACK's
            bar = master.bar_frames
            for _ in range(int(3 * bar / RATE / 0.02)):
                if server.player.starts:
                    break
                await asyncio.sleep(0.02)
            assert server.player.starts, "the take did not start within three bars"
            index = next(iter(server.player.starts.values()))
            first = server.player.output.ahead(index)
            frame = server.jack.client.frame_time
            # the transport frame it is heard at, between two readings of the output's clock (in bars)
            heard = sorted((frame + a * RATE - master.offset) / bar for a in (first, server.player.output.ahead(index)))
            off = 0.0 if math.floor(heard[0]) != math.floor(heard[1]) else min(abs(h - round(h)) for h in heard)
            assert off * bar < 2 * PERIOD, f"heard {off * bar:.0f} frames from the master's bar line"
            ctl.send(0x90, 43, 100)
        finally:
            ctl.close()
            master.close()

    serve(scenario, audio_device="none", midi="jack", jack_transport=True, jack_server=jackd)
