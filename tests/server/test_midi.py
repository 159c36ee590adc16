"""MIDI mapping (the shipped default and a user file) and the server acting on MIDI messages."""
from __future__ import annotations

import asyncio

import mido
import pytest

from loopgen import LoopgenError
from loopgen.server.midi import MidiMap


def test_default_map():
    m = MidiMap.load()
    assert m.actions(mido.Message("note_on", note=36, velocity=100))[0][0] == "generate"
    assert m.actions(mido.Message("note_on", note=36, velocity=0)) == []  # a note-off in disguise
    assert m.actions(mido.Message("note_on", note=43, velocity=90)) == [("stop", None)]
    (kind, change), = m.actions(mido.Message("control_change", control=21, value=127))
    assert kind == "set" and change == {"temperature": 1.5}
    assert m.actions(mido.Message("control_change", control=23, value=0)) == [("set", {"top_k": 10})]
    assert m.actions(mido.Message("control_change", control=7, value=0)) == [("volume", 0.0)]
    assert m.actions(mido.Message("control_change", control=99, value=3)) == []


def test_user_map_and_errors(tmp_path):
    f = tmp_path / "map.toml"
    f.write_text('[defaults]\nchannel = 2\nbpm = 90\n[[notes]]\nnote = 60\nprompt = "flute"\n[cc.cfg_coef]\ncc = 1\n')
    m = MidiMap.load(f)
    assert m.bpm == 90
    assert m.actions(mido.Message("note_on", note=60, velocity=5, channel=1)) == [("generate", "flute")]
    assert m.actions(mido.Message("note_on", note=60, velocity=5, channel=0)) == []  # other channel
    f.write_text("[cc.loudness]\ncc = 3\n")
    with pytest.raises(LoopgenError, match="unknown CC target"):
        MidiMap.load(f)
    f.write_text("not toml [")
    with pytest.raises(LoopgenError, match="cannot read MIDI map"):
        MidiMap.load(f)


def test_server_acts_on_midi(serve, tmp_path):
    async def scenario(server):
        server.midi_map = MidiMap.load()
        server.on_midi(mido.Message("note_on", note=37, velocity=100))
        for _ in range(50):
            if server.worker.find("midi-1", finished=False) is not None:
                break
            await asyncio.sleep(0.02)
        server.on_midi(mido.Message("control_change", control=21, value=0))
        server.on_midi(mido.Message("control_change", control=7, value=64))
        assert abs(server.player.volume - 64 / 127) < 1e-9
        for _ in range(100):
            job = server.worker.find("midi-1", finished=False)
            if job is not None and job.session.params.temperature == 0.3:
                break
            await asyncio.sleep(0.02)
        assert job is not None and job.session.params.temperature == 0.3  # CC 21 at 0 -> the map's minimum, live
        server.on_midi(mido.Message("note_on", note=43, velocity=100))  # stop: saved
        for _ in range(200):
            if server.worker.find("midi-1") is not None:
                break
            await asyncio.sleep(0.05)
        assert server.worker.find("midi-1").path.endswith(".wav")

    serve(scenario)
