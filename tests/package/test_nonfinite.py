"""NaN and infinities for every float parameter, on every entry path (the API, the CLI, a take's sidecar, WebSocket,
OSC, the MIDI map): each is refused with a clear error where it enters, and nothing starts."""
from __future__ import annotations

import json
import math

import msgpack
import pytest

from loopgen.errors import LoopgenError
from loopgen.protocol import messages as M
from loopgen.protocol import osc as O
from loopgen.protocol import ws as W
from loopgen.server.midi import MidiMap
from loopgen.streaming import Session, make_loop, open_stream
from loopgen.streaming.record import TakeRecord

BAD = [math.nan, math.inf, -math.inf]
SAMPLING = ["temperature", "top_p", "cfg_coef", "top_k"]
LENGTHS = ["seconds", "bars", "bpm"]


@pytest.mark.parametrize("bad", BAD)
def test_the_api_refuses(tiny, bad):
    for name in SAMPLING:
        with pytest.raises(LoopgenError, match=name):
            tiny.generate(["x"], seconds=0.1, **{name: bad})
        with pytest.raises(LoopgenError, match=name):
            open_stream(tiny, "x", {name: bad}, seconds=0.1)
        s = Session(tiny, "x", seconds=0.1)
        with pytest.raises(LoopgenError, match=name):
            s.set_params(**{name: bad})
    with pytest.raises(LoopgenError):
        tiny.generate(["x"], seconds=bad)
    with pytest.raises(LoopgenError):
        Session(tiny, [[("x", bad)]])  # a prompt's weight
    with pytest.raises(LoopgenError):
        make_loop(tiny, "x", bpm=bad, bars=1)


@pytest.mark.parametrize("bad", BAD)
def test_the_magnet_api_refuses(bad):
    from loopgen import load_model

    m = load_model("random:magnet-tiny")
    for name in ("temperature", "top_p", "max_cfg_coef", "min_cfg_coef"):
        with pytest.raises(LoopgenError, match=name):
            m.generate(["x"], seconds=0.1, **{name: bad})


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_the_cli_refuses_before_any_work(tmp_path, capsys, bad):
    from loopgen.cli import main

    base = ["render", "x", "-o", str(tmp_path / "o.wav"), "--model", "random:tiny"]
    for flag in ("--temperature", "--top-p", "--cfg", "--min-cfg", "--seconds", "--loudness"):
        with pytest.raises(SystemExit) as e:
            main(base + [flag, bad])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert flag in err and "Traceback" not in err and "loading" not in err, err
    for args in (["serve", "--link-bpm", bad], ["send", "generate", "x", "--bars", bad, "--bpm", "120"]):
        with pytest.raises(SystemExit):
            main(args)
        assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("bad", BAD)
def test_a_sidecar_with_them_is_refused(bad):
    good = {"model": "random:tiny", "prompts": [["x", 1.0]], "parameters": {"temperature": 1.0}, "seed": 1,
            "length_samples": 3200, "frames": 5}
    assert TakeRecord.from_json(json.dumps(good)).seed == 1
    for change in ({"parameters": {"temperature": bad}}, {"prompts": [["x", bad]]}):
        with pytest.raises(LoopgenError, match="cannot make a take"):
            TakeRecord.from_json(json.dumps({**good, **change}))  # json writes NaN and Infinity; Python reads them


@pytest.mark.parametrize("bad", BAD)
def test_websocket_messages_with_them_are_refused(bad):
    base = {"type": "generate", "id": "a", "prompt": "x"}
    fields = [{k: bad} for k in SAMPLING + LENGTHS + ["loudness"]] + [{"bars": 1, "bpm": bad}]
    fields += [{"prompts": [["x", bad]]}, {"seconds": None, "bars": bad, "bpm": 120}]
    for f in fields:
        with pytest.raises(M.ProtocolError) as e:
            W.decode_command(msgpack.packb({**base, **f}))
        assert e.value.code in ("out_of_range", "bad_field"), f
    with pytest.raises(M.ProtocolError):
        W.decode_command(msgpack.packb({"type": "set", "id": "a", "temperature": bad}))


@pytest.mark.parametrize("bad", BAD)
def test_osc_messages_with_them_are_refused(bad):
    for address in [f"/loopgen/set/{k}" for k in ("temperature", "top_p", "cfg", "top_k", "bpm", "bars", "seconds")]:
        with pytest.raises(M.ProtocolError):
            O.OscPeer("t").receive(address, [bad])
    with pytest.raises(M.ProtocolError):
        O.OscPeer("t").receive("/loopgen/generate", ["x", bad, 120.0])
    with pytest.raises(M.ProtocolError):
        O.OscPeer("t").receive("/loopgen/prompt", ["x", bad])


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_a_midi_map_with_them_is_refused(tmp_path, bad):
    for text in (f"[defaults]\nbpm = {bad}\n", f"[defaults]\nbars = {bad}\n",
                 f"[cc.temperature]\ncc = 21\nmin = {bad}\nmax = 1.0\n", f"[cc.volume]\ncc = 7\nmin = 0\nmax = {bad}\n"):
        f = tmp_path / "map.toml"
        f.write_text(text)
        with pytest.raises(LoopgenError, match="map.toml"):
            MidiMap.load(f)
