"""Issue 26's attacks, each first seen to work on the code before it: melody files that decompress to hours, odd
headers, probes of files in $HOME. Each answers a coded error at once, with bounded memory, and the daemon goes on."""
from __future__ import annotations

import io
import time
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from loopgen import audio_files
from loopgen.clients import connect
from loopgen.clients.client import ServerError
from loopgen.protocol import messages as M

from .test_ws_server import collect, url

MODEL = "random:melody-tiny"


def flac(seconds: float, rate: int = 16000, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros((int(seconds * rate), channels), np.float32), rate, format="FLAC")
    return buf.getvalue()


def claiming(data: bytes, frames: int) -> bytes:
    """A FLAC whose STREAMINFO says it holds `frames` frames (what a long file of silence says in 600 KB)."""
    b = bytearray(data)
    assert b[:4] == b"fLaC" and b[4] & 0x7F == 0  # STREAMINFO first
    word = int.from_bytes(b[18:26], "big")  # rate:20 channels:3 bits:5 total:36
    b[18:26] = ((word & ~((1 << 36) - 1)) | frames).to_bytes(8, "big")
    return bytes(b)


def wav_at(rate: int) -> bytes:
    """A WAV whose header says `rate` (its fmt chunk patched: what a hostile client sends)."""
    buf = io.BytesIO()
    sf.write(buf, np.zeros(800, np.float32), 8000, format="WAV", subtype="PCM_16")
    b = bytearray(buf.getvalue())
    assert b[12:16] == b"fmt "
    b[24:28] = rate.to_bytes(4, "little")
    b[28:32] = (rate * 2).to_bytes(4, "little")
    return bytes(b)


def test_a_melody_file_is_checked_by_its_header_and_decoded_only_as_far_as_it_is_used():
    # 1500 s of 8-channel audio claimed by a small file: refused from the header, nothing decoded
    bomb = claiming(flac(2.0, 48000, 8), 48000 * 1500)
    assert audio_files.info(bomb)[0] == 48000 * 1500
    with pytest.raises(M.ProtocolError) as e:
        M.melody_field({"melody": bomb, "melody_format": "file"}, "m")
    assert e.value.code == "out_of_range" and "1500 s" in e.value.message
    # a real 60 s 8-channel file within the limits: parsing keeps its bytes (no decoding on the event loop) ...
    data = flac(60.0, 16000, 8)
    tracemalloc.start()
    melody = M.melody_field({"melody": data, "melody_format": "file"}, "m")
    assert melody.audio is None and melody.file == data and tracemalloc.get_traced_memory()[1] < 1 << 20
    tracemalloc.stop()
    # ... and reading it decodes the first 31 s only, mixed to mono as it goes: 2 MB, not the 31 MB it holds
    tracemalloc.start()
    audio, rate = M.read_file(melody.file, M.MELODY_FILE, "the melody", "m")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert audio.shape == (1, 31 * 16000) and rate == 16000 and peak < 60 * 16000 * 8 * 4 / 4
    # what a melody model reads of a melody is within what is decoded
    from loopgen.models.chroma import Chroma

    c = Chroma()
    assert c.used(np.zeros((1, 16000 * 60), np.float32), 16000).shape[-1] <= audio.shape[-1]


@pytest.mark.parametrize("rate", [1, 2_000_000_000])
def test_a_melody_files_rate_is_range_checked_like_pcm(rate):
    with pytest.raises(M.ProtocolError) as e:
        M.melody_field({"melody": wav_at(rate), "melody_format": "file"}, "m")
    assert e.value.code == "out_of_range" and "8000-384000 Hz" in e.value.message


def test_melody_bombs_and_odd_headers_over_the_daemon(serve, tmp_path):
    """Over WebSocket and as paths: the bomb, a 2 GHz header, a 1 Hz header are refused at once, and a file not
    audio in a readable folder answers exactly as a missing one (no probing $HOME for keys)."""
    (tmp_path / "bomb.flac").write_bytes(claiming(flac(2.0, 48000, 8), 48000 * 1500))
    (tmp_path / "fast.wav").write_bytes(wav_at(2_000_000_000))
    (tmp_path / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    tune = tmp_path / "long.flac"
    tune.write_bytes(flac(45.0, 8000, 8))

    async def scenario(server):
        async with connect(url(server)) as c:
            codes = []
            t = time.perf_counter()
            for fields in (dict(melody=(tmp_path / "bomb.flac").read_bytes(), melody_format="file"),
                           dict(melody=wav_at(1), melody_format="file"),
                           dict(melody=str(tmp_path / "bomb.flac")), dict(melody=str(tmp_path / "fast.wav"))):
                with pytest.raises(ServerError) as e:
                    await collect(c.generate("x", seconds=0.3, **fields))
                codes.append(e.value.event["code"])
            assert time.perf_counter() - t < 10
            answers = []
            for name in ("id_rsa", "no-such-file"):
                with pytest.raises(ServerError) as e:
                    await collect(c.generate("x", seconds=0.3, melody=str(tmp_path / name)))
                answers.append((e.value.event["code"], e.value.event["message"].replace(name, "NAME")))
            events, _ = await collect(c.generate("x", seconds=0.3, melody=str(tune), seed=1))
            return codes, answers, events[-1]

    codes, answers, last = serve(scenario, model=MODEL, read_dirs=(tmp_path,))
    assert codes == ["out_of_range"] * 4
    assert answers[0] == answers[1] and answers[0][0] == "bad_audio"
    assert last["type"] == "done"  # 45 s of 8 channels: its first 31 s decoded, mixed to mono, and used


def test_a_finished_take_keeps_the_chroma_not_the_melody_audio_and_an_extend_keeps_its_melody(serve):
    """64 finished takes are kept for extend: each must not hold the melody it was sent (77 KB of FLAC can be 300 MB
    decoded), only its chroma; an extend of it is still made with that melody."""
    sr = 16000
    tune = (0.5 * np.sin(2 * np.pi * 440 * np.arange(sr * 4) / sr)).astype(np.float32)

    async def scenario(server):
        async with connect(url(server)) as c:
            events, _ = await collect(c.generate("x", id="m", seconds=0.4, seed=1, melody=tune.tobytes(),
                                                 melody_sample_rate=sr))
            assert events[-1]["type"] == "done"
            job = server.worker.find("m")
            held = [o for o in _reachable(job, skip=job.owner) if isinstance(o, np.ndarray) and o.size >= tune.size]
            out = [ev["type"] async for ev in c.stream("extend", id="e", of="m", seconds=0.4)]
            return held, out, job.take.melody, server.worker.find("e").take.melody

    held, out, chroma, extended = serve(scenario, model=MODEL)
    assert held == [] and out[-1] == "done"
    assert chroma is not None and extended is chroma  # the extend is made with the take's melody


def _reachable(root, skip, limit: int = 200_000):
    """Every object reachable from `root` through gc referents, not through `skip` (the take's owner: a client) nor
    through a module's globals (a function's referents include them, and from there the walk reaches the whole
    process, this test's own `tune` among it: a failure that depended on what the worker had run before)."""
    import gc
    import sys

    modules = {id(vars(m)) for m in list(sys.modules.values()) if m is not None and hasattr(m, "__dict__")}
    seen, stack, out = {id(skip)} | modules, [root], []
    while stack and len(seen) < limit + len(modules):
        o = stack.pop()
        if id(o) in seen or isinstance(o, (type, type(gc))):
            continue
        seen.add(id(o))
        out.append(o)
        stack.extend(gc.get_referents(o))
    return out


async def http(port: int, head: str) -> tuple[int, dict, bytes]:
    """One raw HTTP/1.1 exchange with the daemon: (status, headers, body as received until the server closes or
    Content-Length is reached)."""
    import asyncio

    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(head.replace("\n", "\r\n").encode() + b"\r\n")
    await w.drain()
    raw = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
    body = b""
    if status != 101:
        try:
            body = await asyncio.wait_for(r.read(1 << 20), 1.0)  # what follows the headers, if anything
        except asyncio.TimeoutError:
            pass
    w.close()
    return status, headers, body


UPGRADE = "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n" \
          "Sec-WebSocket-Version: 13\n"


def test_dns_rebinding_double_headers_head_and_links_over_http(serve):
    """A page on http://evil.example:PORT rebound to 127.0.0.1 sends its own Host and Origin: refused for the
    WebSocket and the page alike; two Host or Origin headers are a 400, not a 500; HEAD has no body; a link in the
    takes folder is not served."""
    import os

    async def scenario(server):
        p = server.ws_port
        got = {}
        got["rebound ws"] = await http(p, f"GET / HTTP/1.1\nHost: evil.example:{p}\nOrigin: http://evil.example:{p}\n"
                                          f"{UPGRADE}")
        got["rebound page"] = await http(p, f"GET / HTTP/1.1\nHost: evil.example:{p}\n")
        got["own ws"] = await http(p, f"GET / HTTP/1.1\nHost: 127.0.0.1:{p}\nOrigin: http://127.0.0.1:{p}\n{UPGRADE}")
        got["two hosts"] = await http(p, f"GET / HTTP/1.1\nHost: 127.0.0.1:{p}\nHost: 127.0.0.1:{p}\n")
        got["two origins"] = await http(p, f"GET / HTTP/1.1\nHost: 127.0.0.1:{p}\nOrigin: http://127.0.0.1:{p}\n"
                                           f"Origin: http://evil.example\n{UPGRADE}")
        got["page"] = await http(p, f"GET / HTTP/1.1\nHost: localhost:{p}\n")
        got["head page"] = await http(p, f"HEAD / HTTP/1.1\nHost: localhost:{p}\n")
        async with connect(url(server)) as c:
            events, _ = await collect(c.generate("x", id="t", seconds=0.3, seed=1))
        name = events[-1]["path"].rsplit("/", 1)[-1]
        got["head take"] = await http(p, f"HEAD /takes/{name} HTTP/1.1\nHost: 127.0.0.1:{p}\n")
        got["take"] = await http(p, f"GET /takes/{name} HTTP/1.1\nHost: 127.0.0.1:{p}\n")
        os.symlink("/proc/self/environ", server.cfg.loops_dir / "environ.wav")
        got["link"] = await http(p, f"GET /takes/environ.wav HTTP/1.1\nHost: 127.0.0.1:{p}\n")
        return got

    got = serve(scenario)
    assert got["rebound ws"][0] == 421 and got["rebound page"][0] == 421
    assert got["own ws"][0] == 101
    assert got["two hosts"][0] == 400 and got["two origins"][0] == 400
    status, headers, body = got["page"]
    assert status == 200 and int(headers["content-length"]) == len(body) > 0
    assert got["head page"][0] == 200 and got["head page"][1]["content-length"] == headers["content-length"]
    assert got["head page"][2] == b""
    status, headers, body = got["take"]
    assert status == 200 and body[:4] == b"RIFF" and int(headers["content-length"]) == len(body)
    assert got["head take"][0] == 200 and got["head take"][2] == b""
    assert got["head take"][1]["content-length"] == headers["content-length"]
    assert got["link"][0] == 404 and b"PATH" not in got["link"][2]


def test_an_osc_name_cannot_be_stolen_while_its_sender_is_heard(serve):
    """Device A says hello deviceA and plays a take; a second sender on the same host says hello deviceA: it is
    refused (name_taken), cannot stop A's take, and gets none of A's replies."""
    import asyncio

    from .test_osc_server import Peer

    async def scenario(server):
        a, thief = Peer(server.osc_port), Peer(server.osc_port)
        a.send("/loopgen/hello", "deviceA")
        await a.expect("/loopgen/welcome")
        a.send("/loopgen/generate", "drone a", 8.0, 60.0)
        id_a = (await a.expect("/loopgen/started"))[0]
        thief.send("/loopgen/hello", "deviceA")
        refused = await thief.expect("/loopgen/error")
        thief.send("/loopgen/stop")
        nothing = await thief.expect("/loopgen/error")
        await asyncio.sleep(0.3)
        running = server.worker.find(id_a, finished=False) is not None
        a.send("/loopgen/stop")
        done = await a.expect("/loopgen/done")
        try:
            stolen = await thief.expect("/loopgen/done", timeout=1.0)
        except AssertionError:
            stolen = None
        return refused, nothing, running, done, stolen

    refused, nothing, running, done, stolen = serve(scenario, osc_reply_port=0)
    assert "another sender" in refused[0] and "nothing to stop" in nothing[0]
    assert running and done and stolen is None


def test_a_quiet_name_can_be_claimed_anew_and_the_table_is_bounded():
    from loopgen.protocol.osc_names import NameTable

    t = NameTable(quiet_s=10, max_addresses=3)
    a, b = ("127.0.0.1", 5000), ("127.0.0.1", 5001)
    assert t.claim(a, "dev", 0.0) and t.heard(a, 5.0) == "dev"
    assert not t.claim(b, "dev", 14.0)  # a heard 9 s ago: still its
    assert t.heard(b, 14.0) is None and t.claim(("10.0.0.2", 5000), "dev", 14.0)  # another host: its own name
    assert t.claim(b, "dev", 15.1) and t.heard(a, 15.2) is None  # a quiet for 10 s: b holds it now, a does not
    for port in range(6000, 6010):
        t.heard(("127.0.0.1", port), 20.0)
    assert len(t) == 3


def test_after_a_refused_osc_generate_the_next_melody_is_not_unknown_id(serve, tmp_path):
    """An OSC generate whose melody cannot be read is refused; /loopgen/melody after it applies to what the sender
    really has (its previous take, finished: stored, no error), not to the refused id."""
    import asyncio

    from .test_osc_server import Peer

    tune = tmp_path / "tune.wav"
    sf.write(tune, np.zeros(8000, np.float32), 8000)

    async def scenario(server):
        p = Peer(server.osc_port)
        p.send("/loopgen/generate", "x", 1.0, 240.0)
        await p.expect("/loopgen/done")
        p.send("/loopgen/melody", str(tmp_path / "missing.wav"))  # a default for the next; applied to the finished
        await p.expect("/loopgen/error")  # the melody could not be read for the finished take
        p.send("/loopgen/generate", "y", 1.0, 240.0)
        first = await p.expect("/loopgen/error")  # nor for the new one: refused
        p.send("/loopgen/melody", str(tune))
        try:
            second = await p.expect("/loopgen/error", timeout=2.0)
        except AssertionError:
            second = None
        return first, second

    first, second = serve(scenario, model=MODEL, osc_reply_port=0, read_dirs=(tmp_path,))
    assert "cannot read" in first[0] and second is None, second


def test_python_osc_warnings_do_not_flood_the_log(serve, caplog):
    """1,000 datagrams with a type tag python-osc does not know: each warned on the root logger; at most a handful
    reach the log."""
    import asyncio
    import logging
    import socket

    bad = b"/loopgen/ping\x00\x00\x00,x\x00\x00\x00\x00\x00\x01"

    async def scenario(server):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(1000):
            s.sendto(bad, ("127.0.0.1", server.osc_port))
            if i % 100 == 0:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        s.close()
        return server.osc_dropped

    with caplog.at_level(logging.WARNING):
        serve(scenario)
    lines = [r for r in caplog.records if "pythonosc" in r.pathname]
    assert 1 <= len(lines) <= 5, len(lines)
