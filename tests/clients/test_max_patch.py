"""The Max / Max for Live patch: valid patcher JSON, consistent wiring, and only OSC addresses the server knows."""
from __future__ import annotations

import json
from importlib.resources import files

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
    assert any(t.startswith("buffer~ loopgen-loop") for t in texts) and any(t.startswith("groove~") for t in texts)
    assert any(t == "plugout~" for t in texts)  # loadable as a Max for Live audio effect
    assert {"live.dial", "live.numbox", "textedit"} <= {b["maxclass"] for b in boxes.values()}


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
