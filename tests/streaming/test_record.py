"""A take's record: written and read back unchanged, sidecars of record 1 (before the version field) still load and
make the same take, a MAGNeT take of record 1 keeps the defaults it was made with, and a broken sidecar is one clear
error."""
from __future__ import annotations

import json

import pytest
import torch

from loopgen.errors import LoopgenError
from loopgen.streaming.bank import DecoderBank
from loopgen.streaming.record import TakeRecord
from loopgen.streaming.render import replay
from loopgen.streaming.take import Take

RECORD_1 = {  # a sidecar as the daemon wrote it before records had a version (fields as they were then)
    "id": "a1", "model": "random:tiny", "sample_rate": 32000, "model_sample_rate": 32000, "output_format": "float",
    "loudness": None, "channels": 1, "seconds": 0.5, "prompts": [["warm keys", 1.0]],
    "parameters": {"temperature": 1.0, "top_k": 250, "top_p": 0.0, "cfg_coef": 3.0}, "seed": 7, "bpm": None,
    "bars": None, "beats_per_bar": 4, "loop": False, "stopped_early": False,
    "changes": [{"tick": 10, "frame": 7, "params": {"temperature": 0.5}}], "frames": 25, "length_samples": 16000,
    "continues": None, "keeps_original": False, "prefill_chunk": 32, "threads": 2, "created": "2026-11-30T10:00:00",
    "melody": None,
}


def test_a_record_1_sidecar_loads_and_makes_the_take_again(tiny):
    r = TakeRecord.from_json(json.dumps(RECORD_1))
    assert r.record == 1 and r.prompts == [("warm keys", 1.0)] and r.family_parameters == RECORD_1["parameters"]
    take = Take(tiny, [r.prompts], r.family_parameters, r.seed, r.length_samples, guided=True, bank=DecoderBank(tiny, 1))
    take.decoder.script = [[0, 2]]  # a record without decode_rows was decoded in the daemon's bank throughout
    want = take.replay(r.changes, r.prefill_chunk)  # what the take record describes, made by hand
    data, rate, _ = replay(r, tiny)
    assert rate == 32000 and torch.equal(torch.from_numpy(data).T, want)
    again = TakeRecord.from_json(r.to_json())
    assert again == r  # written and read back unchanged (the version it had kept)


def test_a_magnet_record_1_keeps_the_defaults_it_was_made_with():
    """Record 1 wrote MusicGen's values for a MAGNeT take, which then used its own default wherever a value equalled
    MusicGen's: read back the same way. Record 2 means what it says."""
    old = TakeRecord.from_json(json.dumps({**RECORD_1, "model": "facebook/magnet-small-10secs",
                                           "parameters": {"temperature": 1.0, "top_k": 250, "top_p": 0.5,
                                                          "cfg_coef": 3.0}}))
    assert old.family_parameters == {"top_p": 0.5}
    new = TakeRecord.from_json(json.dumps({**RECORD_1, "model": "facebook/magnet-small-10secs", "record": 2}))
    assert new.family_parameters == RECORD_1["parameters"]


@pytest.mark.parametrize("change", [
    {"seed": -1}, {"seed": "7"}, {"seed": True}, {"length_samples": 0}, {"frames": 1.5}, {"prompts": []},
    {"prompts": [["x"]]}, {"prompts": "x"}, {"parameters": {"temperature": "hot"}}, {"parameters": {"warmth": 1}},
    {"changes": [{"frame": 1}]}, {"changes": {}}, {"threads": 0}, {"continues": "../../etc/passwd"},
    {"continues": "/etc/passwd"}, {"melody": {"pitch": 1}}, {"model": ""}, {"record": 0},
    {"decode_rows": [[0, 3]]}, {"decode_rows": [[5, 2], [1, 1]]}, {"decode_rows": [[5, 2], [5, 1]]}, {"decode_rows": [[True, 2]]}, {"decode_rows": 2},
    {"dtype": "int4"}, {"dtype": 8}, {"kernels": "packed"}, {"kernels": {"float32": "fast"}},
    {"kernels": {"int4": "packed"}}, {"kernels": {"float32": ["packed"]}},
])
def test_a_broken_sidecar_is_one_clear_error(change):
    with pytest.raises(LoopgenError, match="cannot make a take from"):
        TakeRecord.from_json(json.dumps({**RECORD_1, **change}))


@pytest.mark.parametrize("text", ["", "[]", "{", "null", "[" * 100000, json.dumps({"model": "random:tiny"})])
def test_what_is_not_a_record_is_one_clear_error(text):
    with pytest.raises(LoopgenError, match="cannot make a take from"):
        TakeRecord.from_json(text)
