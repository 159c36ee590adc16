"""Several models in one daemon (one worker each, no Ray): each request gets the model it names."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from loopgen.clients import connect
from loopgen.clients.client import ServerError
from loopgen.protocol import osc as O
from loopgen.server.pool import Pool, aliases

from .test_ws_server import collect, url


def test_aliases_and_ambiguity():
    assert aliases("facebook/musicgen-small") == ["facebook/musicgen-small", "musicgen-small", "small"]
    assert aliases("random:tiny") == ["random:tiny", "tiny"]
    pool = Pool()
    for name in ("facebook/musicgen-small", "random:small", "random:tiny"):
        pool.add(name, name)
    assert pool.resolve("tiny") == "random:tiny" and pool.resolve(None) == "facebook/musicgen-small"
    assert pool.resolve("musicgen-small") == "facebook/musicgen-small"
    try:
        pool.resolve("small", id=7)  # two models answer to it: neither does
    except Exception as e:
        assert e.code == "unknown_model" and "random:small" in e.message and e.id == 7
    else:
        raise AssertionError("an ambiguous alias resolved")


def test_two_models_each_request_gets_its_own(serve, tiny, stereo):
    async def scenario(server):
        async with connect(url(server), codes=True) as c:
            models = c.welcome["models"]
            assert [m["name"] for m in models] == ["random:tiny", "random:stereo-tiny"]
            assert models[1]["channels"] == 2 and models[1]["aliases"] == ["stereo-tiny"]
            assert c.welcome["model"] == "random:tiny"  # the default, as before
            # both at once: each streams its own model's audio and codes
            a, b = await asyncio.gather(
                collect(c.generate("mono", id="m", seconds=0.5, seed=1)),
                collect(c.generate("wide", id="s", seconds=0.5, seed=2, model="stereo-tiny")))
            for (events, pcm), m, prompt, seed in ((a, tiny, "mono", 1), (b, stereo, "wide", 2)):
                audio = [e for e in events if e["type"] == "audio"]
                frames = [e["codes"] for e in events if e["type"] == "frames"]
                assert {e["channels"] for e in audio} == {m.channels}
                assert len(frames[0]) == m.num_codebooks
                g = m.generate([prompt], seconds=0.5, seed=seed)
                assert np.array_equal(np.array(frames).T, g.codes[0].numpy())  # that model's codes, exactly
                saved, rate = sf.read(events[-1]["path"], dtype="float32", always_2d=True)
                assert rate == m.sample_rate and saved.shape[1] == m.channels
            # an extend goes to the model of the take it extends
            events, _ = await collect(c.stream("extend", id="s2", of="s", seconds=0.25))
            assert sf.info(events[-1]["path"]).channels == 2
            # a model it does not serve: a coded error naming the served ones; the daemon goes on
            try:
                await collect(c.generate("x", id="bad", seconds=0.5, model="facebook/musicgen-large"))
            except ServerError as e:
                assert e.event["code"] == "unknown_model" and "random:tiny, random:stereo-tiny" in str(e)
            else:
                raise AssertionError("an unserved model was accepted")
            events, _ = await collect(c.generate("still here", id="ok", seconds=0.25, model="tiny"))
            assert events[-1]["type"] == "done"
            # `workers`: one thread per model, in the daemon's own process
            long = asyncio.ensure_future(collect(c.generate("long", id="long", seconds=20, model="stereo-tiny")))
            while server.pool.workers["random:stereo-tiny"].find("long", finished=False) is None:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)
            workers = await c.workers()
            assert [(w["model"], w["kind"], w["pid"]) for w in workers] == [
                ("random:tiny", "thread", os.getpid()), ("random:stereo-tiny", "thread", os.getpid())]
            assert [w["sessions"] for w in workers] == [0, 1] and workers[1]["steps_per_s"] > 0
            assert [w["threads"] for w in workers] == [1, 1]  # each model thread's own count (the tests' one)
            await c.stop("long")
            await long

    serve(scenario, extra_models=("random:stereo-tiny",))


def test_osc_set_model():
    peer = O.OscPeer("p")
    assert peer.receive("/loopgen/set/model", ["stereo-tiny"]) is None
    cmd = peer.receive("/loopgen/generate", ["wide", 1.0, 120.0])
    assert cmd.params.model == "stereo-tiny"
    peer.receive("/loopgen/set/model", [])  # no argument: the default again
    assert peer.receive("/loopgen/generate", ["x"]).params.model is None


def test_serve_refuses_unserved_workers_and_bad_forms_before_any_model_loads(tmp_path, capsys):
    from loopgen.cli import main

    base = ["serve", "--model", "random:tiny", "--loops-dir", str(tmp_path), "--ws-port", "0", "--osc-port", "0",
            "--audio-device", "none"]
    assert main([*base, "--ray", "--workers", "melody=2"]) == 2  # not served: told before Ray or a model starts
    err = capsys.readouterr().err
    assert "--workers names melody" in err and "random:tiny" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main([*base, "--ray", "--workers", "tiny=zero"])
    assert "MODEL=N" in capsys.readouterr().err


def test_without_ray_nothing_imports_ray():
    """The local daemon (several models, the workers request) never imports Ray: a fresh process shows it."""
    code = ("import sys, asyncio\n"
            "from tests.server.test_models_served import _serve_two\n"
            "asyncio.run(_serve_two())\n"
            "assert 'ray' not in sys.modules, 'ray was imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]


async def _serve_two():
    import tempfile

    import torch

    from loopgen.server import Config, Server

    torch.set_num_threads(1)
    server = Server(Config(model="random:tiny", extra_models=("random:stereo-tiny",), ws_port=0, osc_port=0,
                           loops_dir=Path(tempfile.mkdtemp()), audio_device="none", measure_speed=False))
    await server.start()
    try:
        async with connect(url(server)) as c:
            assert len(await c.workers()) == 2
            events, _ = await collect(c.generate("x", seconds=0.2, model="stereo-tiny"))
            assert events[-1]["type"] == "done"
    finally:
        await server.stop()


def test_a_stop_goes_to_the_model_where_its_start_waits_for_room():
    from loopgen.protocol import messages as M

    class Fake:
        def __init__(self, waiting=()):
            self.waiting = set(waiting)

        def own(self, owner, id, finished=True):
            return None

        def find(self, id, owner=None, finished=True):
            return None

        def starting(self, owner, id):
            return (owner, id) in self.waiting

    pool = Pool()
    a, b = Fake(), Fake({("me", "q")})
    pool.add("random:tiny", a)
    pool.add("random:stereo-tiny", b)
    assert pool.route(M.Stop("q"), "me") is b and pool.route(M.Stop("other"), "me") is a
