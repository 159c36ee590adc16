"""The Max simulator follows Max's documented semantics, so a patch that relies on the wrong ones fails here: types
of arithmetic objects by their argument, [expr] by its operands, [pack]/[unpack] by theirs, [deferlow] deferring."""
from __future__ import annotations

import pytest

from .maxsim import Device


def _device(objects: list[str], chain: list[int]) -> Device:
    """Boxes "o0".."oN" (newobj texts), wired in a chain o[chain[0]] -> o[chain[1]] -> ..., each ending in
    [prepend /out] -> [udpsend] so what comes out is recorded in `sent`."""
    texts = objects + ["prepend /out", "udpsend 127.0.0.1 9"]
    boxes = [{"box": {"id": f"o{i}", "maxclass": "newobj", "text": t}} for i, t in enumerate(texts)]
    out, send = len(objects), len(objects) + 1
    ids = chain + [out, send]
    lines = [{"patchline": {"source": [f"o{a}", 0], "destination": [f"o{b}", 0]}} for a, b in zip(ids, ids[1:])]
    return Device({"patcher": {"boxes": boxes, "lines": lines}}, instance=1, send_port=9)


@pytest.mark.parametrize("text,inputs,want", [
    ("+ 1", [2.7], 3), ("+ 1.", [2.7], 3.7), ("!- 1", [0.25], 1), ("!- 1.", [0.25], 0.75), ("* 1000.", [2], 2000.0),
    ("* 2", [1.9], 2), ("== 1", [1.5], 1), ("maximum 1.", [0.2], 1.0), ("maximum 1", [3.9], 3),
])
def test_arithmetic_is_typed_by_its_argument(text, inputs, want):
    d = _device([text], [0])
    for x in inputs:
        d.send("o0", 0, [x])
    (got,) = [m[1] for m in d.sent]
    assert got == want and type(got) is type(want)


def test_a_float_into_an_int_objects_right_inlet_is_truncated():
    d = _device(["+ 1"], [0])
    d.send("o0", 1, [2.9])
    d.send("o0", 0, [1])
    assert d.sent == [["/out", 3]]


@pytest.mark.parametrize("text,x,want", [
    ("expr $i1/2", 5.7, 2), ("expr $f1/2", 5, 2.5), ("expr 1/2*$f1", 4.0, 0.0), ("expr floor($f1)+1.", 2.5, 3.0),
    ("expr floor($f1*2/3)", 2.0, 1.0), ("expr $i1%3", 7.0, 1),
])
def test_expr_is_typed_by_its_operands(text, x, want):
    d = _device([text], [0])
    d.send("o0", 0, [x])
    (got,) = [m[1] for m in d.sent]
    assert got == want and type(got) is type(want)


def test_pack_and_unpack_convert_to_their_arguments_types():
    d = _device(["pack 0 0."], [0])
    d.send("o0", 1, [2.5])
    d.send("o0", 0, [1.9])
    assert d.sent == [["/out", 1, 2.5]]
    d = _device(["unpack 0 0."], [0])
    d.send("o0", 0, [1.9, 2])
    assert d.sent == [["/out", 1]]  # the left outlet (wired): 1.9 as an int


def test_deferlow_sends_after_the_event_that_brought_it():
    """[t b b]: its right outlet fires first; through [deferlow] it comes after the left one's message."""
    texts = ["t b b", "deferlow", "prepend /late", "prepend /early", "udpsend 127.0.0.1 9"]
    boxes = [{"box": {"id": f"o{i}", "maxclass": "newobj", "text": t}} for i, t in enumerate(texts)]
    wires = [(("o0", 1), "o1"), (("o1", 0), "o2"), (("o2", 0), "o4"), (("o0", 0), "o3"), (("o3", 0), "o4")]
    lines = [{"patchline": {"source": list(s), "destination": [d, 0]}} for s, d in wires]
    d = Device({"patcher": {"boxes": boxes, "lines": lines}}, instance=1, send_port=9)
    d.send("o0", 0, ["bang"])
    assert d.sent == [["/early", "bang"]]  # the deferred one has not gone yet
    d.run(5)
    assert d.sent == [["/early", "bang"], ["/late", "bang"]]
