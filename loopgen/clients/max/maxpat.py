"""Builds loopgen.maxpat, the Max / Max for Live patch, and loopgen.amxd, the same patch as a Max for Live audio
effect device (`python -m loopgen.clients.max.maxpat` rewrites both).

The patch is data; this script is its source, so the layout and every connection are reviewable in one place, a test
checks the shipped files equal what it builds, and another runs the patch (tests/clients/maxsim.py) against a real
daemon. OSC goes out through [udpsend]; replies come back through [udpreceive] -> [deferlow] (network input deferred
to the low-priority queue, as Max for Live wants).

Playing in time with Live: a transport-locked [phasor~ 1024.0.0 @lock 1] times 1024 is Live's song position in bars,
sample for sample. Each take goes into one of two players (A, B, in turn) with its start bar c0 = the next bar line
and its length N in bars; a player reads its take at ((T - c0) mod N) / N, so the take starts from its beginning on
the next bar and stays in phase; until then the other player's take plays on. Which player is heard is decided per
sample (T >= c0), so the switch lands on the bar line, through a one-pole glide (slide~ 64) against clicks. Stereo takes play in stereo; a mono
model's take (the daemon's /loopgen/welcome says how many channels) is copied to both sides. While Live's transport is
stopped the position stands still and the device is silent.

Many devices in one Live set: each device's buffers are its own (`---` names, which Max for Live makes unique per
device), and each listens on its own reply port, drawn at load, which it announces with `/loopgen/hello ---loopgen
PORT` (at load, every 2 s, and before every request, so a daemon started later still learns it): the daemon sends
each device its own replies, and no `--osc-reply` is needed. The daemon answers each hello with /loopgen/welcome,
which the device shows as its status; five seconds without one and it says the daemon is not reachable.
"""
from __future__ import annotations

import json
from pathlib import Path

from .amxd import pack

OUT = Path(__file__).with_name("loopgen.maxpat")
DEVICE = Path(__file__).with_name("loopgen.amxd")
SEND_PORT, REPLY_PORT = 9000, 9001  # the reply port a device starts on; it moves to its own at load
PORT_BASE, PORT_SPAN = 40000, 20000  # each device's reply port: PORT_BASE + random(PORT_SPAN)
SONG_BARS = 1024  # the locked phasor's period: song positions are read modulo this many bars
NOT_STARTED = 100000.0  # a player's start bar before its first take (never reached: silent)
WATCHDOG_MS, HELLO_MS = 5000, 2000
DOWN = "set not reachable: start the daemon with loopgen serve (see clients.md)"
LOOKING = "looking for loopgen serve on 127.0.0.1:9000 ..."
SPEED = "speed (1 = real time, -1 = ?):"  # then the daemon's measured real-time factor on its machine

FLOAT, INT = 0, 1  # Live parameter types (parameter_type), as Max writes them
UNITS = {FLOAT: 1, INT: 0, "dB": 4}  # parameter_unitstyle: 0 int, 1 float, 4 decibels


def parameter(longname: str, shortname: str, kind: int, lo: float, hi: float, initial: float,
              unitstyle: int | None = None, outlets: list | None = None) -> dict:
    """A Live parameter's box keys, where Max itself puts them (learnt from devices Max saved:
    tests/clients/fixtures/max_parameters.json): `parameter_enable` on the box, the range, initial value and names
    in `saved_attribute_attributes` -> `valueof`; Live then shows the range, starts at `initial` (sent when the
    device loads) and lists the parameter by its long name for automation."""
    return {
        "outlettype": outlets or ["", "float"],
        "parameter_enable": 1,
        "saved_attribute_attributes": {"valueof": {
            "parameter_initial": [initial], "parameter_initial_enable": 1, "parameter_longname": longname,
            "parameter_mmax": float(hi), "parameter_mmin": float(lo), "parameter_shortname": shortname,
            "parameter_type": kind, "parameter_unitstyle": UNITS[kind] if unitstyle is None else unitstyle}},
    }


class Patch:
    """The boxes and patch lines of one patcher being built (each `build` makes its own)."""

    def __init__(self) -> None:
        self.boxes: dict[str, tuple] = {}  # id: (maxclass, text or None, x, y, width, inlets, outlets, extra)
        self.lines: list[tuple[str, int, str, int]] = []

    def box(self, id, cls, label, x, y, w=120, ins=1, outs=1, pres=None, **extra):
        """One box; `pres` = [x, y, w, h] puts it in the presentation view (what a Live user sees on the device)."""
        if pres is not None:
            extra = {"presentation": 1, "presentation_rect": list(pres), **extra}
        self.boxes[id] = (cls, label, x, y, w, ins, outs, extra)

    def line(self, a, outlet, b, inlet):
        self.lines.append((a, outlet, b, inlet))


def _identity(pt: Patch) -> None:
    """Its own reply port, announced with hello at load, every 2 s and before each request; the daemon's welcome
    answers (status), and its silence for 5 s shows 'not reachable'."""
    pt.box("load", "newobj", "loadbang", 860, 10, 60, 1, 1)
    pt.box("load-trig", "newobj", "t b b b b b", 860, 40, 90, 1, 5)
    pt.box("port-rand", "newobj", f"random {PORT_SPAN}", 940, 70, 90, 2, 1)
    pt.box("port-add", "newobj", f"+ {PORT_BASE}", 940, 100, 60, 2, 1)
    pt.box("port-trig", "newobj", "t i i", 940, 130, 50, 1, 2)
    pt.box("port-store", "newobj", "i", 860, 160, 30, 2, 1)
    pt.box("port-msg", "message", "port $1", 1000, 160, 60, 2, 1)
    pt.box("hello", "newobj", "prepend /loopgen/hello ---loopgen", 860, 190, 220, 1, 1)
    pt.box("hello-on", "message", "1", 800, 70, 30, 2, 1)
    pt.box("hello-metro", "newobj", f"metro {HELLO_MS}", 800, 100, 80, 2, 1)
    pt.box("watchdog", "newobj", f"delay {WATCHDOG_MS}", 1100, 40, 80, 2, 1)
    pt.box("down-msg", "message", DOWN, 1100, 70, 300, 2, 1)
    pt.line("load", 0, "load-trig", 0)
    pt.line("load-trig", 4, "port-rand", 0)  # right to left: draw the port, announce it, start the watchdog and the
    pt.line("load-trig", 3, "port-store", 0)  # hello metro, then send the prompt box's text (so generate has a prompt)
    pt.line("load-trig", 2, "watchdog", 0)
    pt.line("load-trig", 1, "hello-on", 0)
    pt.line("load-trig", 0, "prompt", 0)
    pt.line("hello-on", 0, "hello-metro", 0)
    pt.line("hello-metro", 0, "port-store", 0)
    pt.line("port-rand", 0, "port-add", 0)
    pt.line("port-add", 0, "port-trig", 0)
    pt.line("port-trig", 1, "port-msg", 0)
    pt.line("port-msg", 0, "recv", 0)
    pt.line("port-trig", 0, "port-store", 1)
    pt.line("port-store", 0, "hello", 0)
    pt.line("hello", 0, "send", 0)
    pt.line("watchdog", 0, "down-msg", 0)
    pt.line("down-msg", 0, "status", 0)


def _requests(pt: Patch) -> None:
    """Prompt, generate / continue / extend / stop, the dials; each request first sends hello, the tempo and bars."""
    pt.box("prompt", "textedit", None, 20, 40, 360, 1, 4, pres=[4, 4, 330, 36], text="deep house groove, warm bass")
    pt.box("prompt-route", "newobj", "route text", 20, 80, 70, 2, 2)
    pt.box("prompt-sym", "newobj", "tosymbol", 20, 110, 70, 1, 1)
    pt.box("prompt-reg", "newobj", "zl reg", 20, 140, 60, 2, 2)
    pt.box("prompt-set", "newobj", "prepend /loopgen/prompt", 400, 140, 160, 1, 1)
    pt.box("gen-btn", "textbutton", None, 20, 180, 80, 1, 3, pres=[4, 44, 64, 20], text="generate")
    pt.box("gen-trig", "newobj", "t b b", 20, 210, 50, 1, 2)
    pt.box("gen-pack", "newobj", "pack s 4. 120.", 20, 270, 100, 3, 1)
    pt.box("gen-msg", "newobj", "prepend /loopgen/generate", 20, 300, 170, 1, 1)
    pt.box("cont-btn", "textbutton", None, 540, 180, 70, 1, 3, pres=[72, 44, 64, 20], text="continue")
    pt.box("cont-trig", "newobj", "t b b", 540, 210, 50, 1, 2)
    pt.box("cont-msg", "message", "/loopgen/continue", 540, 270, 120, 2, 1)
    pt.box("ext-btn", "textbutton", None, 470, 180, 60, 1, 3, pres=[140, 44, 56, 20], text="extend")
    pt.box("ext-trig", "newobj", "t b b", 470, 210, 50, 1, 2)
    pt.box("extend-bars", "newobj", "f", 470, 240, 30, 2, 1)
    pt.box("extend-msg", "newobj", "prepend /loopgen/extend", 470, 270, 160, 1, 1)
    pt.box("stop-btn", "textbutton", None, 400, 180, 60, 1, 3, pres=[200, 44, 44, 20], text="stop")
    pt.box("stop-msg", "message", "/loopgen/stop", 400, 210, 90, 2, 1)
    # before each request: hello, then /loopgen/set/bpm (Live's tempo now) and /loopgen/set/bars
    pt.box("pre", "newobj", "t b b b", 700, 210, 60, 1, 3)
    pt.box("bpm-latch", "newobj", "f 120.", 700, 240, 50, 2, 1)
    pt.box("bpm-trig", "newobj", "t f f", 700, 270, 50, 1, 2)
    pt.box("bpm-set", "newobj", "prepend /loopgen/set/bpm", 700, 300, 160, 1, 1)
    pt.box("bars-store", "newobj", "f 4.", 640, 240, 40, 2, 1)
    pt.box("bars-set", "newobj", "prepend /loopgen/set/bars", 640, 330, 160, 1, 1)
    pt.box("bars", "live.numbox", None, 140, 180, 50, 1, 2, pres=[4, 70, 40, 16], varname="bars",
        **parameter("loopgen bars", "bars", INT, 1, 64, 4))
    pt.box("bars-lbl", "comment", "bars", 195, 180, 40, 1, 0, pres=[46, 70, 30, 16])
    # tempo: Live's, observed through the Live API; in plain Max the transport's (polled)
    pt.box("dev", "newobj", "live.thisdevice", 250, 60, 100, 1, 3)
    pt.box("dev-trig", "newobj", "t b b", 250, 90, 50, 1, 2)
    pt.box("tempo-path", "message", "path live_set", 330, 90, 90, 2, 1)
    pt.box("tempo-lpath", "newobj", "live.path", 330, 120, 70, 1, 3)
    pt.box("tempo-prop", "message", "property tempo", 250, 120, 90, 2, 1)
    pt.box("tempo-obs", "newobj", "live.observer", 250, 150, 90, 2, 2)
    pt.box("tempo-metro", "newobj", "metro 500 @active 1", 380, 150, 130, 2, 1)
    pt.box("transport", "newobj", "transport", 380, 180, 80, 2, 9)
    pt.box("bpm", "flonum", None, 250, 240, 60, 1, 2, pres=[80, 70, 50, 16])
    pt.box("bpm-lbl", "comment", "bpm (follows Live)", 315, 240, 200, 1, 0, pres=[132, 70, 110, 16])
    pt.box("temp", "live.dial", None, 600, 40, 50, 1, 2, pres=[340, 4, 44, 48], varname="temperature",
        **parameter("loopgen temperature", "random", FLOAT, 0.1, 2.0, 1.0))
    pt.box("temp-msg", "newobj", "prepend /loopgen/set/temperature", 600, 110, 210, 1, 1)
    pt.box("cfg", "live.dial", None, 660, 40, 50, 1, 2, pres=[388, 4, 44, 48], varname="guidance",
        **parameter("loopgen guidance", "prompt", FLOAT, 1.0, 10.0, 3.0))
    pt.box("cfg-msg", "newobj", "prepend /loopgen/set/cfg_coef", 660, 140, 200, 1, 1)
    pt.box("topk", "live.numbox", None, 720, 40, 50, 1, 2, pres=[436, 20, 44, 16], varname="top_k",
        **parameter("loopgen top-k", "top-k", INT, 0, 2048, 250))
    pt.box("topk-lbl", "comment", "top-k", 720, 20, 50, 1, 0, pres=[436, 4, 44, 16])
    pt.box("topk-msg", "newobj", "prepend /loopgen/set/top_k", 720, 170, 180, 1, 1)
    pt.box("send", "newobj", f"udpsend 127.0.0.1 {SEND_PORT}", 20, 360, 160, 1, 0)
    pt.line("prompt", 0, "prompt-route", 0)
    pt.line("prompt-route", 0, "prompt-sym", 0)
    pt.line("prompt-sym", 0, "prompt-reg", 1)
    pt.line("prompt-sym", 0, "prompt-set", 0)
    pt.line("prompt-set", 0, "send", 0)
    for btn, trig in (("gen-btn", "gen-trig"), ("cont-btn", "cont-trig"), ("ext-btn", "ext-trig")):
        pt.line(btn, 0, trig, 0)
        pt.line(trig, 1, "pre", 0)  # right to left: hello, tempo and bars first, then the request
    pt.line("gen-trig", 0, "prompt-reg", 0)
    pt.line("prompt-reg", 0, "gen-pack", 0)
    pt.line("gen-pack", 0, "gen-msg", 0)
    pt.line("gen-msg", 0, "send", 0)
    pt.line("cont-trig", 0, "cont-msg", 0)
    pt.line("cont-msg", 0, "send", 0)
    pt.line("ext-trig", 0, "extend-bars", 0)
    pt.line("extend-bars", 0, "extend-msg", 0)
    pt.line("extend-msg", 0, "send", 0)
    pt.line("stop-btn", 0, "stop-msg", 0)
    pt.line("stop-msg", 0, "send", 0)
    pt.line("pre", 2, "port-store", 0)
    pt.line("pre", 1, "bpm-latch", 0)
    pt.line("pre", 0, "bars-store", 0)
    pt.line("bpm-latch", 0, "bpm-trig", 0)
    pt.line("bpm-trig", 1, "bars-expr", 1)  # the tempo the take is made at: its length in bars on arrival
    pt.line("bpm-trig", 0, "bpm-set", 0)
    pt.line("bpm-set", 0, "send", 0)
    pt.line("bars-store", 0, "bars-set", 0)
    pt.line("bars-set", 0, "send", 0)
    pt.line("bars", 0, "gen-pack", 1)
    pt.line("bars", 0, "extend-bars", 1)
    pt.line("bars", 0, "bars-store", 1)
    pt.line("dev", 0, "dev-trig", 0)
    pt.line("dev-trig", 1, "tempo-path", 0)
    pt.line("tempo-path", 0, "tempo-lpath", 0)
    pt.line("tempo-lpath", 0, "tempo-obs", 1)
    pt.line("dev-trig", 0, "tempo-prop", 0)
    pt.line("tempo-prop", 0, "tempo-obs", 0)
    pt.line("tempo-obs", 0, "bpm", 0)
    pt.line("tempo-metro", 0, "transport", 0)
    pt.line("transport", 4, "bpm", 0)
    pt.line("bpm", 0, "gen-pack", 2)
    pt.line("bpm", 0, "bpm-latch", 1)
    for dial, msg in (("temp", "temp-msg"), ("cfg", "cfg-msg"), ("topk", "topk-msg")):
        pt.line(dial, 0, msg, 0)
        pt.line(msg, 0, "send", 0)


def _replies(pt: Patch) -> None:
    """done -> the next player (buffer, length, start bar); progress, errors, welcome -> the view."""
    pt.box("recv", "newobj", f"udpreceive {REPLY_PORT}", 20, 400, 120, 1, 1)
    pt.box("defer", "newobj", "deferlow", 20, 430, 70, 1, 1)
    pt.box("route", "newobj", "route /loopgen/done /loopgen/progress /loopgen/error /loopgen/welcome", 20, 460, 460, 1, 5)
    pt.box("done-unpack", "newobj", "unpack s f", 20, 490, 80, 1, 2)
    # seconds (right, first): flip the player, its wave~ end point (ms) and its length in bars
    pt.box("secs-trig", "newobj", "t f f b", 120, 520, 60, 1, 3)
    pt.box("flip", "newobj", "i 1", 200, 550, 30, 2, 1)
    pt.box("flip-sub", "newobj", "!- 1", 200, 580, 40, 2, 1)
    pt.box("x-trig", "newobj", "t i i i", 200, 610, 60, 1, 3)
    pt.box("x-plus", "newobj", "+ 1", 260, 640, 40, 2, 1)
    pt.box("x-sel", "newobj", "t i i i i", 260, 670, 80, 1, 4)
    pt.box("x-store", "newobj", "i", 200, 700, 30, 2, 1)
    pt.box("ms", "newobj", "* 1000.", 120, 560, 60, 2, 1)
    pt.box("end-gate", "newobj", "gate 2", 120, 720, 50, 2, 2)
    pt.box("bars-expr", "newobj", "expr floor($f1*$f2/240.+0.5)", 360, 560, 200, 2, 1)
    pt.box("bars-min", "newobj", "maximum 1.", 360, 590, 80, 2, 1)
    pt.box("n-gate", "newobj", "gate 2", 360, 720, 50, 2, 2)
    # path (left, second): load the buffer, start on the next bar line, then make this player the newest
    pt.box("path-trig", "newobj", "t b b s", 20, 520, 60, 1, 3)
    pt.box("replace", "newobj", "prepend replace", 20, 560, 110, 1, 1)
    pt.box("buf-gate", "newobj", "gate 2", 20, 720, 50, 2, 2)
    pt.box("snap", "newobj", "snapshot~", 460, 620, 70, 2, 1)
    pt.box("c0-expr", "newobj", "expr floor($f1)+1.", 460, 650, 120, 2, 1)
    pt.box("c0-gate", "newobj", "gate 2", 460, 720, 50, 2, 2)
    pt.box("newest-a", "newobj", "!- 1", 200, 740, 40, 2, 1)
    pt.box("take-store", "newobj", "zl reg", 600, 520, 60, 2, 2)
    pt.box("take-show", "newobj", "prepend set", 680, 520, 80, 1, 1)
    pt.box("take-path", "message", "no take yet", 680, 550, 300, 2, 1, pres=[340, 84, 184, 34])
    pt.box("progress", "slider", None, 480, 490, 140, 1, 1, pres=[4, 92, 330, 10], size=1.0, floatoutput=1)
    pt.box("error-set", "newobj", "prepend set", 620, 610, 80, 1, 1)
    pt.box("error-show", "message", "", 620, 640, 300, 2, 1, pres=[4, 140, 330, 18])
    pt.box("wel-trig", "newobj", "t a b", 800, 490, 50, 1, 2)
    pt.box("wel-unpack", "newobj", "unpack s i i f", 800, 520, 110, 1, 4)  # model, rate, channels, speed here
    pt.box("ready", "newobj", "prepend set ready:", 800, 560, 130, 1, 1)
    pt.box("status", "message", LOOKING, 800, 600, 320, 2, 1, pres=[4, 120, 330, 18])
    pt.box("speed-set", "newobj", f"prepend set {SPEED}", 940, 560, 300, 1, 1)
    pt.box("speed", "message", "", 800, 640, 320, 2, 1, pres=[340, 122, 184, 18])  # the daemon's real-time factor
    pt.box("mono", "newobj", "== 1", 900, 560, 40, 2, 1)
    pt.line("recv", 0, "defer", 0)
    pt.line("defer", 0, "route", 0)
    pt.line("route", 0, "done-unpack", 0)
    pt.line("done-unpack", 1, "secs-trig", 0)
    pt.line("done-unpack", 0, "path-trig", 0)
    pt.line("secs-trig", 2, "flip", 0)
    pt.line("flip", 0, "flip-sub", 0)
    pt.line("flip-sub", 0, "x-trig", 0)
    pt.line("x-trig", 2, "flip", 1)
    pt.line("x-trig", 1, "x-plus", 0)
    pt.line("x-trig", 0, "x-store", 1)
    pt.line("x-plus", 0, "x-sel", 0)
    for i, g in enumerate(("c0-gate", "buf-gate", "n-gate", "end-gate")):
        pt.line("x-sel", i, g, 0)
    pt.line("secs-trig", 1, "ms", 0)
    pt.line("ms", 0, "end-gate", 1)
    pt.line("secs-trig", 0, "bars-expr", 0)
    pt.line("bars-expr", 0, "bars-min", 0)
    pt.line("bars-min", 0, "n-gate", 1)
    pt.line("path-trig", 2, "replace", 0)
    pt.line("replace", 0, "buf-gate", 1)
    pt.line("path-trig", 2, "take-store", 1)
    pt.line("path-trig", 2, "take-show", 0)
    pt.line("take-show", 0, "take-path", 0)
    pt.line("path-trig", 1, "snap", 0)
    pt.line("snap", 0, "c0-expr", 0)
    pt.line("c0-expr", 0, "c0-gate", 1)
    pt.line("path-trig", 0, "x-store", 0)
    pt.line("x-store", 0, "newest-a", 0)
    pt.line("newest-a", 0, "newest-mul", 1)
    for i, p in enumerate("ab"):
        pt.line("end-gate", i, f"wave-{p}", 2)
        pt.line("n-gate", i, f"mod-{p}", 1)
        pt.line("n-gate", i, f"div-{p}", 1)
        pt.line("buf-gate", i, f"buffer-{p}", 0)
        pt.line("c0-gate", i, f"sub-{p}", 1)
    pt.line("route", 1, "progress", 0)
    pt.line("route", 2, "error-set", 0)
    pt.line("error-set", 0, "error-show", 0)
    pt.line("route", 3, "wel-trig", 0)
    pt.line("wel-trig", 1, "watchdog", 0)  # a welcome restarts the watchdog
    pt.line("wel-trig", 0, "wel-unpack", 0)
    pt.line("wel-unpack", 0, "ready", 0)
    pt.line("ready", 0, "status", 0)
    pt.line("wel-unpack", 2, "mono", 0)
    pt.line("wel-unpack", 3, "speed-set", 0)
    pt.line("speed-set", 0, "speed", 0)
    pt.line("mono", 0, "mono-mul", 1)


def _players(pt: Patch) -> None:
    """Two transport-locked stereo players and the per-sample switch between them (see the module docstring)."""
    pt.box("phasor", "newobj", f"phasor~ {SONG_BARS}.0.0 @lock 1", 20, 800, 170, 2, 1)
    pt.box("song", "newobj", f"*~ {SONG_BARS}.", 20, 830, 70, 2, 1)  # T: Live's position in bars
    pt.box("moving", "newobj", "delta~", 200, 830, 50, 1, 1)
    pt.box("moving-ne", "newobj", "!=~ 0.", 200, 860, 50, 2, 1)
    pt.box("moving-sl", "newobj", "slide~ 64 64", 200, 890, 80, 3, 1)
    pt.line("phasor", 0, "song", 0)
    pt.line("song", 0, "snap", 0)
    pt.line("song", 0, "moving", 0)
    pt.line("moving", 0, "moving-ne", 0)
    pt.line("moving-ne", 0, "moving-sl", 0)
    for i, p in enumerate("ab"):
        x = 300 + 300 * i
        pt.box(f"buffer-{p}", "newobj", f"buffer~ ---loopgen-{p}", x, 770, 150, 1, 2)
        pt.box(f"sub-{p}", "newobj", f"-~ {NOT_STARTED}", x, 830, 90, 2, 1)  # q = T - c0 (bars into the take)
        pt.box(f"mod-{p}", "newobj", "%~ 4.", x, 860, 50, 2, 1)
        pt.box(f"div-{p}", "newobj", "/~ 4.", x, 890, 50, 2, 1)
        pt.box(f"wave-{p}", "newobj", f"wave~ ---loopgen-{p} 0 1000 2", x, 920, 200, 3, 2)
        pt.box(f"ge-{p}", "newobj", ">=~ 0.", x + 100, 860, 50, 2, 1)  # 1 from the take's first bar line
        pt.box(f"ge-{p}-sl", "newobj", "slide~ 64 64", x + 100, 890, 80, 3, 1)  # its fade in, click-free
        pt.line("song", 0, f"sub-{p}", 0)
        pt.line(f"ge-{p}", 0, f"ge-{p}-sl", 0)
        pt.line(f"sub-{p}", 0, f"mod-{p}", 0)
        pt.line(f"mod-{p}", 0, f"div-{p}", 0)
        pt.line(f"div-{p}", 0, f"wave-{p}", 0)
        pt.line(f"sub-{p}", 0, f"ge-{p}", 0)
    # B is heard when it has started and A is not the newer one: sB = gB * (1 - gA * newestA)
    pt.box("newest-mul", "newobj", "*~ 1.", 300, 960, 50, 2, 1)
    pt.box("newest-inv", "newobj", "!-~ 1.", 300, 990, 50, 2, 1)
    pt.box("pick-b", "newobj", "*~", 300, 1020, 40, 2, 1)
    pt.box("pick-sl", "newobj", "slide~ 64 64", 300, 1050, 80, 3, 1)
    pt.line("ge-a", 0, "newest-mul", 0)
    pt.line("newest-mul", 0, "newest-inv", 0)
    pt.line("newest-inv", 0, "pick-b", 0)
    pt.line("ge-b", 0, "pick-b", 1)
    pt.line("pick-b", 0, "pick-sl", 0)
    for c, side in enumerate(("l", "r")):  # out = A' + sB * (B' - A'), per channel; X' = X faded in at its start
        y = 1090 + 150 * c
        for p in "ab":
            pt.box(f"on-{p}-{side}", "newobj", "*~", 300 + (150 if p == "b" else 0), y, 40, 2, 1)
            pt.line(f"wave-{p}", c, f"on-{p}-{side}", 0)
            pt.line(f"ge-{p}-sl", 0, f"on-{p}-{side}", 1)
        pt.box(f"diff-{side}", "newobj", "-~", 300, y + 30, 40, 2, 1)
        pt.box(f"mul-{side}", "newobj", "*~", 300, y + 60, 40, 2, 1)
        pt.box(f"mix-{side}", "newobj", "+~", 300, y + 90, 40, 2, 1)
        pt.box(f"run-{side}", "newobj", "*~", 300, y + 120, 40, 2, 1)  # silent while the transport stands
        pt.line(f"on-b-{side}", 0, f"diff-{side}", 0)
        pt.line(f"on-a-{side}", 0, f"diff-{side}", 1)
        pt.line(f"diff-{side}", 0, f"mul-{side}", 0)
        pt.line("pick-sl", 0, f"mul-{side}", 1)
        pt.line(f"mul-{side}", 0, f"mix-{side}", 0)
        pt.line(f"on-a-{side}", 0, f"mix-{side}", 1)
        pt.line("moving-sl", 0, f"run-{side}", 1)
    pt.box("mono-mul", "newobj", "*~ 0.", 450, 1300, 50, 2, 1)  # a mono model: left copied to the right
    pt.box("mono-add", "newobj", "+~", 450, 1330, 40, 2, 1)
    pt.line("mix-l", 0, "run-l", 0)
    pt.line("mix-l", 0, "mono-mul", 0)
    pt.line("mix-r", 0, "mono-add", 0)
    pt.line("mono-mul", 0, "mono-add", 1)
    pt.line("mono-add", 0, "run-r", 0)
    pt.box("gain", "live.gain~", None, 300, 1400, 50, 2, 5, pres=[488, 4, 36, 62], varname="level",
        **parameter("loopgen level", "level", FLOAT, -70.0, 6.0, 0.0, UNITS["dB"],
                    outlets=["signal", "signal", "", "float", "list"]))
    pt.box("plugin", "newobj", "plugin~", 520, 1400, 60, 2, 2)
    pt.box("plugout", "newobj", "plugout~", 300, 1480, 60, 2, 0)
    pt.line("run-l", 0, "gain", 0)
    pt.line("run-r", 0, "gain", 1)
    pt.line("gain", 0, "plugout", 0)
    pt.line("gain", 1, "plugout", 1)
    pt.line("plugin", 0, "plugout", 0)
    pt.line("plugin", 1, "plugout", 1)


def _clip(pt: Patch) -> None:
    """'to clip': the latest take as an audio clip in the highlighted clip slot (Live 12's create_audio_clip)."""
    pt.box("clip-btn", "textbutton", None, 1000, 300, 70, 1, 3, pres=[248, 44, 86, 20], text="take to clip")
    pt.box("clip-trig", "newobj", "t b b", 1000, 330, 50, 1, 2)
    pt.box("clip-path", "message", "path live_set view highlighted_clip_slot", 1060, 360, 260, 2, 1)
    pt.box("clip-lpath", "newobj", "live.path", 1060, 390, 70, 1, 3)
    pt.box("clip-call", "newobj", "prepend call create_audio_clip", 1000, 420, 200, 1, 1)
    pt.box("clip-obj", "newobj", "live.object", 1000, 450, 80, 2, 1)
    pt.line("clip-btn", 0, "clip-trig", 0)
    pt.line("clip-trig", 1, "clip-path", 0)  # the slot first, then the call
    pt.line("clip-path", 0, "clip-lpath", 0)
    pt.line("clip-lpath", 0, "clip-obj", 1)
    pt.line("clip-trig", 0, "take-store", 0)
    pt.line("take-store", 0, "clip-call", 0)
    pt.line("clip-call", 0, "clip-obj", 0)


def build() -> dict:
    pt = Patch()
    pt.box("title", "comment", "loopgen: run `loopgen serve`, type a prompt, press generate (Live's transport playing)",
        20, 10, 600, 1, 0)
    _identity(pt)
    _requests(pt)
    _replies(pt)
    _players(pt)
    _clip(pt)
    pt.box("temp-lbl", "comment", "random", 600, 20, 50, 1, 0, pres=[340, 54, 44, 16])
    pt.box("cfg-lbl", "comment", "prompt", 660, 20, 50, 1, 0, pres=[388, 54, 44, 16])
    pt.box("take-lbl", "comment", "take (in the loops folder: drag it from Live's browser)", 680, 580, 300, 1, 0,
        pres=[340, 70, 184, 14])
    boxes = []
    for id, (cls, text, x, y, w, ins, outs, extra) in pt.boxes.items():
        b = {"id": id, "maxclass": cls, "numinlets": ins, "numoutlets": outs, "patching_rect": [x, y, w, 22]}
        if text is not None:
            b["text"] = text
        b.update(extra)
        boxes.append({"box": b})
    lines = [{"patchline": {"source": [a, o], "destination": [b, i]}} for a, o, b, i in pt.lines]
    params = {id: [v["parameter_longname"], v["parameter_shortname"], 0] for id, (*_, extra) in pt.boxes.items()
              if (v := extra.get("saved_attribute_attributes", {}).get("valueof"))}  # Max's patcher-level index
    return {
        "patcher": {
            "fileversion": 1,
            "appversion": {"major": 8, "minor": 6, "revision": 0, "architecture": "x64", "modernui": 1},
            "classnamespace": "box",
            "rect": [40.0, 80.0, 1400.0, 1540.0],
            "openinpresentation": 1,
            "devicewidth": 530.0,
            "default_fontsize": 12.0,
            "description": "loopgen: MusicGen loops from a local daemon, over OSC, in time with Live",
            "boxes": boxes,
            "lines": lines,
            "parameters": params,
        }
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


def device() -> bytes:
    """loopgen.amxd: the patch as a Max for Live audio effect."""
    return pack(build(), "audio")


if __name__ == "__main__":
    OUT.write_text(render())
    DEVICE.write_bytes(device())
    print(f"wrote {OUT} and {DEVICE}")
