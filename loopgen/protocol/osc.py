"""The OSC transport, for Max, Pure Data and Ableton. Datagrams in -> commands; events -> reply datagrams.

Numbers may be int or float anywhere (Pd's oscparse sends only floats); several string arguments in a row are one
prompt joined by spaces (Pd splits symbols at spaces); bundle time tags are ignored (everything applies at once).
Each peer has its own defaults (bars, bpm, sampling) and its own latest generation, which stop / extend / set refer
to. A peer is a sender's host (so one-line tools such as liblo's oscsend, which use a new source port per call, are
one peer), or a name the sender gives with /loopgen/hello (so two Max devices on one host are two peers). Sans-I/O:
python-osc is used only to parse and build datagrams.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import messages as M
from .messages import ProtocolError

PREFIX = "/loopgen/"
REPLIES = ("/loopgen/pong", "/loopgen/progress", "/loopgen/done", "/loopgen/error", "/loopgen/started",
           "/loopgen/welcome")
REPLY_PORT = 9001  # where replies go on a sender's host unless it names its own port (hello) or --osc-reply


@dataclass(frozen=True)
class Hello:
    """`/loopgen/hello s:name [i:reply_port]`: this sender is the named peer (its own takes, defaults and replies)."""

    name: str
    reply_port: int | None = None
DEFAULTS = (*M.LENGTH_LIMITS, "loop")  # /loopgen/set/<name>: a default for the sender's next generation


@dataclass
class OscPeer:
    """One OSC sender, sans-I/O: its defaults for the next generation (bars, bpm, sampling, ...), its prompts and
    its latest generation, which stop / extend / set refer to. `receive` turns one message into a command."""

    name: str  # used in the ids it is given: osc-NAME-1, osc-NAME-2, ...
    defaults: dict = field(default_factory=dict)
    latest: Any = None  # id of its latest generation
    count: int = 0
    prompts: tuple = ()

    _before: Any = None  # its latest generation before the one it asked for last...
    _pending: Any = None  # ...which has neither started nor been refused yet

    def new_id(self) -> str:
        self.count += 1
        return f"osc-{self.name}-{self.count}"

    def asked(self, id: Any) -> None:
        """It asked for generation `id`: stop / extend / set refer to it from now on (until it is refused)."""
        self._before, self._pending, self.latest = self.latest, id, id

    def on_event(self, event: M.Event) -> None:
        """An event sent to it: a refused generation (its melody or file unreadable, busy) is not its latest."""
        if isinstance(event, M.Started) and event.id == self._pending:
            self._pending = None
        elif isinstance(event, M.Error) and event.id is not None and event.id == self._pending:
            if self.latest == self._pending:
                self.latest = self._before
            self._pending = None

    def receive(self, address: str, args: list, default_bpm: float | None = None) -> M.Command | None:
        """One OSC message -> a command, or None for a stored default (nothing to apply live). default_bpm: the
        tempo of a request with bars and no bpm (serve --link: the Link session's), or None."""
        handler = HANDLERS.get(address)
        if handler is None:
            where = "" if address.startswith(PREFIX) else f"; loopgen listens under {PREFIX}"
            raise ProtocolError("unknown_type", f"unknown address {address}{where}")
        return handler(self, address, args, default_bpm)


MAX_BUNDLE_DEPTH = 4
MAX_MESSAGES = 64  # per datagram


def parse_datagram(data: bytes) -> list[tuple[str, list]]:
    """One UDP datagram -> [(address, args), ...] (bundles flattened, time tags ignored).

    Bundles are walked here, with every element size checked against what is left and the nesting bounded, so the
    work is bounded by the datagram's length; python-osc parses only single messages (its own bundle parser loops
    forever on a negative element size)."""
    from pythonosc.osc_message import OscMessage

    out: list[tuple[str, list]] = []

    def walk(chunk: bytes, depth: int) -> None:
        if chunk[:8] == b"#bundle\0":
            if depth >= MAX_BUNDLE_DEPTH:
                raise ProtocolError("bad_message", f"OSC bundles nested deeper than {MAX_BUNDLE_DEPTH}")
            i = 16  # "#bundle\0" + 8-byte time tag
            if len(chunk) < i:
                raise ProtocolError("bad_message", "OSC bundle shorter than its header")
            while i < len(chunk):
                if len(chunk) - i < 4:
                    raise ProtocolError("bad_message", "OSC bundle element without a size")
                size = int.from_bytes(chunk[i : i + 4], "big", signed=True)
                i += 4
                if size <= 0 or size % 4 or size > len(chunk) - i:
                    raise ProtocolError("bad_message", f"OSC bundle element of size {size} does not fit")
                walk(chunk[i : i + size], depth + 1)
                i += size
            return
        if not chunk[:1] == b"/":
            raise ProtocolError("bad_message", "not an OSC message or bundle")
        if len(out) >= MAX_MESSAGES:
            raise ProtocolError("bad_message", f"more than {MAX_MESSAGES} OSC messages in one datagram")
        try:
            m = OscMessage(chunk)
        except Exception as e:  # python-osc raises its own parse errors and struct errors
            raise ProtocolError("bad_message", f"not an OSC message: {type(e).__name__}") from e
        out.append((m.address, list(m.params)))

    walk(bytes(data), 0)
    return out


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


def _hello(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> Hello:
    if not args or not isinstance(args[0], str) or not 0 < len(args[0]) <= 64:
        raise ProtocolError("bad_field", "/loopgen/hello takes s:name (1 to 64 characters) [i:reply_port]")
    port = None
    if len(args) > 1:
        port = int(M.number({"reply_port": _num(args[1], "reply_port")}, "reply_port", None, 1, 65535, None, True))
    return Hello(args[0], port)


def _ping(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> M.Command:
    return M.Ping(args[0] if args else None)


def _one(address: str, args: list) -> Any:
    if len(args) != 1:
        raise ProtocolError("bad_field", f"{address} takes one value")
    return args[0]


def _set_sampling(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> M.Command:
    key = address.rsplit("/", 1)[1]
    key = "cfg_coef" if key == "cfg" else key
    changes = M.sampling_changes({key: _num(_one(address, args), key)}, peer.latest)  # as every other path
    peer.defaults.update(changes)
    return None if peer.latest is None else M.Set(peer.latest, changes, None)


def _set_default(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> None:
    key = address.rsplit("/", 1)[1]
    value = {key: _num(_one(address, args), key)}
    peer.defaults[key] = M.flag(value, key, False) if key == "loop" else M.length(value, key, None)
    return None


def _set_model(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> None:
    """/loopgen/set/model s:name: the model of the sender's next generations (no argument: the daemon's default)."""
    if not args:
        peer.defaults.pop("model", None)
        return None
    name = _one(address, args)
    if not isinstance(name, str):
        raise ProtocolError("bad_field", "/loopgen/set/model takes [s:name] (no argument: the default model)")
    peer.defaults["model"] = M.model_field({"model": name}, None)
    return None


def _prompt(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> M.Command:
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
    p = M.weighted_prompts({"prompts": prompts}, peer.latest)
    peer.prompts = p
    return None if peer.latest is None else M.Set(peer.latest, {}, p)


def _melody(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> M.Command | None:
    """/loopgen/melody s:path (an audio file on the daemon's machine; Max and Pd write their buffer to disk), or no
    argument: no melody. Kept for the sender's next generations and applied to its latest one live."""
    if args:
        path = _one(address, args)
        if not isinstance(path, str):
            raise ProtocolError("bad_field", "/loopgen/melody takes [s:path] (no argument: no melody)")
        melody = M.melody_field({"melody": path}, peer.latest)
        peer.defaults["melody"] = path
    else:
        melody = M.Melody()
        peer.defaults.pop("melody", None)
    return None if peer.latest is None else M.Set(peer.latest, {}, None, melody)


def _stop(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> M.Command:
    if peer.latest is None:
        raise ProtocolError("unknown_id", "nothing to stop: no generation from this sender yet")
    return M.Stop(peer.latest)


def _play(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> M.Command:
    return M.Play(peer.latest)


def _extend(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> M.Command:
    bars = _one(address, args)
    if peer.latest is None:
        raise ProtocolError("unknown_id", "nothing to extend: no generation from this sender yet")
    bars = M.length({"bars": _num(bars, "bars")}, "bars", None)
    of = peer.latest
    peer.asked(peer.new_id())
    return M.Extend(peer.latest, of, bars, None)


def _generate(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> M.Command:
    prompt, rest = _split(args)
    d = dict(peer.defaults)
    if prompt:
        d["prompt"] = prompt
    elif peer.prompts:
        d["prompts"] = [list(p) for p in peer.prompts]
    if rest:
        if len(rest) != 2:
            raise ProtocolError("bad_field", "/loopgen/generate takes s:prompt [f:bars f:bpm]")
        d["bars"], d["bpm"] = _num(rest[0], "bars"), _num(rest[1], "bpm")
    if d.get("bars") is not None and (d.get("bpm") is not None or bpm is not None):
        d.pop("seconds", None)
    elif "bars" in d or "bpm" in d:
        d.pop("bars", None), d.pop("bpm", None)
    id = peer.new_id()
    params = M.generate_params(d, id, bpm)
    peer.asked(id)
    peer.prompts = params.prompts
    return M.Generate(id, params)


def _continue(peer: OscPeer, address: str, args: list, bpm: float | None = None) -> M.Command:
    path = None
    if args:
        if not isinstance(args[0], str):
            raise ProtocolError("bad_field", "/loopgen/continue takes [s:wav-path]")
        path, _ = _split(args)
    d = dict(peer.defaults)
    if not peer.prompts:
        raise ProtocolError("bad_field", "send /loopgen/prompt or /loopgen/generate first: continue needs a prompt")
    d["prompts"] = [list(p) for p in peer.prompts]
    if path is None and peer.latest is None:
        raise ProtocolError("unknown_id", "nothing to continue: give a wav path or generate first")
    id = peer.new_id()
    params = M.generate_params(d, id, bpm)
    cmd = M.ContinueFile(id, params, path) if path else M.Extend(id, peer.latest, None, params.total_seconds())
    peer.asked(id)
    return cmd


# the dispatch table: its keys are the documented addresses (docs/protocol.md)
HANDLERS = {
    "/loopgen/generate": _generate, "/loopgen/continue": _continue, "/loopgen/extend": _extend,
    "/loopgen/stop": _stop, "/loopgen/prompt": _prompt, "/loopgen/play": _play, "/loopgen/ping": _ping,
    "/loopgen/hello": _hello, "/loopgen/melody": _melody,
    **{f"/loopgen/set/{k}": _set_sampling for k in (*M.REQUEST_LIMITS, "cfg")},
    **{f"/loopgen/set/{k}": _set_default for k in DEFAULTS},
    "/loopgen/set/model": _set_model,
}
ADDRESSES = tuple(HANDLERS)


def reply(event: M.Event) -> tuple[str, list] | None:
    """An event -> (address, args) for OSC senders, or None when OSC has no reply for it."""
    if isinstance(event, M.Pong):
        return "/loopgen/pong", [] if event.data is None else [event.data]
    if isinstance(event, M.Progress):
        return "/loopgen/progress", [float(event.frames / max(1, event.total))]
    if isinstance(event, M.Done):
        if not event.path:  # stopped before its first audio: nothing to load, said as an error a patch prints
            return "/loopgen/error", [f"{event.id} was stopped before its first audio: nothing saved"]
        return "/loopgen/done", [event.path, float(event.seconds)]
    if isinstance(event, M.Error):
        return "/loopgen/error", [event.message]
    if isinstance(event, M.Started):
        return "/loopgen/started", [str(event.id), float(event.seconds)]
    if isinstance(event, M.Welcome):
        rtf = -1.0 if event.realtime_factor is None else float(event.realtime_factor)  # -1: not measured
        return "/loopgen/welcome", [event.model, int(event.sample_rate), int(event.channels), rtf]
    return None


def build(address: str, args: list) -> bytes:
    """An OSC datagram. Arguments python-osc cannot write back (a timetag, a double past float32, odd types) are
    dropped rather than failing the reply."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    try:
        b = OscMessageBuilder(address=address)
        for a in args:
            b.add_arg(a)
        return b.build().dgram
    except Exception:
        return OscMessageBuilder(address=address).build().dgram
