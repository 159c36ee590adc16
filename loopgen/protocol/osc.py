"""The OSC transport, for Max, Pure Data and Ableton. Datagrams in -> commands; events -> reply datagrams.

Numbers may be int or float anywhere (Pd's oscparse sends only floats); several string arguments in a row are one
prompt joined by spaces (Pd splits symbols at spaces); bundle time tags are ignored (everything applies at once).
Each sender has its own defaults (bars, bpm, sampling) and its own latest generation, which stop / extend / set
refer to. Sans-I/O: python-osc is used only to parse and build datagrams.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import messages as M
from .messages import ProtocolError

PREFIX = "/loopgen/"
ADDRESSES = (
    "/loopgen/generate", "/loopgen/continue", "/loopgen/extend", "/loopgen/stop", "/loopgen/prompt",
    "/loopgen/play", "/loopgen/ping", "/loopgen/set/temperature", "/loopgen/set/top_k", "/loopgen/set/top_p",
    "/loopgen/set/cfg_coef", "/loopgen/set/cfg", "/loopgen/set/bars", "/loopgen/set/bpm",
    "/loopgen/set/beats_per_bar", "/loopgen/set/seed", "/loopgen/set/seconds", "/loopgen/set/loop",
)
REPLIES = ("/loopgen/pong", "/loopgen/progress", "/loopgen/done", "/loopgen/error", "/loopgen/started")


@dataclass
class OscSender:
    """What the server remembers about one OSC sender (host, port)."""

    defaults: dict = field(default_factory=dict)  # bars, bpm, beats_per_bar, seed, seconds, loop, sampling
    latest: Any = None  # id of its latest generation
    count: int = 0
    prompts: tuple = ()

    def new_id(self, name: str) -> str:
        self.count += 1
        return f"osc-{name}-{self.count}"


def parse_datagram(data: bytes) -> list[tuple[str, list]]:
    """One UDP datagram -> [(address, args), ...] (bundles flattened, time tags ignored)."""
    from pythonosc.osc_packet import OscPacket

    try:
        packet = OscPacket(data)
    except Exception as e:  # python-osc raises its own parse errors and struct errors
        raise ProtocolError("bad_message", f"not an OSC packet: {type(e).__name__}") from e
    return [(m.message.address, list(m.message.params)) for m in packet.messages]


def _split(args: list) -> tuple[str, list]:
    """Leading string arguments joined as the prompt, then the rest."""
    words = []
    i = 0
    while i < len(args) and isinstance(args[i], str):
        words.append(args[i])
        i += 1
    return " ".join(words), args[i:]


def _num(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ProtocolError("bad_field", f"{what} must be a number, got {v!r}")
    return float(v)


def to_command(address: str, args: list, sender: OscSender, name: str) -> M.Command:
    """Turn one OSC message into a command; updates the sender's defaults and latest id."""
    if not address.startswith(PREFIX):
        raise ProtocolError("unknown_type", f"unknown address {address}; loopgen listens under {PREFIX}")
    if address == "/loopgen/ping":
        return M.Ping(args[0] if args else None)
    if address.startswith("/loopgen/set/"):
        key = address[len("/loopgen/set/") :]
        key = "cfg_coef" if key == "cfg" else key
        if len(args) != 1:
            raise ProtocolError("bad_field", f"{address} takes one value")
        if key in M.SAMPLING_LIMITS:
            changes = M.sampling_changes({key: _num(args[0], key)}, sender.latest)
            sender.defaults.update(changes)
            return M.Set(sender.latest, changes, None)
        limits = {"bars": (0.25, 256, False), "bpm": (20, 400, False), "beats_per_bar": (1, 32, True),
                  "seed": (0, 2**63 - 1, True), "seconds": (0.02, 600, False), "loop": (0, 1, True)}
        if key not in limits:
            raise ProtocolError("unknown_type", f"unknown parameter {key}")
        lo, hi, integer = limits[key]
        sender.defaults[key] = M.number({key: _num(args[0], key)}, key, None, lo, hi, None, integer)
        return M.Set(None, {}, None)  # a default for the next generation: nothing to apply live
    if address == "/loopgen/prompt":
        prompts, i = [], 0
        while i < len(args):
            text, rest = _split(args[i:])
            if not text:
                raise ProtocolError("bad_field", "/loopgen/prompt takes text [weight] [text [weight] ...]")
            weight = 1.0
            consumed = len(args[i:]) - len(rest)
            if rest:
                weight = _num(rest[0], "weight")
                consumed += 1
            prompts.append([text, weight])
            i += consumed
        p = M.weighted_prompts({"prompts": prompts}, sender.latest)
        sender.prompts = p
        return M.Set(sender.latest, {}, p)
    if address == "/loopgen/stop":
        if sender.latest is None:
            raise ProtocolError("unknown_id", "nothing to stop: no generation from this sender yet")
        return M.Stop(sender.latest)
    if address == "/loopgen/play":
        return M.Play(sender.latest)
    if address == "/loopgen/extend":
        if len(args) != 1:
            raise ProtocolError("bad_field", "/loopgen/extend takes f:bars")
        if sender.latest is None:
            raise ProtocolError("unknown_id", "nothing to extend: no generation from this sender yet")
        bars = M.number({"bars": _num(args[0], "bars")}, "bars", None, 0.25, 256)
        of, sender.latest = sender.latest, sender.new_id(name)
        return M.Extend(sender.latest, of, bars, None)
    if address == "/loopgen/generate":
        prompt, rest = _split(args)
        d = {k: v for k, v in sender.defaults.items()}
        if prompt:
            d["prompt"] = prompt
        elif sender.prompts:
            d["prompts"] = [list(p) for p in sender.prompts]
        if rest:
            if len(rest) != 2:
                raise ProtocolError("bad_field", "/loopgen/generate takes s:prompt [f:bars f:bpm]")
            d["bars"], d["bpm"] = _num(rest[0], "bars"), _num(rest[1], "bpm")
        if d.get("bars") is not None and d.get("bpm") is not None:
            d.pop("seconds", None)
        elif "bars" in d or "bpm" in d:
            d.pop("bars", None), d.pop("bpm", None)
        id = sender.new_id(name)
        params = M.generate_params(d, id)
        sender.latest, sender.prompts = id, params.prompts
        return M.Generate(id, params)
    if address == "/loopgen/continue":
        path = None
        if args:
            if not isinstance(args[0], str):
                raise ProtocolError("bad_field", "/loopgen/continue takes [s:wav-path]")
            path, _ = _split(args)
        d = {k: v for k, v in sender.defaults.items()}
        if not sender.prompts:
            raise ProtocolError("bad_field", "send /loopgen/prompt or /loopgen/generate first: continue needs a prompt")
        d["prompts"] = [list(p) for p in sender.prompts]
        if path is None and sender.latest is None:
            raise ProtocolError("unknown_id", "nothing to continue: give a wav path or generate first")
        id = sender.new_id(name)
        params = M.generate_params(d, id)
        cmd = M.ContinueFile(id, params, path) if path else M.Extend(id, sender.latest, None, params.total_seconds())
        sender.latest = id
        return cmd
    raise ProtocolError("unknown_type", f"unknown address {address}")


def reply(event: M.Event) -> tuple[str, list] | None:
    """An event -> (address, args) for OSC senders, or None when OSC has no reply for it."""
    if isinstance(event, M.Pong):
        return "/loopgen/pong", [] if event.data is None else [event.data]
    if isinstance(event, M.Progress):
        return "/loopgen/progress", [float(event.frames / max(1, event.total))]
    if isinstance(event, M.Done):
        return "/loopgen/done", [event.path, float(event.seconds)]
    if isinstance(event, M.Error):
        return "/loopgen/error", [event.message]
    if isinstance(event, M.Started):
        return "/loopgen/started", [str(event.id), float(event.seconds)]
    return None


def build(address: str, args: list) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram
