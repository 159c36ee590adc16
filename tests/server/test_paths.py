"""What a client may name: browser origins matched exactly (no prefix or suffix tricks), files to read only inside
the allowed folders (`..` and links resolved first), takes served only as plain files of the takes folder."""
from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from loopgen.protocol.messages import ProtocolError
from loopgen.server.app import origin_ok, take_file
from loopgen.protocol.messages import MELODY_FILE
from loopgen.server.jobs import read_allowed as _read_allowed


@pytest.mark.parametrize("origin,ok", [
    ("https://studio.example", True),
    ("https://studio.example.evil.example", False), ("https://studio.exampl", False),
    ("https://evil-studio.example", False), ("http://studio.example", False), ("https://studio.example/x", False),
    ("http://127.0.0.1:3000", True), ("http://[::1]:3000", True), ("http://localhost:5173", True),
    ("http://127.0.0.1.evil.example", False), ("http://localhost.evil.example", False),
    ("http://evil.example/127.0.0.1", False), ("http://127.0.0.1@evil.example", False),
    ("http://evil.example#127.0.0.1", False), ("file://127.0.0.1", False), ("null", False), ("", False),
    ("http://192.168.1.5:8765", True),  # the daemon's own page (same host and port as the request)
    ("http://192.168.1.5:8766", False), ("http://192.168.1.50:8765", False),
])
def test_origins_match_exactly(origin, ok):
    assert origin_ok(origin, "192.168.1.5:8765", ("https://studio.example",)) is ok


def read_allowed(path: str, allowed: tuple):
    return _read_allowed(path, allowed, MELODY_FILE, "the melody")


def _wav(path):
    sf.write(str(path), np.zeros(320, np.float32), 32000)
    return path


def test_files_are_read_only_from_inside_the_allowed_folders(tmp_path):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir(), outside.mkdir()
    inside = _wav(allowed / "riff.wav")
    secret = _wav(outside / "secret.wav")
    assert read_allowed(str(inside), (allowed,))[1] == 32000
    os.symlink(inside, allowed / "alias.wav")  # a link to a file inside: that file
    assert read_allowed(str(allowed / "alias.wav"), (allowed,))[1] == 32000
    os.symlink(secret, allowed / "leak.wav")  # a link out: refused, as the file it points to
    os.symlink(outside, allowed / "door")
    for path in (secret, allowed / ".." / "outside" / "secret.wav", allowed / "leak.wav", allowed / "door" / "secret.wav"):
        with pytest.raises(ProtocolError) as e:
            read_allowed(str(path), (allowed,))
        assert e.value.code == "bad_audio" and "outside" not in e.value.message.replace(str(path), "")


def test_takes_are_served_only_as_plain_files_of_the_takes_folder(tmp_path):
    takes = tmp_path / "takes"
    takes.mkdir()
    _wav(takes / "a.wav")
    (tmp_path / "secret.wav").write_bytes(b"RIFF secret")
    assert take_file(takes, "a.wav") is not None
    os.symlink(tmp_path / "secret.wav", takes / "link.wav")
    os.symlink("/etc/passwd", takes / "passwd.wav")
    for name in ("link.wav", "passwd.wav", "../secret.wav", "..", ".hidden.wav", "a.wav.part", "sub/a.wav",
                 "a.json"):
        assert take_file(takes, name) is None, name
