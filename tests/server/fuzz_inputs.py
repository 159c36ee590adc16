"""Seeded hostile inputs for the daemon: WebSocket messages and OSC datagrams, valid-looking and not. Shared by the
fuzz test (tests/server/test_fuzz.py) and the soak benchmark (benchmarks/soak.py)."""
from __future__ import annotations

import random
import struct

import msgpack

from loopgen.protocol.osc import HANDLERS, build

TYPES = ["hello", "generate", "continue", "extend", "set", "stop", "play", "ping", "nope", "", None, 7]
FIELDS = ["id", "prompt", "prompts", "seconds", "bars", "bpm", "temperature", "top_k", "top_p", "cfg_coef", "seed",
          "of", "audio", "sample_rate", "channels", "format", "loop", "beats_per_bar", "data", "output_rate",
          "output_format", "loudness", "token", "protocol"]


def _value(r: random.Random, depth: int = 0):
    k = r.randrange(14)
    if k == 0:
        return r.choice([0, -1, 1, 2**63, -(2**63), 2**64 - 1])  # the ends of what msgpack carries
    if k == 1:
        return r.choice([0.0, -0.0, 1e308, -1e308, float("nan"), float("inf"), 1e-320, 3.5])
    if k == 2:
        return r.choice([True, False, None])
    if k == 3:
        cps = (r.randrange(0x20, 0x2FFFF) for _ in range(r.randrange(0, 300)))
        return "".join(chr(c) for c in cps if not 0xD800 <= c < 0xE000)  # emoji and all (no lone surrogates)
    if k == 4:
        return "x" * r.choice([0, 1, 4000, 70000])
    if k == 5:
        return bytes(r.randrange(256) for _ in range(r.randrange(0, 64)))
    if k == 6 and depth < 3:
        return [_value(r, depth + 1) for _ in range(r.randrange(0, 5))]
    if k == 7 and depth < 3:
        return {str(_value(r, depth + 1))[:20]: _value(r, depth + 1) for _ in range(r.randrange(0, 4))}
    if k == 8:
        return [["text", r.choice([1, -1, "w", None, 1e9])]] * r.randrange(0, 12)
    if k == 9:
        nested: list = []
        for _ in range(r.choice([10, 600])):
            nested = [nested]
        return nested
    return r.choice(["a", "dub techno", 1, 0.5, 120, 4, "f32le", "s16le"])


def ws_message(r: random.Random) -> bytes | str:
    """One WebSocket message: mostly msgpack maps with a plausible type and hostile fields; some plain garbage."""
    k = r.randrange(10)
    if k == 0:
        return bytes(r.randrange(256) for _ in range(r.randrange(0, 200)))
    if k == 1:
        return "a text frame " * r.randrange(1, 5)
    if k == 2:
        return msgpack.packb(_value(r), use_bin_type=True)
    d = {"type": r.choice(TYPES)}
    for f in r.sample(FIELDS, r.randrange(0, 6)):
        d[f] = _value(r)
    if d.get("type") in ("generate", "continue", "extend") and r.random() < 0.7:
        d["seconds"] = r.choice([1e9, -1, 0, float("nan"), "1"])  # never a real long generation
    return msgpack.packb(d, use_bin_type=True)


def osc_datagram(r: random.Random) -> bytes:
    k = r.randrange(8)
    if k == 0:
        return bytes(r.randrange(256) for _ in range(r.randrange(0, 120)))
    if k == 1:  # bundles with element sizes that do not fit, or nest deeply
        body = struct.pack(">Q", 1)
        for _ in range(r.randrange(1, 4)):
            body += struct.pack(">i", r.choice([-4, 0, 3, 4, 8, 2**31 - 1, -(2**31)])) + b"/x\0\0,\0\0\0"
        return b"#bundle\0" + body
    if k == 2:
        return b"#bundle\0" * r.randrange(1, 40)
    address = r.choice(list(HANDLERS) + ["/loopgen/nope", "/other", "/loopgen/set/volume"])
    args = []
    for _ in range(r.randrange(0, 5)):
        v = r.choice(["dub", "", "x" * r.choice([1, 500]), 1, -1, 2**31 - 1, 1e30, float("nan"), 0.5, b"blob", True])
        args.append(v)
    try:
        data = build(address, args)
    except Exception:
        data = build(address, [])
    if k == 3 and data:  # flip a few bytes
        b = bytearray(data)
        for _ in range(r.randrange(1, 4)):
            b[r.randrange(len(b))] = r.randrange(256)
        data = bytes(b)
    return data


def melody_file(r: random.Random) -> bytes:
    """An audio file's bytes as a hostile client sends them: real WAV/FLAC whose header lies (frames, rate,
    channels), truncated files, and garbage behind a real magic number."""
    import io

    import numpy as np
    import soundfile as sf

    k = r.randrange(6)
    rate = r.choice([8000, 16000, 44100, 48000])
    buf = io.BytesIO()
    if k == 5:
        return r.choice([b"RIFF", b"fLaC", b"OggS"]) + bytes(r.randrange(256) for _ in range(r.randrange(0, 200)))
    fmt = r.choice(["WAV", "FLAC"])
    sf.write(buf, np.zeros((rate // 4, r.choice([1, 2, 3])), np.float32), rate, format=fmt,
             subtype="PCM_16")
    b = bytearray(buf.getvalue())
    if k == 0 and fmt == "FLAC":  # frames claimed: up to hours
        word = int.from_bytes(b[18:26], "big")
        b[18:26] = ((word & ~((1 << 36) - 1)) | r.choice([0, 1, 2**35, rate * 3600])).to_bytes(8, "big")
    elif k == 0:  # a WAV rate from 0 to 4 GHz
        b[24:28] = r.choice([0, 1, 7999, 384001, 2**32 - 1]).to_bytes(4, "little")
    elif k == 1 and fmt == "WAV":  # channels 0 or 65535
        b[22:24] = r.choice([0, 17, 65535]).to_bytes(2, "little")
    elif k == 2:
        b = b[: r.randrange(4, len(b))]  # cut short
    elif k == 3:
        for _ in range(r.randrange(1, 6)):
            b[r.randrange(len(b))] = r.randrange(256)
    return bytes(b)


def host_header(r: random.Random, port: int) -> str:
    names = ["127.0.0.1", "localhost", "[::1]", "evil.example", "127.0.0.1.evil.example", "localhost.evil",
             "0x7f.1", "2130706433", "", " ", "a" * 300, "LOCALHOST", "127.0.0.1:99999", "user@127.0.0.1"]
    h = r.choice(names)
    return h + r.choice(["", f":{port}", f":{port + 1}", ":", ":x"])
