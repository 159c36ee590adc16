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


def resampled(path, then: float = 0.1) -> tuple[np.ndarray, int]:
    """(a saved take between silence (BEFORE frames, and `then` seconds), resampled to JACK's rate; the take's
    length there). The resampler's filter rings before and after the take: the silence around it is compared too."""
    x, rate = sf.read(path, dtype="float32", always_2d=True)
    pre = np.zeros((BEFORE * rate // RATE, x.shape[1]), np.float32)
    post = np.zeros((int(then * rate), x.shape[1]), np.float32)
    return soxr.resample(np.concatenate([pre, x, post]), rate, RATE), int(round(x.shape[0] * RATE / rate))


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
                    await c.send("generate", id=f"t{i}", prompt="steady pulse", seconds=1.0, seed=i)
                    playing = await until(c, "playing", f"t{i}")
                    done = await until(c, "done", f"t{i}")
                    want, n = resampled(done["path"])  # the take, then silence: no gap, nothing repeated
                    rec.wait_until(playing["frame"] + want.shape[0])
                    got = rec.at(playing["frame"] - BEFORE, want.shape[0])
                    err = np.abs(got - want).max()
                    assert err < 1e-5, (i, err)  # (the takes' peaks are ~0.05: the resamplers agree to ~2e-8)
                    assert np.abs(got[BEFORE + n + 2048 :]).max() < 1e-6
                assert server.player.underruns == 0, (server.player.ring.underruns, server.player.mixer.underruns, server.jack.xruns)
                # a loop: its first pass as streamed up to its length (not the overrun the model made past it), then
                # the saved loop, whose head has that overrun crossfaded in: heard across two wraps
                await c.send("generate", id="loop", prompt="steady pulse", bars=1, bpm=150, loop=True, seed=3)
                stream, playing = [], None
                while (ev := await c.next_event())["type"] != "done":
                    if ev["type"] == "audio":
                        stream.append(np.frombuffer(ev["pcm"], "<f4")[:, None])
                    playing = ev if ev["type"] == "playing" else playing
                done = ev
                playing = playing or await until(c, "playing", "loop")
                x, rate = sf.read(done["path"], dtype="float32", always_2d=True)
                heard = np.concatenate(stream)
                assert heard.shape[0] > x.shape[0]  # the stream goes past the loop's end (its overrun)
                heard = np.concatenate([np.zeros((BEFORE * rate // RATE, 1), np.float32), heard[: x.shape[0]], x, x])
                want = soxr.resample(heard, rate, RATE)
                n = BEFORE + int(x.shape[0] * 2.5 * RATE / rate)  # across two wraps
                rec.wait_until(playing["frame"] + n)
                got = rec.at(playing["frame"] - BEFORE, n)
                assert np.abs(got - want[:n]).max() < 1e-5
                assert server.player.underruns == 0
                await c.stop("loop")
        finally:
            rec.close()

    serve(scenario, audio_device="jack", jack_server=jackd, jack_connect=())
