"""The Max / Max for Live patch: valid patcher JSON, consistent wiring, and only OSC addresses the server knows."""
from __future__ import annotations

import json
from importlib.resources import files

import pytest

from loopgen.clients.max import maxpat
from loopgen.protocol.osc import ADDRESSES, REPLIES

SHIPPED = files("loopgen.clients").joinpath("max", "loopgen.maxpat")


def test_shipped_patch_is_what_the_builder_makes():
    assert SHIPPED.read_text() == maxpat.render()


def test_patch_structure():
    p = json.loads(SHIPPED.read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in p["boxes"]}
    assert len(boxes) == len(p["boxes"])  # unique ids
    for ln in p["lines"]:
        (a, outlet), (b, inlet) = ln["patchline"]["source"], ln["patchline"]["destination"]
        assert a in boxes and b in boxes
        assert 0 <= outlet < boxes[a]["numoutlets"], ln
        assert 0 <= inlet < boxes[b]["numinlets"], ln
    texts = [b.get("text", "") for b in boxes.values()]
    # network input is deferred, as Max for Live wants
    recv = next(i for i, b in boxes.items() if b.get("text", "").startswith("udpreceive"))
    assert any(ln["patchline"]["source"][0] == recv and boxes[ln["patchline"]["destination"][0]]["text"] == "deferlow"
               for ln in p["lines"])
    assert any(t.startswith("udpsend 127.0.0.1 9000") for t in texts)
    assert any(t.startswith("wave~ ---loopgen-a") for t in texts) and any(t.startswith("wave~ ---loopgen-b") for t in texts)
    assert any(t == "plugout~" for t in texts)  # loadable as a Max for Live audio effect
    assert {"live.dial", "live.numbox", "textedit"} <= {b["maxclass"] for b in boxes.values()}


def test_presentation_view_has_what_a_musician_needs():
    """The device opens in presentation: prompt, bars, tempo, the four actions, take to clip, the dials, progress,
    the daemon's status and errors, the take's path, level; nothing in it overlaps, and it fits Live's device height."""
    p = maxpat.build()["patcher"]
    assert p["openinpresentation"] == 1
    shown = {b["box"]["id"]: b["box"] for b in p["boxes"] if b["box"].get("presentation")}
    assert {"prompt", "bars", "bpm", "gen-btn", "cont-btn", "ext-btn", "stop-btn", "clip-btn", "temp", "cfg", "topk",
            "progress", "status", "error-show", "take-path", "gain"} <= set(shown)
    rects = {i: b["presentation_rect"] for i, b in shown.items()}
    for i, (x, y, w, h) in rects.items():
        assert x >= 0 and y >= 0 and x + w <= p["devicewidth"] and y + h <= 169, i
    for i, (x, y, w, h) in rects.items():
        for j, (u, v, s, t) in rects.items():
            assert i == j or x + w <= u or u + s <= x or y + h <= v or v + t <= y, (i, j)


def test_every_osc_address_is_one_the_server_implements():
    p = json.loads(SHIPPED.read_text())["patcher"]
    sent, routed = set(), set()
    for b in (x["box"] for x in p["boxes"]):
        for word in b.get("text", "").split():
            if word.startswith("/loopgen/"):
                (routed if b.get("text", "").startswith("route") else sent).add(word)
    assert sent and sent <= set(ADDRESSES), sent - set(ADDRESSES)
    assert routed and routed <= set(REPLIES), routed - set(REPLIES)
    assert {"/loopgen/generate", "/loopgen/stop", "/loopgen/extend", "/loopgen/continue"} <= sent


def _reaches(p: dict, start: str, goal: str, first_outlet: int | None = None) -> bool:
    """Whether a patch cord path leads from box `start` (from `first_outlet`, or any) to box `goal`."""
    out: dict[str, list[tuple[int, str]]] = {}
    for ln in p["lines"]:
        (a, o), (b, _) = ln["patchline"]["source"], ln["patchline"]["destination"]
        out.setdefault(a, []).append((o, b))
    todo = [b for o, b in out.get(start, []) if first_outlet is None or o == first_outlet]
    seen = set()
    while todo:
        x = todo.pop()
        if x == goal:
            return True
        if x not in seen:
            seen.add(x)
            todo += [b for _, b in out.get(x, [])]
    return False


def test_device_is_the_patch_in_an_amxd_container():
    """loopgen.amxd: ampf / audio effect / meta / ptch; parsed back, its JSON is the patch."""
    from loopgen.clients.max import amxd

    data = files("loopgen.clients").joinpath("max", "loopgen.amxd").read_bytes()
    assert data == maxpat.device()
    assert data[:12] == b"ampf\x04\x00\x00\x00aaaa" and data[12:16] == b"meta"
    kind, meta, patcher = amxd.unpack(data)
    assert kind == "audio" and len(meta) == 4
    assert patcher == maxpat.build() == json.loads(SHIPPED.read_text())
    for bad in (b"", b"ampf\x04\x00\x00\x00aaaa", b"xxxx\x04\x00\x00\x00aaaa", data[:-40] + b"\xff" * 4):
        with pytest.raises(ValueError):
            amxd.unpack(bad)


def test_many_devices_in_one_set_keep_to_their_own():
    """Per-device buffer (`---` names) and reply port: the port drawn at load both retunes [udpreceive] and goes out
    in /loopgen/hello ---loopgen PORT; hello goes out again before every generate (right-to-left: first)."""
    p = maxpat.build()["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in p["boxes"]}
    text = {i: b.get("text", "") for i, b in boxes.items()}
    for x in "ab":
        assert text[f"buffer-{x}"].startswith("buffer~ ---") and text[f"wave-{x}"].startswith("wave~ ---")
        assert text[f"buffer-{x}"].split()[1] == text[f"wave-{x}"].split()[1]
    assert text["buffer-a"] != text["buffer-b"]
    assert text["hello"] == "prepend /loopgen/hello ---loopgen" and text["port-msg"] == "port $1"
    assert _reaches(p, "port-add", "recv") and _reaches(p, "port-add", "hello") and _reaches(p, "hello", "send")
    assert text["load"] == "loadbang" and _reaches(p, "load", "hello")
    assert _reaches(p, "gen-trig", "hello", first_outlet=1) and not _reaches(p, "gen-trig", "gen-msg", first_outlet=1)
    assert _reaches(p, "gen-trig", "gen-msg", first_outlet=0)
    assert "--osc-reply" not in text["title"]
