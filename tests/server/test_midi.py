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


def test_cc_ranges_are_checked_against_the_loaded_models_family(tmp_path):
    """A map may sweep temperature to 8 for a MAGNeT (its range goes to 10); for a MusicGen (to 5) it is refused with
    one line once the model is known. Before, every map was held to MusicGen's ranges."""
    from loopgen import load_model
    from loopgen.streaming.family import family

    f = tmp_path / "map.toml"
    f.write_text("[cc.temperature]\ncc = 21\nmin = 1.0\nmax = 8.0\n")
    m = MidiMap.load(f)  # read before the model: held to the widest range any family takes
    magnet, musicgen = load_model("random:magnet-tiny"), load_model("random:tiny")
    m.check_model(lambda given: family(magnet).sampling(magnet, given))
    with pytest.raises(LoopgenError, match=r"MIDI map: \[cc.temperature\]: 1..8 does not fit this model"):
        m.check_model(lambda given: family(musicgen).sampling(musicgen, given))
    f.write_text("[cc.temperature]\ncc = 21\nmin = 1.0\nmax = 11.0\n")
    with pytest.raises(LoopgenError, match="outside"):
        MidiMap.load(f)  # past every family: refused as it is read
