"""The command router (sans-I/O) and what it means at the speakers: a refused request never replaces what plays."""
from __future__ import annotations

import asyncio
import io

import numpy as np
import soundfile as sf

from loopgen.clients import connect
from loopgen.protocol import messages as M
from loopgen.server.router import Read, Replay, Reply, Submit, route, with_audio


def _params(**kw) -> M.GenerateParams:
    return M.generate_params({"prompt": "x", **kw}, "t")


def test_every_start_is_played_once_started_and_the_rest_is_not():
    g = M.Generate("a", _params())
    assert route(g) == [Submit(g, play=True)]
    e = M.Extend("b", "a", 2.0, None)
    assert route(e) == [Submit(e, play=True)]
    for cmd in (M.Stop("a"), M.Set("a", {"temperature": 0.5})):
        assert route(cmd) == [Submit(cmd, play=False)]
    assert route(M.Play("a")) == [Replay("a")]
    assert route(M.Ping(3)) == [Reply(M.Pong(3))]
    assert route(None) == [] and route(M.Hello(1)) == []


def test_a_named_file_is_read_first_then_routed_with_its_audio():
    audio = np.zeros((1, 100), np.float32)
    c = M.ContinueFile("c", _params(), "/tmp/riff.wav")
    (read,) = route(c)
    assert read == Read(c, "/tmp/riff.wav")
    (sub,) = route(with_audio(c, audio, 44100))
    assert isinstance(sub.cmd, M.Continue) and sub.play and sub.cmd.sample_rate == 44100
    # a melody path and a file to continue: both read, one after the other
    both = M.ContinueFile("c", _params(melody="/tmp/tune.wav"), "/tmp/riff.wav")
    assert route(both) == [Read(both, "/tmp/tune.wav", melody=True)]
    (again,) = route(with_audio(both, audio, 48000))
    assert again == Read(again.cmd, "/tmp/riff.wav") and again.cmd.params.melody.sample_rate == 48000
    # a melody file sent as bytes is read off the event loop too (only its header was checked while parsing)
    wav = io.BytesIO()
    sf.write(wav, np.zeros(800, np.float32), 8000, format="WAV")
    g = M.Generate("f", _params(melody=wav.getvalue(), melody_format="file"))
    assert g.params.melody.audio is None and route(g) == [Read(g, wav.getvalue(), melody=True)]
    (sub,) = route(with_audio(g, audio, 8000))
    assert sub == Submit(sub.cmd, play=True) and sub.cmd.params.melody == M.Melody(audio, 8000)
    s = M.Set("a", {}, None, M.Melody(path="/tmp/tune.wav"))
    (sub,) = route(with_audio(s, audio, 22050))
    assert sub == Submit(sub.cmd, play=False) and sub.cmd.melody.audio is audio


def test_a_refused_request_does_not_silence_the_playing_take(serve):
    """A take plays on the speakers; the same client's next generate is refused by the worker (a melody for a model
    without melody conditioning; a duplicate id): the speakers keep playing the first take, the refused one never
    starts, and the first is still heard afterwards."""

    async def scenario(server):
        player = server.player
        async with connect(f"ws://127.0.0.1:{server.ws_port}") as c:
            await c.send("generate", id="a", prompt="drone", seconds=6.0, seed=1)
            while (ev := await c.next_event())["type"] != "playing":  # its pre-roll is in: on the speakers
                pass
            source = player.current  # the playing take's source: the same object to the end
            assert source.id[1] == "a"
            melody = np.zeros(3200, "<f4").tobytes()
            refusals = [dict(id="b", prompt="tune", seconds=2.0, melody=melody, melody_sample_rate=16000),
                        dict(id="a", prompt="again", seconds=2.0)]  # no melody on random:tiny; a running id
            for fields in refusals:
                await c.send("generate", **fields)
                while (ev := await c.next_event())["type"] != "error":
                    assert ev["type"] != "started", ev
                assert ev["id"] == fields["id"]
                await asyncio.sleep(0.3)  # several feeder blocks: a launch would have switched by now
                assert player.current is source and player.mixer.pending is None
                assert [i[1] for i in player.starts] == ["a"]  # every source that began playing
            await c.stop("a")

    serve(scenario)
