"""loopgen's Max for Live device against Max's own file format, learnt from devices and patchers Max saved
(tests/clients/fixtures/max_parameters.json: fragments of public .amxd/.maxpat files, with their source).

Issue 27: our live.dial/live.numbox carried `parameter_range`/`parameter_initial` as top-level box keys, which no
Max file does; in Live the dials would have come up 0-127 at 0 and nothing was automatable by name. Our simulator
read whatever our generator wrote, so only a check against real files could catch it: every key our Live
parameters use must be one Max writes, where Max puts it, with Max's JSON type."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopgen.clients.max.amxd import unpack
from loopgen.clients.max.maxpat import DEVICE, build

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "max_parameters.json").read_text())
REAL = [f["box"] for f in FIXTURE["fragments"]]
SEEN = FIXTURE["live_objects_seen"]


def _type(v) -> str:
    return "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__


def real_shape() -> tuple[dict[str, set], dict[str, set], dict[str, set]]:
    """From the real fragments: per class, the box keys Max writes; per valueof key, the JSON types it has; per
    class, the parameter_type codes it uses."""
    box_keys: dict[str, set] = {}
    value_types: dict[str, set] = {}
    codes: dict[str, set] = {}
    for b in REAL:
        box_keys.setdefault(b["maxclass"], set()).update(b)
        for k, v in b["saved_attribute_attributes"]["valueof"].items():
            value_types.setdefault(k, set()).add(_type(v))
        codes.setdefault(b["maxclass"], set()).add(b["saved_attribute_attributes"]["valueof"]["parameter_type"])
    return box_keys, value_types, codes


def validate(patcher: dict) -> list[str]:
    """What in a patcher's Live parameters differs from the real files (empty: nothing)."""
    box_keys, value_types, codes = real_shape()
    common = set.intersection(*box_keys.values())  # what every real parameter box has
    problems = []
    p = patcher["patcher"]
    ours = [b["box"] for b in p["boxes"] if b["box"]["maxclass"].startswith("live.")]
    for b in ours:
        c, id = b["maxclass"], b["id"]
        if c not in SEEN["ui"]:
            problems.append(f"{id}: {c} is not a live.* object Max files use")
            continue
        if c not in box_keys:
            continue  # a live.* UI object of no parameter shape we hold a real example of (live.comment, ...)
        general = {"id", "maxclass", "numinlets", "numoutlets", "patching_rect", "presentation", "presentation_rect"}
        for k in set(b) - box_keys[c] - general:
            problems.append(f"{id}: box key {k!r} is not one Max writes on a {c}")
        for k in common - set(b):
            problems.append(f"{id}: no {k!r} (every real Live parameter box has it)")
        if b.get("parameter_enable") != 1:
            problems.append(f"{id}: parameter_enable is not 1")
        v = b.get("saved_attribute_attributes", {}).get("valueof", {})
        for k, x in v.items():
            if k not in value_types:
                problems.append(f"{id}: valueof key {k!r} is not one Max writes")
            elif _type(x) not in value_types[k]:
                problems.append(f"{id}: {k} is a {_type(x)}, Max writes a {'/'.join(value_types[k])}")
        for k in ("parameter_longname", "parameter_shortname", "parameter_type", "parameter_mmin", "parameter_mmax",
                  "parameter_initial", "parameter_initial_enable"):
            if k not in v:
                problems.append(f"{id}: valueof has no {k}")
        if v.get("parameter_type") not in set().union(*codes.values()):
            problems.append(f"{id}: parameter_type {v.get('parameter_type')!r} is not a code the real files use")
        lo, hi, init = v.get("parameter_mmin"), v.get("parameter_mmax"), v.get("parameter_initial") or [None]
        if all(_type(x) == "number" for x in (lo, hi, init[0])):
            if not lo <= init[0] <= hi:
                problems.append(f"{id}: initial {v['parameter_initial']} outside "
                                f"{v['parameter_mmin']}-{v['parameter_mmax']}")
        if p.get("parameters", {}).get(id) != [v.get("parameter_longname"), v.get("parameter_shortname"), 0]:
            problems.append(f"{id}: not in the patcher's parameters index as Max writes it")
        if b.get("presentation") and not (isinstance(b.get("presentation_rect"), list)
                                          and len(b["presentation_rect"]) == 4):
            problems.append(f"{id}: presentation_rect is not [x, y, w, h]")
    for b in (b["box"] for b in p["boxes"]):
        if b["maxclass"] == "newobj" and b.get("text", "").startswith("live."):
            name = b["text"].split()[0]
            if name not in SEEN["newobj"]:
                problems.append(f"{b['id']}: {name} is not a live.* object Max files use")
    longnames = [v[0] for k, v in p.get("parameters", {}).items()]
    if len(longnames) != len(set(longnames)):
        problems.append("two parameters share a long name (Live tells them apart by it)")
    return problems


def test_the_real_fragments_agree_with_each_other():
    """The rule is what the real files share: parameter_enable and valueof on every one, names as strings, ranges
    as numbers, the initial value a list, types as small integers."""
    box_keys, value_types, codes = real_shape()
    assert {"parameter_enable", "saved_attribute_attributes", "varname", "outlettype"} <= set.intersection(
        *box_keys.values())
    assert value_types["parameter_longname"] == {"str"} and value_types["parameter_initial"] == {"list"}
    assert value_types["parameter_mmin"] == {"number"} and value_types["parameter_type"] == {"number"}
    assert "parameter_range" not in value_types and not any("parameter_range" in k for k in box_keys.values())
    assert codes["live.dial"] == {1} and codes["live.numbox"] == {0} and 2 in codes["live.text"]
    assert all(f["repo"] and f["path"] for f in FIXTURE["fragments"])  # each fragment says where it is from


def test_our_device_is_in_maxs_format():
    assert validate(build()) == []
    assert validate(unpack(DEVICE.read_bytes())[2]) == []  # the shipped .amxd, as Live reads it


@pytest.mark.parametrize("mutate,expect", [
    (lambda b: (b.pop("saved_attribute_attributes"), b.update(parameter_range=[0.1, 2.0], parameter_initial=[1.0])),
     "box key 'parameter_range' is not one Max writes"),
    (lambda b: b.pop("parameter_enable"), "no 'parameter_enable'"),
    (lambda b: b["saved_attribute_attributes"]["valueof"].update(parameter_mmin="0.1"), "parameter_mmin is a str"),
    (lambda b: b["saved_attribute_attributes"]["valueof"].update(parameter_type=7), "parameter_type 7"),
    (lambda b: b["saved_attribute_attributes"]["valueof"].update(parameter_initial=[50.0]), "initial [50.0] outside"),
    (lambda b: b.update(maxclass="live.knob"), "live.knob is not a live.* object"),
])
def test_the_validator_catches_what_no_max_file_does(mutate, expect):
    """The old device's way (top-level parameter_range) and other departures from Max's format are each caught."""
    patcher = build()
    dial = next(b["box"] for b in patcher["patcher"]["boxes"] if b["box"]["id"] == "temp")
    mutate(dial)
    problems = validate(patcher)
    assert any(expect in p for p in problems), problems
