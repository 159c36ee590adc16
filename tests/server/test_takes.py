"""Takes you can trust: every request ends in a take or a clear error, stop works from anywhere, stored changes are
not errors, extends are exact, and a take can be made again bit for bit from its sidecar."""
from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import soundfile as sf

from loopgen.clients import connect
from loopgen.clients.client import ServerError


def url(server):
    return f"ws://127.0.0.1:{server.ws_port}"


async def run(it):
    return [ev async for ev in it]


def test_a_take_that_cannot_be_saved_answers_an_error_and_the_server_goes_on(serve, tmp_path):
    blocker = tmp_path / "disk-gone"
    blocker.write_text("a file where the folder was")

    async def scenario(server):
        good = server.worker.loops_dir
        server.worker.loops_dir = blocker  # the folder vanished (a file stands in for a full or unplugged disk)
        async with connect(url(server)) as c:
            events = []
            with pytest.raises(ServerError) as e:
                async for ev in c.generate("x", id="lost", seconds=0.4, seed=1):
                    events.append(ev)
            assert e.value.event["code"] == "save_failed" and str(blocker) in e.value.event["message"]
            assert any(ev["type"] == "audio" for ev in events)  # the audio reached the client first
            assert not any(ev["type"] == "done" for ev in events)  # never "done" for what was not saved
            assert await c.ping() < 5
            server.worker.loops_dir = good
            done = (await run(c.generate("x", id="kept", seconds=0.4, seed=1)))[-1]
            assert done["type"] == "done" and sf.info(done["path"]).frames == 12800
        assert server.worker.saved == 1 and len(server.worker.unsaved) == 1

    serve(scenario)


def test_a_take_is_always_either_running_or_finished(serve):
    """Another thread (the event loop, a status reader) looking at the worker never finds a take in neither place:
    it stays `active` until it is in `finished`, also while its last audio is decoded and sent."""

    async def scenario(server):
        w = server.worker
        seen = []
        played = w.on_audio

        def on_audio(job, x):
            k = (job.owner, job.id)
            seen.append(any(k == (j.owner, j.id) for j in [*w.active.values(), *w.finished.values()]))
            if played is not None:
                played(job, x)

        w.on_audio = on_audio
        try:
            async with connect(url(server)) as c:
                await run(c.generate("x", id="t", seconds=0.6, seed=1))
        finally:
            w.on_audio = played
        assert len(seen) > 2 and all(seen), seen  # the tail too, sent while the end is flushed

    serve(scenario)


def test_serve_refuses_a_takes_folder_it_cannot_write(tmp_path, capsys):
    from loopgen.cli import main

    f = tmp_path / "not-a-folder"
    f.write_text("")
    code = main(["serve", "--model", "random:tiny", "--loops-dir", str(f), "--ws-port", "0", "--osc-port", "0",
                 "--audio-device", "none"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot save takes in" in err and str(f) in err and "Traceback" not in err


def test_stop_from_another_connection_by_id_and_the_latest(serve):
    async def scenario(server):
        async with connect(url(server)) as a, connect(url(server)) as b:
            async def long(id):
                return await run(a.generate("drone", id=id, seconds=20, seed=2))

            task = asyncio.ensure_future(long("mine"))
            await asyncio.sleep(0.5)
            await b.stop("mine")  # another connection, by id
            done = (await asyncio.wait_for(task, 30))[-1]
            assert done["type"] == "done" and done["seconds"] < 20
            meta = json.loads(open(done["path"][:-4] + ".json").read())
            assert meta["stopped_early"] is True
            task = asyncio.ensure_future(long("other"))
            await asyncio.sleep(0.5)
            await b.stop()  # the latest anyone started
            assert (await asyncio.wait_for(task, 30))[-1]["seconds"] < 20
            await b.stop("mine")  # finished already: nothing to stop, and not an error
            await b.stop("never-was")  # the worker answers in order: this error must come first
            ev = await b.next_event()
            assert ev["type"] == "error" and ev["code"] == "unknown_id" and ev["id"] == "never-was"

    serve(scenario)


def test_changes_after_a_take_finished_are_stored_not_errors(serve):
    async def scenario(server):
        async with connect(url(server)) as c:
            await run(c.generate("x", id="t", seconds=0.2, seed=1))
            await c.set("t", temperature=0.5)
            await c.set("t", prompt="something else")
            await c.set("nobody", temperature=0.5)  # the worker answers in order: this error must come first
            ev = await c.next_event()
            assert ev["code"] == "unknown_id" and ev["id"] == "nobody"

    serve(scenario)


def test_extend_by_seconds_adds_exactly_that_much(serve):
    async def scenario(server):
        async with connect(url(server)) as c:
            first = (await run(c.generate("x", id="a", seconds=1.01, seed=1)))[-1]
            more = (await run(c.stream("extend", id="b", of="a", seconds=0.5)))[-1]
            a, _ = sf.read(first["path"], dtype="float32", always_2d=True)
            b, _ = sf.read(more["path"], dtype="float32", always_2d=True)
            assert b.shape[0] == a.shape[0] + 16000  # 0.5 s exactly, not 320 samples short
            splice = 320
            assert np.array_equal(b[: a.shape[0] - splice], a[: a.shape[0] - splice])

    serve(scenario)


@pytest.mark.parametrize("graphs, dtype", [(False, None), (True, None), (False, "int8")],
                         ids=["eager", "cuda-graphs", "int8"])
def test_a_take_is_made_again_bit_for_bit_from_its_sidecar(serve, tmp_path, capsys, monkeypatch, two_threads, graphs,
                                                            dtype):
    """No seed given, live changes of parameters and prompts while it plays, another stream beside it, then an
    extend of it: `loopgen render --from` makes both takes again, sample for sample (the daemon decodes the two
    streams together, in one decoder call per step; render decodes a take alone, on the daemon's thread count:
    2 here, where render's own policy would take 1). With `--cuda-graphs` (their semantics on the CPU: the model
    step and the decode replayed from one recording, tests/models/graph_replay.py) the takes are the same bits. In
    int8 too (a voice's activations quantized apart from the other stream's, its rows growing with the prompt
    change; render reads int8 from the record). The daemon's CPU matmul was measured as one kernel and render's
    measures the other (kernels.json made afresh between them): render runs the take's, from the record."""
    from loopgen.cli import main
    from loopgen.models import kernels

    from ..models.graph_replay import ReplayGraphs

    monkeypatch.setenv("LOOPGEN_THREADS", "1")
    made: list[ReplayGraphs] = []

    def replaying(device, limit=8):
        made.append(ReplayGraphs())
        return made[-1]

    monkeypatch.setattr("loopgen.models.engine.CudaGraphs", replaying)
    monkeypatch.setattr("loopgen.streaming.bank.CudaGraphs", replaying)

    async def scenario(server):
        async with connect(url(server)) as c, connect(url(server)) as other:
            beside = asyncio.ensure_future(run(other.generate("noise", id="n", seconds=3, seed=9)))
            events = []
            async for ev in c.generate("warm keys", id="live", seconds=2.0):
                events.append(ev)
                audio = [e for e in events if e["type"] == "audio"]
                if len(audio) == 10 and ev["type"] == "audio":
                    await c.set("live", temperature=0.4, top_k=20)
                if len(audio) == 30 and ev["type"] == "audio":
                    await c.set("live", prompts=[["warm keys", 0.5], ["harsh noise", 0.5]])
            ext = (await run(c.stream("extend", id="more", of="live", seconds=1.0)))[-1]
            await beside
            worker = server.worker
            # 150 + 100 + 50 frames were decoded, 100 of them beside another stream: at most one call per step
            assert 0 < worker.decoders.calls <= worker.steps < 270
            if graphs:  # every banked call ran through the bank's graph (how many: how the streams overlapped)
                bank = worker.decoders._graphs
                assert bank in made and bank.replays + bank.captures == worker.decoders.calls
                # "live" decodes banked from its 5th frame to its 100th: "n" (150 frames, started first) is open
                assert bank.replays >= 90 and bank.captures <= 3
                engine = next(g for g in made if g is not bank)  # its 150 frames or more, nearly every one a replay
                assert engine.replays >= 140 and engine.captures <= 3
            return events[-1]["path"], ext["path"]

    monkeypatch.setattr(kernels, "choose", lambda dtype, candidates: "packed")
    first, second = serve(scenario, cuda_graphs=graphs, **({"dtype": dtype} if dtype else {}))
    monkeypatch.setattr(kernels, "choose", lambda dtype, candidates: "onednn")
    assert len(made) == (2 if graphs else 0)  # the engine's and the decoder bank's
    for wav in (first, second):
        meta = json.loads(open(wav[:-4] + ".json").read())
        assert isinstance(meta["seed"], int) and meta["threads"] == 2 and meta["dtype"] == (dtype or "float32")
        assert meta["kernels"] == ({} if dtype == "int8" else {"float32": "packed"})  # (int8's steps: fbgemm)
        out = tmp_path / "again.wav"
        assert main(["render", "--from", wav[:-4] + ".json", "-o", str(out)]) == 0, capsys.readouterr().err
        assert np.array_equal(sf.read(out, dtype="float32")[0], sf.read(wav, dtype="float32")[0])
    assert len(json.loads(open(first[:-4] + ".json").read())["changes"]) == 2


def test_takes_at_the_daws_rate_format_and_loudness(serve, tmp_path, capsys):
    """A 2-bar loop at 97 bpm asked for at 48 kHz, 16-bit, -23 LUFS: the file is that, lasts its bars exactly at
    48 kHz, measures -23 LUFS, and `render --from` makes the same file."""
    import pyloudnorm

    from loopgen.cli import main
    from loopgen.streaming.loops import loop_samples

    async def scenario(server):
        async with connect(url(server)) as c:
            return (await run(c.generate("x", id="daw", bars=2, bpm=97, seed=3, output_rate=48000,
                                         output_format="pcm16", loudness=-23)))[-1]["path"]

    path = serve(scenario)
    info = sf.info(path)
    assert (info.samplerate, info.subtype, info.frames) == (48000, "PCM_16", loop_samples(2, 97, 4, 48000))
    data, rate = sf.read(path)
    assert abs(pyloudnorm.Meter(rate).integrated_loudness(data) + 23) < 0.5
    out = tmp_path / "again.wav"
    assert main(["render", "--from", path[:-4] + ".json", "-o", str(out)]) == 0, capsys.readouterr().err
    assert np.array_equal(sf.read(out)[0], data) and sf.info(out).subtype == "PCM_16"


def test_a_loudness_target_the_peaks_forbid_is_said_not_silently_missed(serve, caplog):
    """Asked for 0 LUFS, a take's peaks cap the gain: its sidecar and the log say the loudness it has instead."""
    import json
    import logging

    import pyloudnorm

    async def scenario(server):
        async with connect(url(server)) as c:
            return (await run(c.generate("x", id="loud", seconds=1.0, seed=3, loudness=0)))[-1]["path"]

    with caplog.at_level(logging.WARNING, logger="loopgen.takes"):
        path = serve(scenario)
    side = json.loads(open(path[:-4] + ".json").read())
    data, rate = sf.read(path)
    measured = pyloudnorm.Meter(rate).integrated_loudness(data)
    assert side["loudness"] == 0 and side["loudness_reached"] < -0.5
    assert abs(side["loudness_reached"] - measured) < 0.1  # what it says is what the file measures
    assert any("not the 0.0 asked for" in r.getMessage() for r in caplog.records)


def test_bad_output_settings_are_refused(serve):
    async def scenario(server):
        async with connect(url(server)) as c:
            for fields, code in ((dict(output_rate=1000), "out_of_range"), (dict(output_format="mp3"), "bad_field"),
                                 (dict(loudness=5), "out_of_range")):
                with pytest.raises(ServerError) as e:
                    await run(c.generate("x", seconds=0.2, **fields))
                assert e.value.event["code"] == code

    serve(scenario)


def test_faults_leave_the_other_stream_playing_and_every_take_saved(serve, tmp_path):
    """While one client streams a long take: a session whose model work fails, a take whose decoder fails at its
    end, a client killed mid-stream, and a take that cannot be saved (its disk gone for a moment). The steady stream never misses a sample, and every take
    that could be saved is."""
    from websockets.asyncio.client import connect as ws_connect

    from loopgen.protocol import ws as W

    async def scenario(server):
        async with connect(url(server)) as steady, connect(url(server)) as c:
            listen = asyncio.ensure_future(run(steady.generate("steady", id="steady", seconds=6, seed=1)))
            # 1. a session that fails in its own work
            bad = c.generate("doomed", id="bad", seconds=4, seed=2)
            while (await bad.__anext__())["type"] != "audio":  # it has made something: what it made is saved
                pass
            server.worker.find("bad", finished=False).session.prepare = lambda *_: 1 / 0
            with pytest.raises(ServerError):
                await run(bad)
            # 2. a take whose decoder fails at its very end: saved with what it made
            cut = c.generate("cut", id="cut", seconds=1, seed=5)
            await cut.__anext__()
            server.worker.find("cut", finished=False).take.flush = lambda: 1 / 0
            with pytest.raises(ServerError) as e:
                await run(cut)
            assert e.value.event["code"] == "model_error"
            for _ in range(100):  # its error comes first; its file is written after it (on the saver thread)
                if server.worker.find("cut") is not None and server.worker.find("cut").path:
                    break
                await asyncio.sleep(0.05)
            # 3. a client killed mid-stream (no close handshake)
            ws = await ws_connect(url(server), max_size=None)
            await ws.send(W.encode_command("hello", protocol=1))
            await ws.send(W.encode_command("generate", id="killed", prompt="k", seconds=1, seed=3))
            await ws.recv(), await ws.recv()
            ws.transport.abort()
            # 4. a take whose disk is gone when it finishes
            good_dir, blocker = server.worker.loops_dir, tmp_path / "gone"
            blocker.write_text("")
            server.worker.loops_dir = blocker
            with pytest.raises(ServerError) as e:
                await run(c.generate("lost", id="lost", seconds=0.3, seed=4))
            assert e.value.event["code"] == "save_failed"
            server.worker.loops_dir = good_dir
            events = await asyncio.wait_for(listen, 120)
            for _ in range(100):
                if server.worker.find("killed") is not None and server.worker.find("killed").path:
                    break
                await asyncio.sleep(0.1)
        return events

    events = serve(scenario)
    audio = [e for e in events if e["type"] == "audio"]
    assert [a["seq"] for a in audio] == list(range(len(audio)))
    starts = [a["sample"] for a in audio]
    lengths = [len(a["pcm"]) // 4 for a in audio]
    assert starts == list(np.cumsum([0] + lengths[:-1]))  # not a sample missed
    assert events[-1]["type"] == "done" and sf.info(events[-1]["path"]).frames == 6 * 32000
    saved = {json.loads(p.read_text())["id"] for p in tmp_path.glob("loops/*.json")}
    assert {"steady", "bad", "cut", "killed"} <= saved and "lost" not in saved


def test_a_take_stopped_before_its_first_audio_saves_nothing(serve):
    """It saved a 0-sample WAV (and its sidecar) before: now done says there is nothing, and the folder stays empty."""

    async def scenario(server):
        async with connect(url(server)) as c:
            await c.send("generate", id="gone", prompt="x", seconds=10.0, seed=1)
            await c.send("stop", id="gone")  # before a single frame is decoded
            events = []
            while not events or events[-1]["type"] not in ("done", "error"):
                events.append(await c.next_event())
            ok = [ev async for ev in c.generate("x", id="kept", seconds=0.2, seed=1)]
        return events, ok, sorted(p.name for p in server.worker.loops_dir.iterdir())

    events, ok, files = serve(scenario)
    done = events[-1]
    assert done["type"] == "done" and done["path"] == "" and done["seconds"] == 0
    assert not any(e["type"] == "audio" for e in events)
    assert ok[-1]["type"] == "done" and len(files) == 2 and all("kept" in f for f in files), files


def test_a_take_made_while_the_thread_policy_changed_is_made_again_bit_for_bit(serve, tmp_path, capsys, monkeypatch,
                                                                             two_threads):
    """The adaptive thread policy moves between 2 and 1 threads while two takes play (here on a script: 1 thread
    from the 10th step the two share, 2 again from their 30th): each take records the changes at its own step, and
    `render --from` replays them, sample for sample (a step's and a decode's last bits depend on the count)."""
    from loopgen.cli import main
    from loopgen.models import threads

    class Scripted(threads.ThreadGovernor):
        shared = 0

        def observe(self, seconds, sig=None):
            self.shared += sig == 2
            self.now = 1 if 10 <= self.shared < 30 else 2
            return self.now

    monkeypatch.setattr("loopgen.server.app.ThreadGovernor", Scripted)

    async def scenario(server):
        async with connect(url(server)) as c, connect(url(server)) as other:
            beside = asyncio.ensure_future(run(other.generate("noise", id="n", seconds=1.5, seed=9)))
            done = (await run(c.generate("warm keys", id="live", seconds=2.0, seed=4)))[-1]
            return done["path"], (await beside)[-1]["path"]

    for wav in serve(scenario, adaptive_threads=(1, 2)):
        meta = json.loads(open(wav[:-4] + ".json").read())
        assert [c["threads"] for c in meta["changes"]] == [1, 2] and meta["threads"] == 2
        out = tmp_path / "again.wav"
        assert main(["render", "--from", wav[:-4] + ".json", "-o", str(out)]) == 0, capsys.readouterr().err
        assert np.array_equal(sf.read(out, dtype="float32")[0], sf.read(wav, dtype="float32")[0])
