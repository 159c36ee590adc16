"""What a client may name: browser origins matched exactly (no prefix or suffix tricks), files to read only inside
the allowed folders (`..` and links resolved first), takes served only as plain files of the takes folder."""
from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from loopgen.protocol.messages import ProtocolError
from loopgen.server.web import Hosts, origin_ok, take_file
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
    ("http://192.168.1.5:8765", True),  # the daemon's own page (by an address, on its port)
    ("http://192.168.1.5:8766", False), ("http://studio-box.local:8765", True), ("http://evil.example:8765", False),
    ("http://studio-box.local:80", False), ("http://studio-box.local:8765/x", False),
])
def test_origins_match_exactly(origin, ok):
    hosts = Hosts("0.0.0.0", ("studio-box.local",))
    assert origin_ok(origin, hosts, 8765, ("https://studio.example",)) is ok


@pytest.mark.parametrize("host,ok", [
    ("127.0.0.1:8765", True), ("localhost:8765", True), ("[::1]:8765", True), ("192.168.1.5:8765", True),
    ("127.0.0.1", True), ("studio-box.local:8765", True), ("STUDIO-BOX.local.:8765", True),
    ("evil.example:8765", False), ("evil.example", False), ("127.0.0.1.evil.example:8765", False),
    ("localhost.evil.example:8765", False), ("127.0.0.1:8766", False), ("user@127.0.0.1:8765", False),
    ("127.0.0.1:8765/x", False), ("", False), (":8765", False), ("[::1", False),
])
def test_hosts_that_cannot_be_rebound(host, ok):
    assert Hosts("127.0.0.1", ("studio-box.local",)).header_ok(host, 8765) is ok


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
    size, body = take_file(takes, "a.wav")
    assert size == len(body) == (takes / "a.wav").stat().st_size and take_file(takes, "a.wav", head=True) == (size, b"")
    os.mkfifo(takes / "fifo.wav")  # never opened for reading in a way that blocks, never served
    os.symlink(tmp_path / "secret.wav", takes / "link.wav")
    os.symlink("/etc/passwd", takes / "passwd.wav")
    for name in ("link.wav", "passwd.wav", "../secret.wav", "..", ".hidden.wav", "a.wav.part", "sub/a.wav",
                 "a.json", "fifo.wav"):
        assert take_file(takes, name) is None, name
