"""`loopgen serve --model <a melody model>`: a melody over WebSocket (PCM bytes, a file's bytes, a path) and OSC (a
path), changed live, kept in the take's sidecar (pitch classes and how the chroma was made), and `render --from`
makes the take again bit for bit. A model without melody answers a clear error and goes on."""
from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from loopgen.cli import main as cli_main
from loopgen.clients import connect
from loopgen.clients.client import ServerError

from .test_osc_server import Peer
from .test_ws_server import collect, url

MODEL = "random:melody-tiny"
SR = 44100


def riff(midi=(60, 64, 67, 72), seconds=0.4) -> np.ndarray:
    f = np.repeat(440.0 * 2.0 ** ((np.asarray(midi) - 69) / 12), int(seconds * SR))
    return (0.5 * np.sin(2 * np.pi * np.cumsum(f) / SR)).astype(np.float32)


def sidecar(path: str) -> dict:
    return json.loads(Path(path).with_suffix(".json").read_text())


def test_melody_as_pcm_file_bytes_and_path_and_render_from(serve, tmp_path):
    wav = tmp_path / "riff.wav"
    sf.write(wav, riff(), SR, subtype="FLOAT")
    buf = io.BytesIO()
    sf.write(buf, riff(), SR, format="FLAC")

    async def scenario(server):
        async with connect(url(server)) as c:
            ways = {
                "pcm": dict(melody=riff().tobytes(), melody_sample_rate=SR),
                "file": dict(melody=buf.getvalue(), melody_format="file"),
                "path": dict(melody=str(wav)),
            }
            metas = {}
            for name, fields in ways.items():
                events, pcm = await collect(c.generate("a lead", id=name, seconds=0.6, seed=5, **fields))
                assert events[-1]["type"] == "done", events[-1]
                metas[name] = (sidecar(events[-1]["path"]), events[-1]["path"], pcm)
            events, plain = await collect(c.generate("a lead", id="none", seconds=0.6, seed=5))
        return metas, plain, sidecar(events[-1]["path"])

    metas, plain, plain_meta = serve(scenario, model=MODEL, read_dirs=(tmp_path,))
    want = server_chroma(riff())
    for name, (meta, _, pcm) in metas.items():
        assert meta["melody"]["pitch_classes"] == want, name  # FLAC is lossless: all three say the same
        assert meta["melody"]["chroma_from"] == "raw audio"
        assert np.array_equal(pcm, metas["pcm"][2])
    assert plain_meta["melody"] is None and not np.array_equal(plain, metas["pcm"][2])  # the melody was heard
    meta, path, _ = metas["path"]
    again = tmp_path / "again.wav"
    assert cli_main(["render", "--from", str(Path(path).with_suffix(".json")), "-o", str(again)]) == 0
    assert np.array_equal(sf.read(again, dtype="float32")[0], sf.read(path, dtype="float32")[0])
    assert again.read_bytes() == Path(path).read_bytes()  # the same take is the same file, byte for byte


def server_chroma(audio: np.ndarray) -> list[int]:
    from loopgen import load_model
    from loopgen.models.chroma import pitch_classes

    return pitch_classes(load_model(MODEL).melody_chroma(audio, SR)[0])


def test_live_melody_change_is_recorded_and_replays(serve, tmp_path):
    async def scenario(server):
        async with connect(url(server)) as c:
            it = c.generate("pads", id="p", seconds=1.5, seed=2, melody=riff().tobytes(), melody_sample_rate=SR)
            changed = False
            events = []
            async for ev in it:
                events.append(ev)
                if ev["type"] == "audio" and not changed:
                    await c.set("p", melody=riff((57, 53, 50)).tobytes(), melody_sample_rate=SR)
                    await c.set("p", melody=False)  # and then none
                    changed = True
            return events[-1]

    done = serve(scenario, model=MODEL)
    meta = sidecar(done["path"])
    kinds = [c for c in meta["changes"] if "melody" in c]
    assert len(kinds) == 2 and kinds[0]["melody"] == server_chroma(riff((57, 53, 50))) and kinds[1]["melody"] is None
    again = tmp_path / "again.wav"
    assert cli_main(["render", "--from", str(Path(done["path"]).with_suffix(".json")), "-o", str(again)]) == 0
    assert np.array_equal(sf.read(again, dtype="float32")[0], sf.read(done["path"], dtype="float32")[0])


def test_osc_melody_path(serve, tmp_path):
    wav = tmp_path / "my riff.wav"
    sf.write(wav, riff(), SR)

    async def scenario(server):
        p = Peer(server.osc_port)
        p.send("/loopgen/melody", str(wav))
        p.send("/loopgen/set/seconds", 0.5)
        p.send("/loopgen/generate", "a", "lead")
        path, _ = await p.expect("/loopgen/done")
        p.send("/loopgen/melody", str(tmp_path / "missing.wav"))
        err = (await p.expect("/loopgen/error"))[0]
        p.send("/loopgen/melody")  # none from now on
        p.send("/loopgen/generate", "a", "lead")
        path2, _ = await p.expect("/loopgen/done")
        return path, err, path2

    path, err, path2 = serve(scenario, model=MODEL, read_dirs=(tmp_path,))
    assert sidecar(path)["melody"]["pitch_classes"] == server_chroma(sf.read(wav, dtype="float32")[0])
    assert "cannot read" in err
    assert sidecar(path2)["melody"] is None


def test_bad_melodies_answer_errors_and_the_daemon_goes_on(serve):
    async def scenario(server):
        async with connect(url(server)) as c:
            bad = [
                dict(melody=b"\x00\x01\x02", melody_format="file"),  # not an audio file
                dict(melody=riff().tobytes()),  # PCM without a rate
                dict(melody=12),  # neither bytes nor a path
                dict(melody=np.full(8, np.nan, "<f4").tobytes(), melody_sample_rate=SR),
            ]
            errors = []
            for i, fields in enumerate(bad):
                with pytest.raises(ServerError) as e:
                    await collect(c.generate("x", id=f"b{i}", seconds=0.3, **fields))
                errors.append(e.value.event)
            events, _ = await collect(c.generate("x", id="ok", seconds=0.3))
            return errors, events[-1]["type"]

    errors, last = serve(scenario, model=MODEL)
    assert [e["type"] for e in errors] == ["error"] * 4
    assert [e["code"] for e in errors] == ["bad_audio", "bad_field", "bad_field", "bad_audio"]
    assert last == "done"


def test_a_model_without_melody_says_so(serve):
    async def scenario(server):
        async with connect(url(server)) as c:
            with pytest.raises(ServerError) as e:
                await collect(c.generate("x", seconds=0.3, melody=riff().tobytes(), melody_sample_rate=SR))
            ok, _ = await collect(c.generate("x", seconds=0.3))
            return e.value.event, ok[-1]["type"]

    err, ok = serve(scenario)  # random:tiny
    assert err["type"] == "error" and "takes no melody" in err["message"] and "musicgen-melody" in err["message"]
    assert ok == "done"
