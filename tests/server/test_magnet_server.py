"""`loopgen serve --model <a MAGNeT>` over real WebSocket connections: generate, loops, continue, extend (past one
segment), progress per decoding pass, audio per segment, concurrent requests batched and equal to each alone."""
from __future__ import annotations

import asyncio

import numpy as np
import soundfile as sf

from loopgen.clients import connect

from .test_ws_server import collect, url

MODEL = "random:magnet-tiny"  # 2 s segments, default decoding (50 passes a segment)


def test_generate_streams_per_segment_with_progress_per_pass(serve):
    async def scenario(server):
        async with connect(url(server)) as c:
            assert c.welcome["sample_rate"] == 32000
            events, pcm = await collect(c.generate("lo-fi beat", seconds=3.0, seed=3))
            kinds = [e["type"] for e in events]
            assert kinds[0] == "started" and kinds[-1] == "done"
            progress = [e for e in events if e["type"] == "progress"]
            assert len(progress) >= 2 * 50  # two segments of 50 passes each
            done_frames = [p["frames"] for p in progress]
            assert done_frames == sorted(done_frames) and done_frames[-1] == 150
            # audio comes when a segment is done: none before the first segment's 50 passes
            first_audio = kinds.index("audio")
            assert kinds[:first_audio].count("progress") >= 49  # the 50th pass reports after its audio
            saved, rate = sf.read(events[-1]["path"], dtype="float32")
            assert rate == 32000 and saved.shape == (96000,) and np.array_equal(saved, pcm)
            g = server.model.generate(["lo-fi beat"], seconds=3.0, seed=3)  # the daemon adds no drift
            assert np.abs(g.audio[0, 0].numpy() - pcm).max() < 1e-4

    serve(scenario, model=MODEL)


def test_loop_continue_extend(serve):
    async def scenario(server):
        async with connect(url(server)) as c:
            events, _ = await collect(c.generate("house", id="g", bars=1, bpm=179, seed=1))
            first = sf.read(events[-1]["path"], dtype="float32")[0]
            assert first.shape == (round(4 * 60 / 179 * 32000),)  # a loop's exact length
            events, _ = await collect(c.stream("extend", id="g2", of="g", bars=2))  # past one segment
            longer = sf.read(events[-1]["path"], dtype="float32")[0]
            assert longer.shape == (round(12 * 60 / 179 * 32000),)  # 4 s: two segments
            assert np.array_equal(longer[3200:len(first) - 320], first[3200:len(first) - 320])  # the first bar kept
            t = np.arange(int(44100 * 0.513)) / 44100
            src = (np.sin(2 * np.pi * 220 * t) * 0.3).astype(np.float32)
            events, _ = await collect(c.stream("continue", id="c", prompt="go on", audio=src.astype("<f4").tobytes(),
                                               sample_rate=44100, channels=1, seconds=1.0, seed=0))
            assert events[-1]["type"] == "done" and sf.info(events[-1]["path"]).frames == 32000

    serve(scenario, model=MODEL)


def test_concurrent_requests_are_batched_and_equal_alone(serve):
    async def one(server, i):
        async with connect(url(server)) as c:
            # the same length (so their passes run through the LM together), texts of different lengths
            events, pcm = await collect(c.generate(f"prompt number {i}" * (i + 1), seconds=0.75, seed=i))
            return events[-1]["type"], pcm

    async def scenario(server):
        results = await asyncio.gather(*(one(server, i) for i in range(3)))
        for i, (kind, pcm) in enumerate(results):
            assert kind == "done"
            g = server.model.generate([f"prompt number {i}" * (i + 1)], seconds=0.75, seed=i)
            assert np.abs(g.audio[0, 0].numpy() - pcm).max() < 1e-4, i

    serve(scenario, model=MODEL)


def test_live_changes_and_stop(serve):
    async def scenario(server):
        async with connect(url(server)) as c:
            it = c.generate("drone", id="d", seconds=20, seed=2)
            async for ev in it:
                if ev["type"] == "audio":
                    break
            await c.set(id="d", temperature=1.5, prompts=[["brighter drone", 1.0]])
            await c.stop("d")
            rest = [ev async for ev in it]
            assert rest[-1]["type"] == "done"

    serve(scenario, model=MODEL)


def test_given_values_reach_magnet_and_each_family_checks_its_own_range(serve):
    """A MAGNeT take asked for temperature 1, top_k 250, top_p 0, cfg 3 (MusicGen's defaults) is made with exactly
    those, not MAGNeT's own defaults; MAGNeT's temperature range reaches 10 on the request path; removing a melody
    from a take of a model without melody is a coded error, not a server error."""

    async def scenario(server):
        m = server.model
        asked = dict(temperature=1.0, top_k=250, top_p=0.0, cfg_coef=3.0)
        async with connect(url(server)) as c:
            events, pcm = await collect(c.generate("dub", seconds=0.5, seed=5, **asked))
            want = m.generate(["dub"], seconds=0.5, seed=5, temperature=1.0, top_k=250, top_p=0.0, max_cfg_coef=3.0)
            assert np.abs(want.audio[0, 0].numpy() - pcm).max() < 1e-4
            own = m.generate(["dub"], seconds=0.5, seed=5)
            assert np.abs(own.audio[0, 0].numpy() - pcm).max() > 1e-3  # MAGNeT's defaults make other music
            events, _ = await collect(c.generate("hot", seconds=0.5, seed=1, temperature=7.0))
            assert events[-1]["type"] == "done"
            await c.send("generate", id="d", prompt="drone", seconds=20, seed=2)
            while (ev := await c.next_event())["type"] != "started":
                pass
            await c.send("set", id="d", melody=False)
            ev = await c.next_event()
            while ev["type"] != "error":
                ev = await c.next_event()
            assert ev["code"] == "bad_field" and "no melody" in ev["message"] and ev["id"] == "d"
            await c.send("set", id="d", temperature=12.0)
            while (ev := await c.next_event())["type"] != "error":
                pass
            assert ev["code"] == "out_of_range"
            await c.stop("d")

    serve(scenario, model=MODEL)
