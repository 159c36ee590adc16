"""The Max for Live device container (.amxd): the patcher JSON in a small chunked file Live reads.

Layout (little-endian lengths): `ampf`, length 4, the device type (`aaaa` audio effect, `mmmm` MIDI effect, `iiii`
instrument); `meta`, its length, its payload; `ptch`, its length, the patcher JSON (UTF-8, ending in a NUL as Max
writes it). `pack` builds one, `unpack` reads one back (what the tests use to check the shipped device).
"""
from __future__ import annotations

import json
import struct

KINDS = {"audio": b"aaaa", "midi": b"mmmm", "instrument": b"iiii"}
META = b"\x00\x00\x00\x00"


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload


def pack(patcher: dict, kind: str = "audio") -> bytes:
    """A patcher dict ({"patcher": {...}}) -> the bytes of an .amxd of that device type."""
    if kind not in KINDS:
        raise ValueError(f"device type must be one of {', '.join(KINDS)}, got {kind!r}")
    body = json.dumps(patcher, indent=2).encode("utf-8") + b"\n\x00"
    return _chunk(b"ampf", KINDS[kind]) + _chunk(b"meta", META) + _chunk(b"ptch", body)


def unpack(data: bytes) -> tuple[str, bytes, dict]:
    """An .amxd's bytes -> (device type, meta payload, patcher dict). Raises ValueError for anything else."""
    chunks: dict[bytes, bytes] = {}
    order = []
    i = 0
    while i < len(data):
        if len(data) - i < 8:
            raise ValueError(f"truncated chunk header at byte {i}")
        tag, (n,) = data[i : i + 4], struct.unpack("<I", data[i + 4 : i + 8])
        if n > len(data) - i - 8:
            raise ValueError(f"chunk {tag!r} of {n} bytes runs past the end")
        chunks[tag] = data[i + 8 : i + 8 + n]
        order.append(tag)
        i += 8 + n
    if order[:1] != [b"ampf"] or b"ptch" not in chunks:
        raise ValueError("not an .amxd: it must start with an ampf chunk and hold a ptch chunk")
    kind = next((k for k, v in KINDS.items() if v == chunks[b"ampf"]), None)
    if kind is None:
        raise ValueError(f"unknown device type {chunks[b'ampf']!r}")
    text = chunks[b"ptch"].rstrip(b"\x00").decode("utf-8")
    return kind, chunks.get(b"meta", b""), json.loads(text)
