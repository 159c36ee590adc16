"""The OSC address space without sockets."""
from __future__ import annotations

import re

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder

from loopgen.protocol import messages as M
from loopgen.protocol import osc as O
from loopgen.protocol.messages import ProtocolError


def run(address, *args, sender=None):
    sender = sender if sender is not None else O.OscPeer("t")
    return sender.receive(address, list(args)), sender


def test_generate_with_pd_floats_and_split_words():
    c, s = run("/loopgen/generate", "lo-fi", "beat,", "90", 4.0, 90.0)
    assert isinstance(c, M.Generate) and c.params.prompts == (("lo-fi beat, 90", 1.0),)
    assert c.params.bars == 4 and c.params.bpm == 90 and c.params.loop and s.latest == c.id
    c2, _ = run("/loopgen/generate", "again", sender=s)
    assert c2.id != c.id and c2.params.seconds == 8.0


def test_defaults_set_prompt_stop_extend_continue_play():
    s = O.OscPeer("t")
    for addr, v in (("/loopgen/set/bpm", 128.0), ("/loopgen/set/bars", 2.0), ("/loopgen/set/seed", 5.0),
                    ("/loopgen/set/temperature", 0.7), ("/loopgen/set/cfg", 2)):
        c, _ = run(addr, v, sender=s)
        assert c is None or isinstance(c, M.Set)  # a stored default, or a live change
    g, _ = run("/loopgen/generate", "house", sender=s)
    assert (g.params.bpm, g.params.bars, g.params.seed) == (128, 2, 5)
    assert g.params.sampling == {"temperature": 0.7, "cfg_coef": 2}  # only what was given
    live, _ = run("/loopgen/set/top_k", 40.0, sender=s)
    assert live == M.Set(g.id, {"top_k": 40}, None)
    p, _ = run("/loopgen/prompt", "warm", "keys", 0.25, "noise", 0.75, sender=s)
    assert p.id == g.id and p.prompts == (("warm keys", 0.25), ("noise", 0.75))
    assert run("/loopgen/stop", sender=s)[0] == M.Stop(g.id)
    e, _ = run("/loopgen/extend", 2.0, sender=s)
    assert isinstance(e, M.Extend) and e.of == g.id and e.bars == 2 and s.latest == e.id
    cf, _ = run("/loopgen/continue", "/tmp/my", "take.wav", sender=s)
    assert isinstance(cf, M.ContinueFile) and cf.path == "/tmp/my take.wav"
    assert run("/loopgen/play", sender=s)[0] == M.Play(cf.id)
    assert run("/loopgen/ping")[0] == M.Ping(None)


@pytest.mark.parametrize(
    "address,args,code",
    [
        ("/other/thing", [], "unknown_type"),
        ("/loopgen/dance", [], "unknown_type"),
        ("/loopgen/set/volume", [1.0], "unknown_type"),
        ("/loopgen/set/temperature", ["hot"], "bad_field"),
        ("/loopgen/set/temperature", [11.0], "out_of_range"),  # past every family's range
        ("/loopgen/set/bpm", [], "bad_field"),
        ("/loopgen/generate", [], "bad_field"),  # no prompt yet
        ("/loopgen/generate", ["x", 4.0], "bad_field"),  # bars without bpm
        ("/loopgen/generate", ["x", 4.0, 5000.0], "out_of_range"),
        ("/loopgen/stop", [], "unknown_id"),
        ("/loopgen/extend", [2.0], "unknown_id"),
        ("/loopgen/continue", [], "bad_field"),
        ("/loopgen/prompt", [1.0], "bad_field"),
    ],
)
def test_errors(address, args, code):
    with pytest.raises(ProtocolError) as e:
        O.OscPeer("t").receive(address, args)
    assert e.value.code == code


def test_datagrams_and_bundles():
    msg = O.build("/loopgen/generate", ["a b", 1.0, 120.0])
    assert O.parse_datagram(msg) == [("/loopgen/generate", ["a b", 1.0, 120.0])]
    b = OscBundleBuilder(IMMEDIATELY)
    from pythonosc.osc_message_builder import OscMessageBuilder

    for a in ("/loopgen/ping", "/loopgen/stop"):
        b.add_content(OscMessageBuilder(address=a).build())
    assert [a for a, _ in O.parse_datagram(b.build().dgram)] == ["/loopgen/ping", "/loopgen/stop"]
    with pytest.raises(ProtocolError):
        O.parse_datagram(b"garbage!")


def test_replies():
    assert O.reply(M.Pong()) == ("/loopgen/pong", [])
    assert O.reply(M.Progress("a", 5, 10, 1.0)) == ("/loopgen/progress", [0.5])
    assert O.reply(M.Done("a", 5, 1.5, "/x.wav")) == ("/loopgen/done", ["/x.wav", 1.5])
    assert O.reply(M.Error("c", "msg")) == ("/loopgen/error", ["msg"])
    assert O.reply(M.Audio("a", 0, 0, b"")) is None


def test_dispatch_table_is_the_documented_address_space():
    """Every address docs/protocol.md documents is a key of the dispatch table, and every key is documented."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    documented = set(re.findall(r"`(/loopgen/[a-z_/]+)", doc)) - set(O.REPLIES)
    assert documented == set(O.HANDLERS), documented ^ set(O.HANDLERS)


def test_replies_with_arguments_osc_cannot_carry_still_go_out():
    """A ping echo of a huge double or odd value must still answer (without the odd argument), never raise."""
    for odd in (1e300, 2**70, object()):
        data = O.build("/loopgen/pong", [odd])
        assert O.parse_datagram(data)[0][0] == "/loopgen/pong"
