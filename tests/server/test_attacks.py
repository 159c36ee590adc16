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
    """Every object reachable from `root` through gc referents, not through `skip` (the take's owner: a client)."""
    import gc

    seen, stack, out = {id(skip)}, [root], []
    while stack and len(seen) < limit:
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
