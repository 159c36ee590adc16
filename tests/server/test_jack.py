"""The daemon on a real JACK server (jackd2, dummy backend at 48 kHz, period 256): what loopgen's output ports carry,
recorded by another JACK client, is the saved take resampled to 48 kHz, heard when the daemon says, one stated
latency after it was asked for; dropouts are counted and silent; JACK MIDI drives it; JACK's transport is its clock.
"""
from __future__ import annotations

import asyncio

import numpy as np
import pytest
import soundfile as sf
import soxr

from loopgen.clients import connect

from .jackd import PERIOD, RATE, Recorder, start_jackd, stop_jackd
from .test_ws_server import url


@pytest.fixture(scope="module")
def jackd(tmp_path_factory):
    name, proc = start_jackd(tmp_path_factory.mktemp("jackd"))
    yield name
    stop_jackd(proc)


async def until(c, kind: str, id=None, timeout: float = 30.0) -> dict:
    while True:
        ev = await c.next_event(timeout)
        if ev["type"] == "error":
            raise AssertionError(ev)
        if ev["type"] == kind and (id is None or ev.get("id") == id):
            return ev


BEFORE = RATE // 20  # frames of silence compared before a take's first sample (the resampler's filter rings ahead)


def origin(server, id) -> int:
    """The mixer's sample (at the model's rate) where take `id` began playing."""
    return [v for k, v in server.player.origins.items() if k[1] == id][-1]


def as_heard(x: np.ndarray, rate: int, start: int, after: float = 0.1) -> tuple[np.ndarray, int]:
    """What the speakers should carry for mixer output `x` [n, C] (at the model's `rate`) whose first sample is the
    mixer's sample `start`, resampled to JACK's rate, from BEFORE frames ahead of its first frame: (that, the frame
    index of x's end in it). The silence before it keeps the resampler's phase (3 output samples per 2 input ones)."""
    up, down = RATE // np.gcd(RATE, rate), rate // np.gcd(RATE, rate)
    pad = BEFORE * rate // RATE // down * down + start % down
    y = np.concatenate([np.zeros((pad, x.shape[1]), np.float32), x,
                        np.zeros((int(after * rate), x.shape[1]), np.float32)])
    skip = pad * up // down - BEFORE  # output frames of the padding beyond BEFORE
    return soxr.resample(y, rate, RATE)[skip:], BEFORE + int(x.shape[0] * RATE / rate)


def test_ten_takes_in_a_row_are_heard_as_saved(serve, jackd, tmp_path):
    """Ten streamed takes, each recorded from the frame the daemon reports: the saved take resampled to 48 kHz,
    with no gap and no repeated block; then a loop, heard across its wrap."""

    async def scenario(server):
        rec = Recorder(jackd)
        try:
            rec.connect_from(f"{server.jack.name}:out_1")
            async with connect(url(server)) as c:
                assert c.welcome["output_rate"] == RATE
                for i in range(10):
                    await c.send("generate", id=f"t{i}", prompt="steady pulse", seconds=0.3, seed=i)
                    playing = await until(c, "playing", f"t{i}")
                    done = await until(c, "done", f"t{i}")
                    x, rate = sf.read(done["path"], dtype="float32", always_2d=True)
                    want, n = as_heard(x, rate, origin(server, f"t{i}"))  # the take, then silence
                    rec.wait_until(playing["frame"] + want.shape[0])
                    got = rec.at(playing["frame"] - BEFORE, want.shape[0])
                    # (the takes' peaks are ~0.05: the resamplers agree to ~2e-8)
                    assert np.abs(got - want).max() < 1e-5, (i, differ(got, want, server, rec))
                    assert np.abs(got[n + 2048 :]).max() < 1e-6  # nothing repeated after its end
                assert server.player.underruns == 0
                # a loop: its first pass as streamed up to its length (not the overrun the model made past it), then
                # the saved loop, whose head has that overrun crossfaded in: heard across two wraps
                await c.send("generate", id="loop", prompt="steady pulse", bars=1, bpm=240, loop=True, seed=3)
                stream, playing = [], None
                while (ev := await c.next_event())["type"] != "done":
                    if ev["type"] == "audio":
                        stream.append(np.frombuffer(ev["pcm"], "<f4")[:, None])
                    playing = ev if ev["type"] == "playing" else playing
                done = ev
                playing = playing or await until(c, "playing", "loop")
                x, rate = sf.read(done["path"], dtype="float32", always_2d=True)
                first = np.concatenate(stream)
                assert first.shape[0] > x.shape[0]  # the stream goes past the loop's end (its overrun)
                want, _ = as_heard(np.concatenate([first[: x.shape[0]], x, x]), rate, origin(server, "loop"))
                n = BEFORE + int(x.shape[0] * 2.5 * RATE / rate)  # across two wraps
                rec.wait_until(playing["frame"] + n)
                got = rec.at(playing["frame"] - BEFORE, n)
                assert np.abs(got - want[:n]).max() < 1e-5, differ(got, want[:n], server, rec)
                assert server.player.underruns == 0
                await c.stop("loop")
        finally:
            rec.close()

    serve(scenario, audio_device="jack", jack_server=jackd, jack_connect=())


def silences(x: np.ndarray, least: int = 100) -> list[tuple[int, int]]:
    """Runs of exact silence at least `least` frames long, as (first, after)."""
    z = np.concatenate([[False], np.all(np.abs(x) < 1e-7, axis=1), [False]])
    edges = np.flatnonzero(np.diff(z.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= least]


def differ(got: np.ndarray, want: np.ndarray, server=None, rec=None) -> str:
    """Where a recording departs from what it should be (the assertion's message)."""
    bad = np.flatnonzero(np.abs(got - want).max(axis=1) > 1e-5)
    if not len(bad):
        return "equal"
    line = f"{len(bad)} frames differ, from {bad[0]} to {bad[-1]}; silences heard {silences(got)}, " \
           f"expected {silences(want)}"
    if server is not None:
        p = server.player
        line += f"; underruns ring {p.ring.underruns} mixer {p.mixer.underruns}, JACK xruns {server.jack.xruns}"
    if rec is not None:
        line += f", recorder xruns {rec.xruns}"
    return line


def signed_diff(a: int, b: int) -> int:
    """a - b for JACK frame times (32-bit, wrapping)."""
    d = (a - b) % (1 << 32)
    return d - (1 << 32) if d >= 1 << 31 else d


def onset(rec: Recorder, frame: int, want: np.ndarray, search: int) -> int:
    """The JACK frame at which `want` (a take resampled to JACK's rate) starts in the recording, searched from
    `frame` on, to the frame (cross-correlation)."""
    n = want.shape[0]
    got = rec.at(frame, search + n)[:, 0]
    cc = np.correlate(got, want[:, 0], mode="valid")
    return frame + int(np.argmax(cc))


def test_a_take_is_heard_one_stated_latency_after_play(serve, jackd):
    """`play` of a finished take, timed in JACK frames from just before the command is sent: its first sample reaches
    the recording `welcome.output_latency_ms` later, within one JACK period (the median of five; each within two),
    at the frame the `playing` event gives."""

    async def scenario(server):
        rec = Recorder(jackd)
        try:
            rec.connect_from(f"{server.jack.name}:out_1")
            async with connect(url(server)) as c:
                stated = c.welcome["output_latency_ms"]
                assert stated == pytest.approx(server.player.latency * 1000, abs=0.01)
                await c.send("generate", id="t", prompt="clicks", seconds=0.25, seed=1, play=False)
                done = await until(c, "done", "t")
                x, rate = sf.read(done["path"], dtype="float32", always_2d=True)
                want = soxr.resample(x, rate, RATE)
                errors = []
                for _ in range(5):
                    await asyncio.sleep(0.35)  # the last one played out
                    sent = rec.now()
                    await c.send("play", id="t")
                    playing = await until(c, "playing", "t")
                    rec.wait_until(sent + RATE // 10 + want.shape[0])
                    heard = onset(rec, sent, want, RATE // 10)
                    measured = (heard - sent) / RATE * 1000
                    errors.append(measured - stated)
                    assert abs(heard - playing["frame"]) <= 1  # and the daemon said so, to the frame
                # the message's own way over loopback counts too (usually 0.4 ms; a few ms when the loop is busy)
                period = PERIOD / RATE * 1000
                assert abs(np.median(errors)) < period and max(map(abs, errors)) < 2 * period, errors
        finally:
            rec.close()

    serve(scenario, audio_device="jack", jack_server=jackd, jack_connect=())


def test_a_model_slower_than_real_time_drops_out_silently_and_goes_on_in_order(serve, jackd):
    """A take plays; then fourteen more streams (not played) slow the shared step below real time: the playing take
    runs dry. Each dropout is counted, is silence on the speakers, and the take goes on from the sample where it
    stopped: the recording is the take with silence inserted where the daemon says, sample for sample."""

    async def scenario(server):
        rec = Recorder(jackd)
        try:
            rec.connect_from(f"{server.jack.name}:out_1")
            async with connect(url(server)) as c, connect(url(server)) as b1, connect(url(server)) as b2:
                await c.send("generate", id="a", prompt="steady pulse", seconds=4.0, seed=2)
                playing = await until(c, "playing", "a")
                for b in (b1, b2):
                    for i in range(7):
                        await b.send("generate", id=f"b{i}", prompt="noise", seconds=30.0, seed=i, play=False)
                for _ in range(400):  # the shared step slows below real time: the playing take runs dry
                    if server.player.mixer.underruns:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)
                for b in (b1, b2):
                    for i in range(7):
                        await b.stop(f"b{i}")
                progress = []
                while (ev := await c.next_event(120))["type"] != "done":
                    progress += [ev] if ev["type"] == "progress" else []
                done = ev
                assert progress[-1]["underruns"] >= 1  # the client is told
            k = [k for k in server.player.origins if k[1] == "a"][-1]
            gaps = [g for g in server.player.mixer.dropouts if g[0] == k]
            assert len(gaps) >= 1 and all(g[3] is not None for g in gaps), gaps  # each one went on
            x, rate = sf.read(done["path"], dtype="float32", always_2d=True)
            start = origin(server, "a")
            parts, at, out = [], 0, start
            for _, pos, first, after in gaps:  # the take to `pos`, then silence from `first` to `after`
                assert first - out == pos - at  # nothing skipped, nothing repeated
                parts += [x[at:pos], np.zeros((after - first, x.shape[1]), np.float32)]
                at, out = pos, after
            parts.append(x[at:])
            want, n = as_heard(np.concatenate(parts), rate, start)
            rec.wait_until(playing["frame"] - BEFORE + want.shape[0], timeout=60)
            got = rec.at(playing["frame"] - BEFORE, want.shape[0])
            assert np.abs(got - want).max() < 1e-5, differ(got, want, server, rec)
            silent = sum(after - first for _, _, first, after in gaps)
            assert silent > 0.05 * rate  # audible gaps, and each one silence
        finally:
            rec.close()

    serve(scenario, audio_device="jack", jack_server=jackd, jack_connect=())


def test_a_take_made_slower_than_real_time_waits_for_its_pre_roll_and_never_drops_out(serve, jackd):
    """Twenty-four streams (not played) already slow the shared step below real time; a new take then plays: it
    starts once it holds what its measured rate says it needs, and plays to its end without a dropout."""

    async def scenario(server):
        rec = Recorder(jackd)
        try:
            rec.connect_from(f"{server.jack.name}:out_1")
            async with connect(url(server)) as c, connect(url(server)) as b1, connect(url(server)) as b2, \
                    connect(url(server)) as b3:
                for b in (b1, b2, b3):
                    for i in range(8):
                        await b.send("generate", id=f"b{i}", prompt="noise", seconds=30.0, seed=i, play=False)
                for b in (b1, b2, b3):
                    for i in range(8):
                        await until(b, "progress", f"b{i}")
                await c.send("generate", id="a", prompt="steady pulse", seconds=2.0, seed=2)
                rtfs, playing = [], None
                while (ev := await c.next_event(120))["type"] != "done":
                    rtfs += [ev["rtf"]] if ev["type"] == "progress" else []
                    playing = ev if ev["type"] == "playing" else playing
                done = ev
                playing = playing or await until(c, "playing", "a")
                for b in (b1, b2, b3):
                    for i in range(8):
                        await b.stop(f"b{i}")
            assert rtfs and rtfs[-1] < 0.8  # made slower than real time
            x, rate = sf.read(done["path"], dtype="float32", always_2d=True)
            want, n = as_heard(x, rate, origin(server, "a"))
            rec.wait_until(playing["frame"] - BEFORE + want.shape[0], timeout=60)
            got = rec.at(playing["frame"] - BEFORE, want.shape[0])
            assert server.player.mixer.underruns == 0
            assert np.abs(got - want).max() < 1e-5, differ(got, want, server, rec)
        finally:
            rec.close()

    serve(scenario, audio_device="jack", jack_server=jackd, jack_connect=())


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
    """No such JACK server, or two clocks: one clear error, and no model was loaded for it."""
    from loopgen.errors import LoopgenError
    from loopgen.server import Config, Server
    from loopgen.server import app

    pytest.importorskip("jack", reason="JACK-Client is not installed")
    loaded = []
    monkeypatch.setattr(app, "load_model", lambda *a: loaded.append(a))
    for kw, match in ((dict(audio_device="jack", jack_server="no-such-server"), "cannot reach JACK server"),
                      (dict(link=True, jack_transport=True), "two clocks")):
        server = Server(Config(model="random:tiny", ws_port=0, osc_port=0, loops_dir=tmp_path, **kw))
        with pytest.raises(LoopgenError, match=match):
            asyncio.run(server.start())
        asyncio.run(server.stop())
    assert loaded == []


def test_devices_lists_a_running_jack_server(jackd, monkeypatch, capsys):
    import sounddevice  # noqa: F401  (PortAudio initialised first, without this server: its JACK client would
    # outlive the test's server and abort at exit)

    from loopgen.cli import main

    monkeypatch.setenv("JACK_DEFAULT_SERVER", jackd)
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert f"JACK server at {RATE} Hz, period {PERIOD}: --audio-device jack (to system:playback_1, " \
           f"system:playback_2)" in out


def test_ports_connect_to_the_system_playback_and_its_latency_counts(serve, jackd):
    """By default out_1 goes to the system's playback ports (mono on both), and the stated latency includes what they
    report (jackd's dummy backend in synchronous mode: one period, 256 frames; two in asynchronous mode)."""

    async def scenario(server):
        out = f"{server.jack.name}:out_1"
        connected = {p.name for p in server.jack.client.get_all_connections(out)}
        assert connected == {"system:playback_1", "system:playback_2"}
        async with connect(url(server)) as c:
            device = c.welcome["output_latency_ms"] - (server.player.fill + server.player.held) / RATE * 1000 - 1
            assert device == pytest.approx(PERIOD / RATE * 1000, abs=0.01)

    serve(scenario, audio_device="jack", jack_server=jackd)


def test_a_portaudio_device_plays_the_take_when_it_says(jackd, tmp_path):
    """`serve --audio-device system`: PortAudio's own JACK host API (Debian's libportaudio2), in a daemon process of
    its own: the recording holds the take resampled, from the moment its `playing` event said (within a period)."""
    import os
    import socket
    import subprocess
    import sys

    from .test_serve_cli import free_port

    ws, osc = free_port(), free_port(socket.SOCK_DGRAM)
    env = dict(os.environ, HF_HUB_OFFLINE="1", JACK_DEFAULT_SERVER=jackd)
    proc = subprocess.Popen([sys.executable, "-m", "loopgen", "serve", "--model", "random:tiny", "--ws-port", str(ws),
                             "--osc-port", str(osc), "--audio-device", "system", "--loops-dir", str(tmp_path),
                             "--admission", "count", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    rec = None
    try:
        for line in proc.stdout:
            if line.startswith("audio out"):
                assert "system at 48000 Hz" in line
                break
        rec = Recorder(jackd)
        rec.connect_from("PortAudio:out_0")

        async def scenario():
            async with connect(f"ws://127.0.0.1:{ws}") as c:
                assert c.welcome["output_rate"] == RATE
                await c.send("generate", id="p", prompt="steady pulse", seconds=0.5, seed=4)
                while (ev := await c.next_event())["type"] != "playing":
                    pass
                told = rec.now() + ev["delay_ms"] * RATE / 1000  # when it said the take is heard
                return told, await until(c, "done", "p")

        told, done = asyncio.run(scenario())
        x, rate = sf.read(done["path"], dtype="float32", always_2d=True)
        rec.wait_until(int(told) + RATE)
        errors = []
        for parity in (0, 1):  # the mixer's start sample may be odd or even: the resampler's phase follows it
            want, n = as_heard(x, rate, parity)
            first = rec.f0 + max(0, signed_diff(int(told) - RATE // 10 - BEFORE, rec.f0))
            heard = onset(rec, first, want, RATE // 5)
            got = rec.at(heard, want.shape[0])
            errors.append((np.abs(got - want).max(), heard))
        err, heard = min(errors)
        assert err < 1e-5
        assert abs(signed_diff(heard + BEFORE, int(told))) < 2 * PERIOD, signed_diff(heard + BEFORE, int(told))
    finally:
        if rec is not None:
            rec.close()
        proc.send_signal(2)
        proc.wait(20)


def test_a_stereo_take_plays_on_both_ports_as_saved(serve, jackd):
    """random:stereo-tiny: out_1 and out_2 carry the take's left and right, each the saved channel resampled."""

    async def scenario(server):
        rec = Recorder(jackd, channels=2)
        try:
            rec.connect_from(f"{server.jack.name}:out_1", f"{server.jack.name}:out_2")
            async with connect(url(server)) as c:
                await c.send("generate", id="s", prompt="wide pad", seconds=0.5, seed=5)
                playing = await until(c, "playing", "s")
                done = await until(c, "done", "s")
            x, rate = sf.read(done["path"], dtype="float32", always_2d=True)
            assert x.shape[1] == 2 and np.abs(x[:, 0] - x[:, 1]).max() > 1e-3  # two different sides
            want, n = as_heard(x, rate, origin(server, "s"))
            rec.wait_until(playing["frame"] - BEFORE + want.shape[0])
            got = rec.at(playing["frame"] - BEFORE, want.shape[0])
            assert np.abs(got - want).max() < 1e-5, differ(got, want, server, rec)
        finally:
            rec.close()

    serve(scenario, model="random:stereo-tiny", audio_device="jack", jack_server=jackd, jack_connect=())
