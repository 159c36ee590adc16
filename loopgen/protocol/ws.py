"""The WebSocket transport: one msgpack map with a `type` per binary message. Bytes in -> a validated command,
event -> bytes out. No sockets here."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import msgpack

from . import messages as M
from .messages import ProtocolError

EVENT_TYPES = {
    M.Welcome: "welcome", M.Started: "started", M.Audio: "audio", M.Frames: "frames", M.Progress: "progress",
    M.Done: "done", M.Error: "error", M.Pong: "pong", M.Queued: "queued",
    M.Playing: "playing", M.WorkerList: "workers", M.Moved: "moved",
}
COMMAND_TYPES = ("hello", "generate", "continue", "extend", "set", "stop", "play", "ping", "workers")


def decode_command(data: bytes | str, max_bytes: int = M.MAX_MESSAGE_BYTES, default_bpm: float | None = None
                   ) -> M.Command:
    """Parse and validate one client message. Raises ProtocolError (with the message's id when it has one)."""
    if isinstance(data, str):
        raise ProtocolError("bad_message", "send msgpack in binary WebSocket messages, not text")
    if len(data) > max_bytes:
        raise ProtocolError("too_large", f"message of {len(data)} bytes is over the {max_bytes}-byte limit")
    try:
        d = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as e:  # msgpack raises several unrelated exception types for bad input
        raise ProtocolError("bad_message", f"not valid msgpack: {type(e).__name__}") from e
    if not isinstance(d, dict):
        raise ProtocolError("bad_message", f"a message is a msgpack map, got {type(d).__name__}")
    if _depth(d) > MAX_DEPTH:
        raise ProtocolError("bad_message", f"a message nests deeper than {MAX_DEPTH} levels")
    return command_from_map(d, default_bpm)


MAX_DEPTH = 16  # nesting of lists and maps in a message (commands need 3)


def _depth(v, limit: int = MAX_DEPTH + 1) -> int:
    """Nesting depth of lists and maps, counted without recursion and no further than `limit`."""
    depth, level = 0, [v]
    while level and depth < limit:
        nxt = []
        for x in level:
            if isinstance(x, dict):
                nxt.extend(x.values())
            elif isinstance(x, (list, tuple)):
                nxt.extend(x)
        if not nxt:
            break
        depth += 1
        level = nxt
    return depth


def command_from_map(d: dict, default_bpm: float | None = None) -> M.Command:
    kind = d.get("type")
    if kind not in COMMAND_TYPES:
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}; known: {', '.join(COMMAND_TYPES)}",
                            d.get("id") if isinstance(d.get("id"), (str, int)) else None)
    if kind == "ping":
        data = d.get("data")
        if len(msgpack.packb(data, use_bin_type=True)) > M.MAX_PING_BYTES:  # echoed back: keep it small
            raise ProtocolError("too_large", f"ping data must pack to at most {M.MAX_PING_BYTES} bytes")
        return M.Ping(data)
    if kind == "workers":
        return M.Workers()
    if kind == "hello":
        proto = M.number(d, "protocol", None, 1, 1000, integer=True)
        if proto is None:
            raise ProtocolError("bad_field", "hello needs protocol (an integer; this server speaks 1)")
        return M.Hello(proto, M.text(d, "client", required=False, default="") or "",
                       M.text(d, "token", required=False), M.flag(d, "codes", False))
    if kind in ("play", "stop"):
        return (M.Play if kind == "play" else M.Stop)(M.message_id(d, required=False))
    id = M.message_id(d)
    if kind == "generate":
        return M.Generate(id, M.generate_params(d, id, default_bpm))
    if kind == "continue":
        rate = M.number(d, "sample_rate", None, 8000, 384000, id, integer=True)
        channels = M.number(d, "channels", 1, 1, 16, id, integer=True)
        if rate is None:
            raise ProtocolError("bad_field", "continue needs sample_rate", id)
        fmt = M.text(d, "format", id, required=False, default="f32le")
        audio = M.pcm_audio(d.get("audio"), channels, fmt, id)
        if audio.shape[-1] / rate > M.MAX_CONTINUE_SECONDS:  # counted in time, not bytes: the work follows time
            raise ProtocolError("out_of_range", f"at most {M.MAX_CONTINUE_SECONDS:g} s of audio to continue, got "
                                f"{audio.shape[-1] / rate:.0f} s", id)
        return M.Continue(id, M.generate_params(d, id, default_bpm), audio, rate)
    if kind == "extend":
        of = d.get("of")
        if isinstance(of, bool) or not isinstance(of, (str, int)):
            raise ProtocolError("bad_field", "extend needs `of`: the id of a finished generation", id)
        bars = M.length(d, "bars", None, id)
        seconds = M.length(d, "seconds", None, id)
        if (bars is None) == (seconds is None):
            raise ProtocolError("bad_field", "extend needs bars or seconds (one of them)", id)
        return M.Extend(id, of, bars, seconds)
    if kind == "set":
        changes = M.sampling_changes(d, id)
        prompts = M.weighted_prompts(d, id, required=False)
        melody = M.melody_field(d, id)
        if not changes and prompts is None and melody is None:
            raise ProtocolError("bad_field", "set needs a parameter (temperature, top_k, top_p, cfg_coef), prompt(s) "
                                "or a melody", id)
        return M.Set(id, changes, prompts, melody)
    return M.Stop(id)  # id None (absent): the latest generation anyone started


class WsPeer:
    """One WebSocket peer, sans-I/O: its hello, the token it must show, and what each message it sends means.

    `receive(bytes)` returns (command for the model, or None; events to send back; close reason, or None). Ping is
    answered here, hello checked here, and nothing but ping and hello is accepted before a good hello."""

    def __init__(self, token: str | None, welcome: M.Welcome, max_bytes: int = M.MAX_MESSAGE_BYTES):
        self.token = token
        self.welcome = welcome
        self.max_bytes = max_bytes
        self.hello: M.Hello | None = None

    @property
    def wants_codes(self) -> bool:
        return bool(self.hello and self.hello.codes)

    def receive(self, data: bytes | str, default_bpm: float | None = None
                ) -> tuple[M.Command | None, list[M.Event], str | None]:
        """default_bpm: the tempo of a request with bars and no bpm (serve --link: the Link session's), or None."""
        try:
            cmd = decode_command(data, self.max_bytes, default_bpm)
            if isinstance(cmd, M.Ping):
                return None, [M.Pong(cmd.data)], None
            if isinstance(cmd, M.Hello):
                if cmd.protocol != M.PROTOCOL_VERSION:
                    raise ProtocolError("bad_protocol", f"this server speaks protocol {M.PROTOCOL_VERSION}, not {cmd.protocol}")
                if self.token and cmd.token != self.token:
                    return None, [M.Error("unauthorized", "wrong or missing token")], "unauthorized"
                self.hello = cmd
                return None, [self.welcome], None
            if self.hello is None:
                raise ProtocolError("not_ready", "send hello first", getattr(cmd, "id", None))
            return cmd, [], None
        except ProtocolError as e:
            return None, [M.Error(e.code, e.message, e.id)], None


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def event_to_map(event: M.Event) -> dict:
    d = {"type": EVENT_TYPES[type(event)]}
    for k, v in asdict(event).items() if not isinstance(event, M.Audio) else vars(event).items():
        if v is None and k == "id":
            continue
        d[k] = _plain(v)
    return d


def encode_event(event: M.Event) -> bytes:
    return msgpack.packb(event_to_map(event), use_bin_type=True)


def decode_event(data: bytes) -> dict:
    """For clients: bytes -> the event map (`type` plus fields)."""
    d = msgpack.unpackb(data, raw=False, strict_map_key=False)
    if not isinstance(d, dict) or "type" not in d:
        raise ProtocolError("bad_message", "server message is not a map with a type")
    return d


def encode_command(kind: str, **fields: Any) -> bytes:
    """For clients: a command map -> bytes (no validation; the server validates)."""
    return msgpack.packb({"type": kind, **fields}, use_bin_type=True)
