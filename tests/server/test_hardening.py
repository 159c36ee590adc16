"""Issue 14's defects, one test each: work limits counted in time and tokens, admission control, atomic takes,
bounded memory per client and per peer, short error echoes."""
from __future__ import annotations

import asyncio
import time

import msgpack
import numpy as np
import pytest
from websockets.asyncio.client import connect as ws_connect

from loopgen.clients import connect
from loopgen.clients.client import ServerError
from loopgen.protocol import ws as W


def url(server):
    return f"ws://127.0.0.1:{server.ws_port}"


async def run(it):
    return [ev async for ev in it]


async def answer(ws, **msg) -> dict:
    await ws.send(W.encode_command(**msg))
    return msgpack.unpackb(await ws.recv(), raw=False)


def test_work_is_limited_by_time_and_tokens_not_bytes(serve):
    async def scenario(server):
        async with ws_connect(url(server), max_size=None) as ws:
            await answer(ws, kind="hello", protocol=1)
            too_long = np.zeros(8000 * 601, np.float32).tobytes()  # 601 s at 8 kHz: 19 MB, under the byte limit
            ev = await answer(ws, kind="continue", id="c", prompt="x", audio=too_long, sample_rate=8000)
            assert ev["code"] == "out_of_range" and "600" in ev["message"]
            ev = await answer(ws, kind="continue", id="c", prompt="x", audio=b"\0" * 4000, sample_rate=1000)
            assert ev["code"] == "out_of_range"  # a 1 kHz "audio" is not music: refused before resampling
            t = time.perf_counter()
            ev = await answer(ws, kind="generate", id="g", prompt="\U0001F3B5" * 1999, seconds=1)
            assert ev["code"] == "bad_field" and "tokens" in ev["message"]
            assert time.perf_counter() - t < 5  # refused by counting tokens, not after running T5 on them
        async with connect(url(server)) as c:
            await run(c.generate("x", id="a", bars=1, bpm=60, seed=1))
            with pytest.raises(ServerError) as e:
                await run(c.stream("extend", id="b", of="a", bars=200))  # 200 bars at 60 bpm: 800 s of new audio
            assert e.value.event["code"] == "out_of_range"

    serve(scenario)


def test_admission_control_keeps_the_streams_live(serve):
    async def scenario(server):
        async with connect(url(server)) as steady, ws_connect(url(server)) as flood:
            live = asyncio.ensure_future(run(steady.generate("steady", id="steady", seconds=2, seed=1)))
            await answer(flood, kind="hello", protocol=1)
            for i in range(40):  # one client asking for 40 at once
                await flood.send(W.encode_command("generate", id=f"f{i}", prompt="x", seconds=1, seed=i))
            busy, started = 0, []
            while busy + len(started) < 40:
                ev = msgpack.unpackb(await asyncio.wait_for(flood.recv(), 30), raw=False)
                busy += ev["type"] == "error" and ev["code"] == "busy"
                started += [ev["id"]] if ev["type"] == "started" else []
            assert len(started) <= 8 and busy >= 32
            for id in started:  # the flood's admitted takes end early (they are saved): the steady one plays on
                await flood.send(W.encode_command("stop", id=id))
            events = await asyncio.wait_for(live, 60)
            assert events[-1]["type"] == "done"

    serve(scenario)


def test_the_limit_in_all_is_a_setting(serve):
    """serve --max-generations: past it, any client is answered busy, naming the limit; a slot freed is usable."""
    async def until(ws, kind: str) -> dict:  # the next event of that kind (audio and progress go by)
        while True:
            ev = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 30), raw=False)
            if ev["type"] in (kind, "error"):
                return ev

    async def scenario(server):
        async with ws_connect(url(server)) as a, ws_connect(url(server)) as b:
            await answer(a, kind="hello", protocol=1)
            await answer(b, kind="hello", protocol=1)
            for i in range(2):
                await a.send(W.encode_command("generate", id=f"a{i}", prompt="x", seconds=20, seed=i))
                assert (await until(a, "started"))["id"] == f"a{i}"
            ev = await answer(b, kind="generate", id="b", prompt="x", seconds=1, seed=3)
            assert ev["code"] == "busy" and "2 running generations in all" in ev["message"]
            await a.send(W.encode_command("stop", id="a0"))
            assert (await until(a, "done"))["id"] == "a0"
            assert (await answer(b, kind="generate", id="b", prompt="x", seconds=1, seed=3))["type"] == "started"
            await a.send(W.encode_command("stop", id="a1"))

    serve(scenario, max_generations=2)


def test_a_take_interrupted_while_saving_leaves_nothing_half_written(serve, monkeypatch, tmp_path):
    """Atomic takes: a save that dies after the sidecar but before the WAV leaves neither under its final name, and
    no temporary file behind."""
    from loopgen.server import jobs

    real = jobs._write_wav

    def dies_on_the_take(path, audio, rate, fmt="float"):
        if not str(path).endswith(".source.part"):
            raise OSError(28, "No space left on device")
        return real(path, audio, rate, fmt)

    async def scenario(server):
        monkeypatch.setattr(jobs, "_write_wav", dies_on_the_take)
        async with connect(url(server)) as c:
            with pytest.raises(ServerError) as e:
                await run(c.generate("x", id="t", seconds=0.3, seed=1))
            assert e.value.event["code"] == "save_failed" and "No space left" in e.value.event["message"]
        return server.worker.loops_dir

    folder = serve(scenario)
    assert not list(folder.iterdir())  # no WAV, no sidecar, no .part


def test_memory_per_client_and_per_peer_is_bounded(serve):
    from loopgen.protocol.osc import build
    from loopgen.server.app import MAX_OSC_PEERS

    async def scenario(server):
        for i in range(MAX_OSC_PEERS + 100):  # senders from many loopback addresses
            server.on_osc(build("/loopgen/hello", [f"peer{i}"]), (f"127.0.{i // 250}.{i % 250 + 1}", 9999))
        assert len(server.osc_peers) == MAX_OSC_PEERS
        async with ws_connect(url(server)) as ws:
            ev = await answer(ws, kind="ping", data="x" * 100_000)  # echoed back: refused, not queued
            assert ev["code"] == "too_large"
            ev = await answer(ws, kind="hello", protocol="p" * 8_000_000)
            assert ev["type"] == "error" and len(ev["message"]) < 300  # 8 MB in, a short line out

    serve(scenario)


def test_same_second_takes_get_numbered_names_not_stacked_suffixes(tmp_path, monkeypatch, tiny):
    """Three takes with one id and prompt in the same second: NAME, NAME-2, NAME-3 (not NAME-2-3)."""
    from loopgen.params import SamplingParams
    from loopgen.protocol import messages as M
    from loopgen.server import jobs
    from loopgen.streaming.take import Take

    monkeypatch.setattr(jobs.time, "strftime", lambda fmt, *a: "20260101-000000")
    names = []
    for _ in range(3):
        take = Take(tiny, ["x"], SamplingParams(), 1, 3200)
        job = jobs.Job("t", None, M.GenerateParams(prompts=(("x", 1.0),), seconds=0.1), take)
        take.run()
        job.finish()
        names.append(jobs.write(jobs.render(job, "random:tiny", 32000), tmp_path).rsplit("/", 1)[1])
    assert names == ["20260101-000000-t-x.wav", "20260101-000000-t-x-2.wav", "20260101-000000-t-x-3.wav"]


def test_a_take_is_renamed_into_place_wav_last_after_its_sidecar(tmp_path, monkeypatch, tiny):
    """The save order: the continued audio, then the sidecar, then the WAV, each renamed from its temporary name,
    so a reader that sees a WAV always finds its sidecar (and the audio it continued) beside it."""
    import os

    import torch

    from loopgen.protocol import messages as M
    from loopgen.server import jobs
    from loopgen.streaming.record import TakeRecord
    from loopgen.streaming.take import Take

    renamed, real = [], os.replace

    def replace(src, dst):
        assert all(p.exists() for p in map(type(tmp_path), renamed))  # what came before is in place
        real(src, dst)
        renamed.append(str(dst))

    monkeypatch.setattr(jobs.os, "replace", replace)
    take = Take(tiny, ["x"], None, 1, 6400, original=torch.zeros(1, 3200), keep_original=True)
    job = jobs.Job("t", None, M.GenerateParams(prompts=(("x", 1.0),), seconds=0.1), take)
    take.run()
    job.finish()
    wav = jobs.write(jobs.render(job, "random:tiny", 32000), tmp_path)
    kinds = [p[p.index("-t-x") + 4 :] for p in renamed]
    assert kinds == [".source.wav", ".json", ".wav"]
    assert renamed[-1] == wav
    record = TakeRecord.from_json(open(renamed[1]).read())
    assert record.continues == os.path.basename(renamed[0]) and record.record == 2
