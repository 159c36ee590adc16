"""The WebSocket protocol without sockets: every command, every event, every error path."""
from __future__ import annotations

import msgpack
import numpy as np
import pytest

from loopgen.protocol import messages as M
from loopgen.protocol import ws as W
from loopgen.protocol.messages import ProtocolError


def cmd(**d):
    return W.decode_command(msgpack.packb(d, use_bin_type=True))


def err(data, code):
    with pytest.raises(ProtocolError) as e:
        W.decode_command(data if isinstance(data, (bytes, str)) else msgpack.packb(data, use_bin_type=True))
    assert e.value.code == code, e.value.message
    return e.value


def test_hello_and_ping():
    assert cmd(type="hello", protocol=1, client="max", token="t", codes=True) == M.Hello(1, "max", "t", True)
    assert cmd(type="hello", protocol=1.0) == M.Hello(1)  # Pd sends floats
    assert cmd(type="ping", data=7) == M.Ping(7)
    err({"type": "hello"}, "bad_field")


def test_generate_defaults_and_fields():
    g = cmd(type="generate", id="a", prompt="  lo-fi  ")
    assert g.id == "a" and g.params.prompts == (("lo-fi", 1.0),) and g.params.seconds == 8.0 and not g.params.loop
    g = cmd(type="generate", id=3, prompts=[["a", 1], ["b", 0.5]], bars=4.0, bpm=120, beats_per_bar=3.0,
            temperature=0.8, top_k=50.0, top_p=0.9, cfg_coef=2, seed=7.0)
    p = g.params
    assert p.prompts == (("a", 1.0), ("b", 0.5)) and p.bars == 4 and p.bpm == 120 and p.beats_per_bar == 3
    assert p.loop and p.seconds is None and p.total_seconds() == 6.0
    assert p.sampling == {"temperature": 0.8, "top_k": 50, "top_p": 0.9, "cfg_coef": 2.0} and p.seed == 7
    assert g.params.sampling["top_k"] == 50 and isinstance(g.params.sampling["top_k"], int)
    assert cmd(type="generate", id="a", prompt="p").params.sampling == {}  # nothing given: the family's defaults
    assert cmd(type="generate", id="x", prompt="p", bars=1, bpm=60, loop=False).params.loop is False


@pytest.mark.parametrize(
    "fields,code",
    [
        ({}, "bad_field"),  # no id
        ({"id": True, "prompt": "x"}, "bad_field"),
        ({"id": [1], "prompt": "x"}, "bad_field"),
        ({"id": "a"}, "bad_field"),  # no prompt
        ({"id": "a", "prompt": 5}, "bad_field"),
        ({"id": "a", "prompt": "   "}, "out_of_range"),
        ({"id": "a", "prompt": "x" * 3000}, "out_of_range"),
        ({"id": "a", "prompts": "x"}, "bad_field"),
        ({"id": "a", "prompts": [["x"]]}, "bad_field"),
        ({"id": "a", "prompts": [["x", "heavy"]]}, "bad_field"),
        ({"id": "a", "prompts": [["x", 0]]}, "out_of_range"),
        ({"id": "a", "prompts": [["x", 1]] * 9}, "bad_field"),
        ({"id": "a", "prompt": "x", "seconds": 0}, "out_of_range"),
        ({"id": "a", "prompt": "x", "seconds": "8"}, "bad_field"),
        ({"id": "a", "prompt": "x", "seconds": float("nan")}, "out_of_range"),
        ({"id": "a", "prompt": "x", "bars": 4}, "bad_field"),  # bpm missing
        ({"id": "a", "prompt": "x", "bars": 4, "bpm": 1000}, "out_of_range"),
        ({"id": "a", "prompt": "x", "temperature": -1}, "out_of_range"),
        ({"id": "a", "prompt": "x", "top_k": 2.5}, "bad_field"),
        ({"id": "a", "prompt": "x", "top_p": 2}, "out_of_range"),
        ({"id": "a", "prompt": "x", "cfg_coef": True}, "bad_field"),
        ({"id": "a", "prompt": "x", "seed": -1}, "out_of_range"),
        ({"id": "a", "prompt": "x", "loop": "yes"}, "bad_field"),
        ({"id": "a", "prompt": "x", "seconds": 700}, "out_of_range"),
    ],
)
def test_generate_errors(fields, code):
    e = err({"type": "generate", **fields}, code)
    assert e.message


def test_error_carries_the_id():
    assert err({"type": "generate", "id": "mine", "prompt": "x", "top_p": 5}, "out_of_range").id == "mine"
    assert err({"type": "dance", "id": 9}, "unknown_type").id == 9


def test_malformed_input():
    err(b"\xc1\xc1\xc1", "bad_message")
    err(msgpack.packb([1, 2]), "bad_message")
    err(msgpack.packb("hello"), "bad_message")
    err("a text frame", "bad_message")
    err({"type": "dance"}, "unknown_type")
    err({"no": "type"}, "unknown_type")
    with pytest.raises(ProtocolError) as e:
        W.decode_command(b"\x80" + b"x" * 100, max_bytes=50)
    assert e.value.code == "too_large"


def test_continue_audio_formats():
    x = (np.sin(np.arange(400) / 5) * 0.5).astype(np.float32)
    stereo = np.stack([x, -x])  # [2, N]
    c = cmd(type="continue", id="c", prompt="go", audio=stereo.T.astype("<f4").tobytes(), sample_rate=44100, channels=2)
    assert isinstance(c, M.Continue) and c.sample_rate == 44100 and np.allclose(c.audio, stereo)
    s16 = (stereo.T * 32767).astype("<i2").tobytes()
    c = cmd(type="continue", id="c", prompt="go", audio=s16, sample_rate=22050.0, channels=2, format="s16le")
    assert np.allclose(c.audio, stereo, atol=1e-3)


@pytest.mark.parametrize(
    "fields,code",
    [
        ({"audio": b"\x00" * 7, "sample_rate": 32000}, "bad_audio"),  # not whole float32 samples
        ({"audio": b"\x00" * 12, "sample_rate": 32000, "channels": 2}, "bad_audio"),
        ({"audio": b"", "sample_rate": 32000}, "bad_audio"),
        ({"audio": "text", "sample_rate": 32000}, "bad_audio"),
        ({"audio": np.full(4, np.nan, "<f4").tobytes(), "sample_rate": 32000}, "bad_audio"),
        ({"audio": np.full(4, 1e6, "<f4").tobytes(), "sample_rate": 32000}, "bad_audio"),  # s16 sent as f32?
        ({"audio": b"\x00" * 8}, "bad_field"),  # no sample rate
        ({"audio": b"\x00" * 8, "sample_rate": 32000, "format": "mp3"}, "bad_field"),
        ({"audio": b"\x00" * 8, "sample_rate": 10}, "out_of_range"),
    ],
)
def test_continue_errors(fields, code):
    err({"type": "continue", "id": "c", "prompt": "p", **fields}, code)


def test_extend_set_stop_play():
    assert cmd(type="extend", id="e", of="a", bars=2) == M.Extend("e", "a", 2.0, None)
    assert cmd(type="extend", id="e", of=1, seconds=4) == M.Extend("e", 1, None, 4.0)
    err({"type": "extend", "id": "e", "of": "a"}, "bad_field")
    err({"type": "extend", "id": "e", "of": "a", "bars": 1, "seconds": 1}, "bad_field")
    err({"type": "extend", "id": "e", "bars": 1}, "bad_field")
    s = cmd(type="set", id="a", temperature=0.5, prompts=[["x", 1], ["y", 1]])
    assert s.changes == {"temperature": 0.5} and s.prompts == (("x", 1.0), ("y", 1.0))
    err({"type": "set", "id": "a"}, "bad_field")
    err({"type": "set", "id": "a", "top_k": -3}, "out_of_range")
    assert cmd(type="stop", id="a") == M.Stop("a")
    assert cmd(type="stop") == M.Stop(None)  # the latest generation anyone started
    err({"type": "stop", "id": True}, "bad_field")
    assert cmd(type="play") == M.Play(None)


def test_events_round_trip():
    events = [
        M.Welcome(1, "m", 32000, 1, 50, 4, 123),
        M.Started("a", 8.0, (("x", 1.0),)),
        M.Audio("a", 0, 640, b"\x00\x00\x80\x3f", 1),
        M.Frames("a", 3, [1, 2, 3, 4]),
        M.Progress("a", 10, 20, 1.5, 2),
        M.Done("a", 20, 0.4, "/tmp/x.wav"),
        M.Error("bad_field", "nope", "a"),
        M.Error("bad_message", "nope"),
        M.Pong(None),
    ]
    for ev in events:
        d = W.decode_event(W.encode_event(ev))
        assert d["type"] == W.EVENT_TYPES[type(ev)]
        for k, v in vars(ev).items():
            if v is None:
                continue
            assert d[k] == (list(map(list, v)) if k == "prompts" else list(v) if isinstance(v, tuple) else v)
    assert "id" not in W.decode_event(W.encode_event(M.Error("x", "y")))
