"""Runs the Max device's patch without Max: the subset of Max / MSP objects loopgen.maxpat uses, as documented by
Cycling '74 (messages right to left, signal fan-in summed, control floats into signal inlets), so tests can press its
buttons, hear its output sample by sample and let it talk OSC over real UDP to a real daemon.

Types follow Max's documentation, so a patch bug of that kind fails a test here as it would misbehave in Max:
arithmetic objects ([+ 1], [!- 1], [* 2], [== 1], [maximum 1]) compute in ints unless their argument is a float
(a float into an int object is truncated, in either inlet); [expr] types each operand ($i ints, $f floats, 2 an int,
2. a float), divides ints as C does and outputs an int when its result is one; [pack] and [unpack] convert to the
type each argument names; [deferlow] sends its message later, after the event that brought it has finished.

Live is played by the test: `transport` (position in bars, tempo, running) drives [phasor~ ... @lock 1] and
[transport]; `live_tempo` answers [live.observer]; calls made through [live.object] are recorded in `live_calls`.
Max for Live's `---` prefix becomes this device's own number, as Live makes it per device.
"""
from __future__ import annotations

import ast
import heapq
import itertools
import math
import operator
import random
import re
import socket

import numpy as np
import soundfile as sf

from loopgen.protocol.osc import build, parse_datagram

Msg = list  # a Max message: ["bang"], [3.0], ["symbol-or-selector", args...]


def _atoms(text: str) -> list:
    out = []
    for w in text.split():
        try:
            out.append(int(w) if re.fullmatch(r"-?\d+", w) else float(w))
        except ValueError:
            out.append(w)
    return out


def _typed(kind, v):
    """v converted to the type a [pack] / [unpack] argument names: i or an int, f or a float, s or a symbol."""
    if kind == "f" or isinstance(kind, float):
        return float(v)
    if kind == "i" or (isinstance(kind, int) and not isinstance(kind, bool)):
        return int(v)  # Max truncates a float into an int
    return v


def _c_div(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return int(a / b) if b else 0  # C: toward zero; expr's int division by 0 gives 0
    return a / b if b else 0.0


def _c_mod(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return int(math.fmod(a, b)) if b else 0
    return math.fmod(a, b) if b else 0.0


_EXPR_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: _c_div, ast.Mod: _c_mod}
_EXPR_FUNCS = {"floor": math.floor, "ceil": math.ceil, "int": int, "float": float, "abs": abs, "min": min,
               "max": max, "pow": pow, "sqrt": math.sqrt}


def expr_eval(text: str, inlets: dict[int, object]) -> int | float:
    """[expr text] with its inlets' values, typed as Max types them: $iN an int, $fN a float, a literal 2 an int
    and 2. a float; int op int stays an int (C division); floor() of a float is a float in expr."""
    src = re.sub(r"\$([if])(\d+)", lambda m: f"_{m.group(1)}{m.group(2)}", text)

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.Name):
            kind, k = n.id[1], int(n.id[2:])
            v = inlets.get(k, 0)
            return float(v) if kind == "f" else int(v)
        if isinstance(n, ast.BinOp):
            return _EXPR_OPS[type(n.op)](ev(n.left), ev(n.right))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -ev(n.operand)
        if isinstance(n, ast.Compare) and len(n.ops) == 1:
            ops = {ast.Lt: operator.lt, ast.Gt: operator.gt, ast.LtE: operator.le, ast.GtE: operator.ge,
                   ast.Eq: operator.eq, ast.NotEq: operator.ne}
            return int(ops[type(n.ops[0])](ev(n.left), ev(n.comparators[0])))
        if isinstance(n, ast.Call):
            args = [ev(a) for a in n.args]
            f = n.func.id
            if f in ("floor", "ceil"):  # expr's floor/ceil keep the operand's type
                r = _EXPR_FUNCS[f](args[0])
                return float(r) if isinstance(args[0], float) else int(r)
            return _EXPR_FUNCS[f](*args)
        raise ValueError(f"expr: {text!r} uses what this simulator does not know")

    return ev(ast.parse(src, mode="eval"))


class Device:
    def __init__(self, patcher: dict, *, instance: int, send_port: int, sr: int = 32000, vector: int = 64,
                 seed: int = 0):
        p = patcher["patcher"]
        self.sr, self.vector, self.rng = sr, vector, random.Random(seed)
        self.boxes = {b["box"]["id"]: dict(b["box"]) for b in p["boxes"]}
        for b in self.boxes.values():  # Max for Live makes --- unique per device
            if "text" in b:
                b["text"] = b["text"].replace("---", f"{instance:03d}")
        self.cls = {i: (b.get("text", "").split() or [b["maxclass"]])[0] if b["maxclass"] == "newobj"
                    else b["maxclass"] for i, b in self.boxes.items()}
        self.args = {i: _atoms(b.get("text", "")) [1:] if b["maxclass"] == "newobj" else [] for i, b in self.boxes.items()}
        self.wires: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self.feeds: dict[tuple[str, int], list[tuple[str, int]]] = {}  # signal inlet <- outlets
        for ln in p["lines"]:
            (a, o), (b, i) = ln["patchline"]["source"], ln["patchline"]["destination"]
            self.wires.setdefault((a, o), []).append((b, i))
            self.feeds.setdefault((b, i), []).append((a, o))
        self.state: dict[str, dict] = {i: {} for i in self.boxes}
        self.shown = {i: b.get("text", "") for i, b in self.boxes.items() if b["maxclass"] == "message"}
        self.ms = 0.0  # scheduler time
        self.log: list[tuple[float, str, str]] = []  # (ms, message box, text it was set to)
        self.queue: list = []
        self.seq = itertools.count()
        self.transport = {"bars": 0.0, "tempo": 120.0, "running": False}
        self.live_tempo = 120.0
        self.live_calls: list[tuple] = []
        self.live_paths: dict[int, str] = {}
        self.sent: list[list] = []
        self.received: list[list] = []
        self.out: list[np.ndarray] = []  # plugout~ blocks [vector, 2]
        self.buffers: dict[str, tuple[np.ndarray, int]] = {}
        self.out_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.target = ("127.0.0.1", send_port)
        self.in_sock: socket.socket | None = None
        self.load()

    # -- the test's hands ---------------------------------------------------------------------------------------
    def load(self) -> None:
        for i, c in self.cls.items():
            if c == "loadbang":
                self._out(i, 0, ["bang"])
            if c == "metro" and "@active" in self.args[i]:
                self.send(i, 0, [1])
        for i, c in self.cls.items():
            if c == "live.thisdevice":
                self._out(i, 0, ["bang"])
        for i in self.boxes:  # Live restores its parameters: each sends its initial value when enabled
            p = self.parameter(i)
            if p is not None and p.get("parameter_initial_enable") and p.get("parameter_initial"):
                self._out(i, 0, list(p["parameter_initial"]))

    def parameter(self, id: str) -> dict | None:
        """A Live parameter's settings as Max stores them (saved_attribute_attributes -> valueof, with
        parameter_enable on the box), or None for a box that is not one. Keys anywhere else mean nothing to Live."""
        b = self.boxes[id]
        if not b.get("parameter_enable"):
            return None
        return b.get("saved_attribute_attributes", {}).get("valueof", {})

    def press(self, id: str) -> None:
        self._out(id, 0, ["bang"])

    def set(self, id: str, value) -> None:
        """A UI object changed by the user (number, dial) or text typed into the textedit."""
        if self.cls[id] == "textedit":
            self.boxes[id]["text"] = str(value)
            self._out(id, 0, ["text", *str(value).split()])
        else:
            p = self.parameter(id) if self.cls[id].startswith("live.") else None
            if p is not None:  # Live keeps a parameter in its range (0-127 when the device gives none)
                lo, hi = p.get("parameter_mmin", 0.0), p.get("parameter_mmax", 127.0)
                value = min(max(value, lo), hi)
                if p.get("parameter_type") == 1:
                    value = int(round(value))
            self._out(id, 0, [value])

    def set_live_tempo(self, bpm: float) -> None:
        self.live_tempo = self.transport["tempo"] = bpm
        for i, c in self.cls.items():
            if c == "live.observer" and self.state[i].get("property") == "tempo" and self.state[i].get("id"):
                self._out(i, 0, [float(bpm)])

    def run(self, ms: float) -> None:
        """Advance the scheduler and the signal chain by ms, polling the network between vectors."""
        end = self.ms + ms
        while self.ms < end:
            self.poll()
            while self.queue and self.queue[0][0] <= self.ms:
                _, _, fn = heapq.heappop(self.queue)
                fn()
            self._dsp()
            self.ms += self.vector / self.sr * 1000

    def poll(self) -> None:
        while self.in_sock is not None:
            try:
                data = self.in_sock.recv(65536)
            except (BlockingIOError, OSError):
                return
            for address, args in parse_datagram(data):
                self.received.append([address, *args])
                for i, c in self.cls.items():
                    if c == "udpreceive":
                        self._out(i, 0, [address, *args])

    def output(self) -> np.ndarray:
        return np.concatenate(self.out) if self.out else np.zeros((0, 2))

    # -- messages -----------------------------------------------------------------------------------------------
    def _out(self, id: str, outlet: int, msg: Msg) -> None:
        for b, i in self.wires.get((id, outlet), []):
            self.send(b, i, msg)

    def _later(self, ms: float, fn) -> None:
        heapq.heappush(self.queue, (self.ms + ms, next(self.seq), fn))

    def send(self, id: str, inlet: int, msg: Msg) -> None:  # noqa: C901 - one branch per object class
        c, a, st = self.cls[id], self.args[id], self.state[id]
        bang = msg == ["bang"]
        if c.endswith("~") and inlet > 0 and c not in ("snapshot~", "buffer~"):
            st[inlet] = float(msg[0])  # a float into a signal inlet
        elif c == "message":
            if msg[:1] == ["set"]:
                self.shown[id] = " ".join(str(x) for x in msg[1:])
                self.log.append((self.ms, id, self.shown[id]))
            else:
                text = self.shown[id]
                for k, v in enumerate(msg if not bang else [], 1):
                    text = text.replace(f"${k}", str(v))
                self._out(id, 0, _atoms(text))
        elif c in ("t", "trigger"):
            for k in reversed(range(len(a))):
                kind = a[k]
                self._out(id, k, ["bang"] if kind == "b" else [float(msg[0])] if kind == "f" else
                          [int(msg[0])] if kind == "i" else msg[:1] if kind == "s" else msg)
        elif c == "route":
            k = a.index(msg[0]) if msg[0] in a else len(a)
            self._out(id, k, (msg[1:] or ["bang"]) if k < len(a) else msg)
        elif c == "unpack":
            for k in reversed(range(len(a))):
                if k < len(msg):
                    self._out(id, k, [_typed(a[k], msg[k])])
        elif c == "prepend":
            self._out(id, 0, [*a, *msg])
        elif c in ("i", "f"):
            cast = int if c == "i" else float
            if inlet == 1:
                st["v"] = cast(msg[0])
            else:
                if not bang:
                    st["v"] = cast(msg[0])
                self._out(id, 0, [st.get("v", cast(a[0]) if a else cast(0))])
        elif c in ("!-", "+", "*", "==", "maximum"):
            cast = float if a and isinstance(a[0], float) else int  # typed by the argument (none: int)
            if inlet == 1:
                st["arg"] = cast(msg[0])
                return
            k = st.get("arg", cast(a[0]) if a else 0)
            if bang:
                x = st.get("x", cast(0))
            else:
                x = st["x"] = cast(msg[0])
            r = {"!-": lambda: k - x, "+": lambda: x + k, "*": lambda: x * k, "==": lambda: int(x == k),
                 "maximum": lambda: max(x, k)}[c]()
            self._out(id, 0, [r if c == "==" else cast(r)])
        elif c == "expr":
            if inlet > 0:
                st[inlet + 1] = msg[0]
                return
            st[1] = st.get(1, 0) if bang else msg[0]
            self._out(id, 0, [expr_eval(" ".join(str(x) for x in a), {k: v for k, v in st.items() if isinstance(k, int)})])
        elif c == "gate":
            if inlet == 0:
                st["open"] = int(msg[0])
            elif st.get("open", 0) > 0:
                self._out(id, st["open"] - 1, msg)
        elif c == "random":
            self._out(id, 0, [self.rng.randrange(int(a[0]))])
        elif c == "metro":
            on = bang or msg[0] != 0
            st["gen"] = st.get("gen", 0) + 1
            if on:
                self._tick(id, st["gen"])
        elif c == "delay":
            st["gen"] = st.get("gen", 0) + 1
            if msg != ["stop"]:
                gen = st["gen"]
                self._later(float(a[0]), lambda: st["gen"] == gen and self._out(id, 0, ["bang"]))
        elif c == "deferlow":  # the low-priority queue: after the event that brought it
            self._later(0.0, lambda m=list(msg): self._out(id, 0, m))
        elif c in ("textbutton", "live.numbox", "flonum", "live.dial"):
            if c in ("live.numbox", "flonum", "live.dial"):
                st["v"] = msg[0]
            self._out(id, 0, msg)
        elif c == "pack":
            st.setdefault("v", [_typed(k, 0) if k != "s" else "" for k in a])
            if not bang:
                st["v"][inlet] = _typed(a[inlet], msg[0])
            if inlet == 0:
                self._out(id, 0, list(st["v"]))
        elif c == "textedit":
            self._out(id, 0, ["text", *self.boxes[id]["text"].split()])
        elif c == "slider":
            st["v"] = float(msg[0])
        elif c == "tosymbol":
            self._out(id, 0, [" ".join(str(x) for x in msg)])
        elif c == "zl":  # zl reg
            if inlet == 1:
                st["v"] = msg
            elif "v" in st:
                self._out(id, 0, st["v"])
        elif c == "udpsend":
            self.sent.append(msg)
            self.out_sock.sendto(build(str(msg[0]), list(msg[1:])), self.target)
        elif c == "udpreceive" and msg[0] == "port":
            if self.in_sock is not None:
                self.in_sock.close()
            self.in_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.in_sock.bind(("127.0.0.1", int(msg[1])))
            self.in_sock.setblocking(False)
        elif c == "transport" and bang:
            self._out(id, 7, [int(self.transport["running"])])
            self._out(id, 4, [float(self.transport["tempo"])])
            self._out(id, 0, [int(self.transport["bars"]) + 1])
        elif c == "live.path":
            path = " ".join(map(str, msg[1:]))
            ids = {v: k for k, v in self.live_paths.items()}
            self.live_paths[ids.get(path, len(ids) + 1)] = path
            self._out(id, 0, ["id", ids.get(path, len(ids) + 1)])
        elif c == "live.observer":
            if inlet == 1:
                st["id"] = msg[1]
            elif msg[0] == "property":
                st["property"] = msg[1]
            if st.get("id") and st.get("property") == "tempo":
                self._out(id, 0, [float(self.live_tempo)])
        elif c == "live.object":
            if inlet == 1:
                st["id"] = msg[1]
            elif msg[0] == "call":
                self.live_calls.append((self.live_paths.get(st.get("id")), msg[1], *msg[2:]))
        elif c == "buffer~" and msg[0] == "replace":
            data, rate = sf.read(str(msg[1]), dtype="float64", always_2d=True)
            self.buffers[a[0]] = (data, rate)
        elif c == "snapshot~" and bang:
            self._out(id, 0, [float(st.get("last", 0.0))])

    def _tick(self, id: str, gen: int) -> None:
        st = self.state[id]
        if st.get("gen") != gen:
            return
        self._out(id, 0, ["bang"])
        self._later(float(self.args[id][0]), lambda: self._tick(id, gen))

    # -- signals: one vector at a time --------------------------------------------------------------------------
    def _dsp(self) -> None:
        n, t = self.vector, self.transport
        step = t["tempo"] / 60 / 4 / self.sr if t["running"] else 0.0
        self._bars = t["bars"] + step * np.arange(n)
        t["bars"] += step * n
        memo: dict = {}
        for i, c in self.cls.items():
            if c == "plugout~":
                self.out.append(np.stack([self._inlet(i, 0, memo), self._inlet(i, 1, memo)], 1))
            elif c == "snapshot~":
                self.state[i]["last"] = self._inlet(i, 0, memo)[-1]

    def _inlet(self, id: str, k: int, memo: dict, default: float = 0.0) -> np.ndarray:
        feeds = self.feeds.get((id, k), [])
        sig = [(a, o) for a, o in feeds if self.cls[a].endswith("~") and self.cls[a] not in ("snapshot~",)]
        if sig:
            return sum(self._sig(a, o, memo) for a, o in sig)
        a = self.args[id][1:] if self.cls[id] == "wave~" else self.args[id]  # wave~ NAME start end chans
        v = self.state[id].get(k, a[k - 1] if 0 < k <= len(a) and isinstance(a[k - 1], (int, float)) else default)
        return np.full(self.vector, float(v))

    def _sig(self, id: str, outlet: int, memo: dict) -> np.ndarray:
        if (id, outlet) in memo:
            return memo[id, outlet]
        c, a, st = self.cls[id], self.args[id], self.state[id]
        x = lambda k, d=0.0: self._inlet(id, k, memo, d)  # noqa: E731
        if c == "phasor~":
            period = float(str(a[0]).split(".")[0])  # bars.beats.units: a whole number of bars here
            y = np.mod(self._bars, period) / period
        elif c in ("*~", "+~", "-~", "/~", "%~", "!-~", ">=~", "!=~"):
            l, r = x(0), x(1)
            y = {"*~": lambda: l * r, "+~": lambda: l + r, "-~": lambda: l - r, "/~": lambda: l / r,
                 "%~": lambda: np.fmod(l, r), "!-~": lambda: r - l, ">=~": lambda: (l >= r) * 1.0,
                 "!=~": lambda: (l != r) * 1.0}[c]()
        elif c == "delta~":
            v = x(0)
            y = np.diff(v, prepend=st.get("prev", v[0]))
            st["prev"] = v[-1]
        elif c == "slide~":
            s = float(a[0])
            from scipy.signal import lfilter  # (2 s to import: only where a slide~ runs, not at collection)

            y, st["zi"] = lfilter([1 / s], [1, -(1 - 1 / s)], x(0), zi=st.get("zi", np.zeros(1)))
        elif c == "wave~":
            name, chans = a[0], int(a[3])
            data, rate = self.buffers.get(name, (np.zeros((1, 1)), self.sr))
            start, end = x(1) * rate / 1000, x(2) * rate / 1000
            pos = np.clip(start + np.clip(x(0), 0, 1) * (end - start), 0, data.shape[0] - 1)
            i0 = np.floor(pos).astype(int)
            i1, frac = np.minimum(i0 + 1, data.shape[0] - 1), pos - i0
            for ch in range(chans):
                col = data[:, ch] if ch < data.shape[1] else np.zeros(data.shape[0])
                memo[id, ch] = col[i0] * (1 - frac) + col[i1] * frac
            return memo[id, outlet]
        elif c == "live.gain~":
            y = x(outlet) if outlet < 2 else np.zeros(self.vector)
        else:  # plugin~: no track input in tests
            y = np.zeros(self.vector)
        memo[id, outlet] = y
        return y
