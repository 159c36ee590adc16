"""`serve --ray`: the model work on Ray actors (a local Ray, started once for this module, 2 CPUs, loopback only)."""
from __future__ import annotations

import asyncio
import os
import signal

import numpy as np
import pytest
import soundfile as sf

from loopgen.clients import connect
from loopgen.clients.client import ServerError

from .test_ws_server import url

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("realtime")  # asks one worker to run this and the real-time modules (JACK, Link,
# the audio out's timing) in turn; under pytest 9.2 the mark does not group (pyproject.toml): they may run side by
# side


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


async def _take(c, i, seconds, kill_at=None, on_kill=None, **fields):
    events = []
    async for ev in c.generate(f"prompt {i}", id=f"g{i}", seconds=seconds, seed=i, **fields):
        events.append(ev)
        if kill_at is not None and ev["type"] == "frames" and ev["frame"] == kill_at:
            await on_kill(f"g{i}")
    return events


def test_streams_spread_over_two_actors_equal_the_local_thread_and_survive_a_lost_actor(serve, tiny):
    async def scenario(server):
        w = server.worker
        async with connect(url(server), codes=True) as c:
            before = await c.workers()
            assert [x["kind"] for x in before] == ["ray", "ray"] and len({x["pid"] for x in before}) == 2
            assert all(x["pid"] != os.getpid() and x["alive"] and x["threads"] == 1 for x in before)  # --worker-threads
            first = [e async for e in c.generate("before", id="p", seconds=0.3, seed=5)][-1]  # on the first actor
            assert w.find("p").actor is w.actors[0]
            killed = {}

            async def kill(id):
                job = w.find(id, finished=False)
                on = {j.id for j in w.active.values() if j.actor is job.actor}
                assert len(on) == 2 and len(w.active) == 4  # four streams, two on each actor
                pid = job.actor.where["pid"]
                assert pid in {x["pid"] for x in await c.workers()}  # found from `workers`, as an operator would
                killed.update(pid=pid, on=on)
                os.kill(pid, signal.SIGKILL)

            greedy, sampled = {"top_k": 1}, {"temperature": 1.0, "top_k": 50}
            results = await asyncio.gather(*[
                _take(c, i, 2.0, kill_at=40 if i == 0 else None, on_kill=kill, **(greedy if i < 2 else sampled))
                for i in range(4)])
            for i, events in enumerate(results):
                kinds = [e["type"] for e in events]
                assert "error" not in kinds and kinds[-1] == "done"
                moved = [e for e in events if e["type"] == "moved"]
                assert bool(moved) == (f"g{i}" in killed["on"])  # exactly the lost actor's takes moved
                if moved:
                    assert moved[0]["frame"] >= 40 and moved[0]["worker"] != killed["pid"]
                codes = np.array([e["codes"] for e in events if e["type"] == "frames"]).T  # [K, 100]
                audio = [e for e in events if e["type"] == "audio"]
                assert [a["seq"] for a in audio] == list(range(len(audio)))  # no chunk lost or sent twice
                starts = [a["sample"] for a in audio]
                assert starts == list(np.cumsum([0] + [len(a["pcm"]) // 4 for a in audio[:-1]]))  # no gap
                pcm = np.concatenate([np.frombuffer(a["pcm"], "<f4") for a in audio])
                saved, rate = sf.read(events[-1]["path"], dtype="float32")
                assert saved.shape == (2 * 32000,)  # whole: its exact length
                # as streamed (a moved take's part before the move was decoded again there: the last bits may differ)
                assert np.array_equal(saved, pcm) if not moved else np.abs(saved - pcm).max() < 1e-6
                local = tiny.generate([f"prompt {i}"], seconds=2.0, seed=i, **(greedy if i < 2 else sampled))
                # every take, moved or not, greedy or sampled: the local thread's codes (a moved one resumed with its
                # window and draw count: test_resume.py)
                assert np.array_equal(codes, local.codes[0].numpy()), i
            assert any(f"g{i}" in killed["on"] for i in range(2))  # a greedy take was among the moved ones
            # Ray restarts the lost actor: it rejoins the pool with a new process
            for _ in range(120):
                after = await c.workers()
                if all(x["alive"] for x in after) and killed["pid"] not in {x["pid"] for x in after}:
                    break
                await asyncio.sleep(0.5)
            else:
                raise AssertionError(f"the lost actor did not rejoin: {after}")
            # a take the lost actor finished before it was lost can still be extended: the gateway sends it along
            # (the restarted process never held it)
            events = [ev async for ev in c.stream("extend", id="px", of="p", seconds=0.25)]
            saved, _ = sf.read(events[-1]["path"], dtype="float32")
            assert saved.shape == (int(0.55 * 32000),)
            assert np.array_equal(saved[:4800], sf.read(first["path"], dtype="float32")[0][:4800])

    serve(scenario, ray="local", workers=(("tiny", 2),))


def test_two_models_on_ray_each_request_gets_its_own(serve, tiny, stereo, capsys):
    async def scenario(server):
        async with connect(url(server), codes=True) as c:
            assert [m["name"] for m in c.welcome["models"]] == ["random:tiny", "random:stereo-tiny"]
            a, b = await asyncio.gather(_take(c, 1, 0.5), _take(c, 2, 0.5, model="stereo-tiny"))
            for events, m, i in ((a, tiny, 1), (b, stereo, 2)):
                codes = np.array([e["codes"] for e in events if e["type"] == "frames"]).T
                assert np.array_equal(codes, m.generate([f"prompt {i}"], seconds=0.5, seed=i).codes[0].numpy())
                saved, rate = sf.read(events[-1]["path"], dtype="float32", always_2d=True)
                assert saved.shape[1] == m.channels and {e["channels"] for e in events if e["type"] == "audio"} == {
                    m.channels}
            with pytest.raises(ServerError) as e:
                await _take(c, 3, 0.5, model="facebook/musicgen-melody")
            assert e.value.event["code"] == "unknown_model" and "random:stereo-tiny" in str(e.value)
            from loopgen.cli import main

            assert await asyncio.to_thread(main, ["workers", "--url", url(server)]) == 0
            lines = capsys.readouterr().out.splitlines()
            assert len(lines) == 3 and "random:tiny" in lines[1] and "random:stereo-tiny" in lines[2]
            assert all(" ray " in line and "cpu" in line for line in lines[1:])
            assert lines[0].split()[-1] == "threads" and all(line.split()[-1] == "1" for line in lines[1:])

            # the stereo model's only actor is lost: its take is saved as far as it came, model_error; tiny plays on
            lost = {}

            async def kill(id):
                lost["pid"] = server.pool.workers["random:stereo-tiny"].find(id, finished=False).actor.where["pid"]
                os.kill(lost["pid"], signal.SIGKILL)

            failed, other = await asyncio.gather(
                _take(c, 4, 4.0, kill_at=40, on_kill=kill, model="stereo-tiny"), _take(c, 5, 1.0),
                return_exceptions=True)
            assert isinstance(failed, ServerError) and failed.event["code"] == "model_error"
            assert failed.event["id"] == "g4"
            assert other[-1]["type"] == "done" and sf.info(other[-1]["path"]).frames == 32000
            stereo_w = server.pool.workers["random:stereo-tiny"]
            for _ in range(200):
                job = stereo_w.find("g4")
                if job is not None and job.path:
                    break
                await asyncio.sleep(0.05)
            saved, _ = sf.read(job.path, dtype="float32", always_2d=True)
            assert saved.shape[1] == 2 and (40 - 4) * 640 <= saved.shape[0] < 4 * 32000  # what had come (the codec
            # lags its frames by its look-ahead), not the rest
            assert saved.shape[0] == job.made and np.abs(saved).max() > 0  # all that reached the gateway
            import json

            meta = json.loads(open(job.path[:-4] + ".json").read())
            assert meta["stopped_early"] and meta["seed"] == 4 and meta["frames"] >= 40 and meta["dtype"] == "float32"
            assert list(meta["kernels"]) == ["float32"] and meta["kernels"]["float32"] in ("packed", "onednn")

    serve(scenario, ray="local", extra_models=("random:stereo-tiny",))
