"""Builds loopgen.maxpat, the Max / Max for Live patch, and loopgen.amxd, the same patch as a Max for Live audio
effect device (`python -m loopgen.clients.max.maxpat` rewrites both).

The patch is data; this script is its source, so the layout and every connection are reviewable in one place and a
test checks the shipped file equals what it builds. OSC goes out through [udpsend] and comes back through
[udpreceive] -> [deferlow] (network input deferred to the low-priority queue, as Max for Live wants).

Many devices in one Live set: each device's buffer is its own (`---` names, which Max for Live makes unique per
device), and each listens on its own reply port, drawn at load, which it announces with `/loopgen/hello ---loopgen
PORT` (at load and before every generate, so a daemon started later still learns it): the daemon sends each device
its own replies, and no `--osc-reply` is needed.
"""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("loopgen.maxpat")
DEVICE = Path(__file__).with_name("loopgen.amxd")
SEND_PORT, REPLY_PORT = 9000, 9001  # the reply port a device starts on; it moves to its own at load
PORT_BASE, PORT_SPAN = 40000, 20000  # each device's reply port: PORT_BASE + random(PORT_SPAN)
BUFFER = "---loopgen-loop"  # per device in Max for Live
TMP_WAV = "/tmp/loopgen-continue.wav"

# id: (maxclass, text or None, x, y, width, inlets, outlets, extra attributes)
BOXES: dict[str, tuple] = {}
LINES: list[tuple[str, int, str, int]] = []


def box(id, cls, label, x, y, w=120, ins=1, outs=1, **extra):
    BOXES[id] = (cls, label, x, y, w, ins, outs, extra)


def line(a, outlet, b, inlet):
    LINES.append((a, outlet, b, inlet))


def build() -> dict:
    BOXES.clear()
    LINES.clear()
    box("title", "comment", "loopgen: run `loopgen serve`, type a prompt, press generate", 20, 10, 600, 1, 0)
    # -- out: prompt, length, sampling ---------------------------------------------------------------------------
    box("prompt", "textedit", None, 20, 40, 360, 1, 4, text="deep house groove, warm bass")
    box("prompt-route", "newobj", "route text", 20, 80, 70, 2, 2)
    box("prompt-sym", "newobj", "tosymbol", 20, 110, 70, 1, 1)
    box("prompt-reg", "newobj", "zl reg", 20, 140, 60, 2, 2)
    box("prompt-set", "newobj", "prepend /loopgen/prompt", 400, 140, 160, 1, 1)
    box("gen-btn", "textbutton", None, 20, 180, 80, 1, 3, text="generate")
    box("gen-trig", "newobj", "t b b", 20, 210, 50, 1, 2)
    # -- identity: its own reply port, announced with hello (at load and before each generate) --------------------
    box("load", "newobj", "loadbang", 860, 10, 60, 1, 1)
    box("load-trig", "newobj", "t b b", 860, 40, 50, 1, 2)
    box("port-rand", "newobj", f"random {PORT_SPAN}", 900, 70, 90, 2, 1)
    box("port-add", "newobj", f"+ {PORT_BASE}", 900, 100, 60, 2, 1)
    box("port-trig", "newobj", "t i i", 900, 130, 50, 1, 2)
    box("port-store", "newobj", "i", 860, 160, 30, 2, 1)
    box("port-msg", "message", "port $1", 960, 160, 60, 2, 1)
    box("hello", "newobj", "prepend /loopgen/hello ---loopgen", 860, 190, 220, 1, 1)
    box("gen-pack", "newobj", "pack s 4. 120.", 20, 270, 100, 3, 1)
    box("gen-msg", "newobj", "prepend /loopgen/generate", 20, 300, 170, 1, 1)
    box("bars", "live.numbox", None, 140, 180, 50, 1, 2, varname="bars", parameter_initial=[4])
    box("bars-lbl", "comment", "bars", 195, 180, 40, 1, 0)
    box("tempo-metro", "newobj", "metro 250 @active 1", 250, 150, 130, 2, 1)
    box("transport", "newobj", "transport", 250, 180, 80, 2, 9)
    box("bpm", "flonum", None, 250, 240, 60, 1, 2)
    box("bpm-lbl", "comment", "bpm (Live's tempo inside Live)", 315, 240, 200, 1, 0)
    box("temp", "live.dial", None, 600, 40, 50, 1, 2, varname="temperature", parameter_range=[0.1, 2.0],
        parameter_initial=[1.0])
    box("temp-msg", "newobj", "prepend /loopgen/set/temperature", 600, 110, 210, 1, 1)
    box("cfg", "live.dial", None, 660, 40, 50, 1, 2, varname="cfg", parameter_range=[1.0, 10.0], parameter_initial=[3.0])
    box("cfg-msg", "newobj", "prepend /loopgen/set/cfg_coef", 660, 140, 200, 1, 1)
    box("topk", "live.numbox", None, 720, 40, 50, 1, 2, varname="top_k", parameter_range=[0, 2048],
        parameter_initial=[250])
    box("topk-msg", "newobj", "prepend /loopgen/set/top_k", 720, 170, 180, 1, 1)
    box("stop-btn", "textbutton", None, 400, 180, 60, 1, 3, text="stop")
    box("stop-msg", "message", "/loopgen/stop", 400, 210, 90, 2, 1)
    box("extend-btn", "textbutton", None, 470, 180, 60, 1, 3, text="extend")
    box("extend-bars", "newobj", "f", 470, 210, 30, 2, 1)
    box("extend-msg", "newobj", "prepend /loopgen/extend", 470, 240, 160, 1, 1)
    box("cont-btn", "textbutton", None, 540, 180, 70, 1, 3, text="continue")
    box("cont-trig", "newobj", "t b b", 540, 210, 50, 1, 2)
    box("cont-write", "message", f"write {TMP_WAV}", 600, 240, 200, 2, 1)
    box("cont-msg", "message", f"/loopgen/continue {TMP_WAV}", 540, 270, 240, 2, 1)
    box("send", "newobj", f"udpsend 127.0.0.1 {SEND_PORT}", 20, 340, 160, 1, 0)
    # -- in: progress, done -> buffer~ -> groove~ on the next bar --------------------------------------------------
    box("recv", "newobj", f"udpreceive {REPLY_PORT}", 20, 390, 120, 1, 1)
    box("defer", "newobj", "deferlow", 20, 420, 70, 1, 1)
    box("route", "newobj", "route /loopgen/done /loopgen/progress /loopgen/error /loopgen/pong", 20, 450, 430, 1, 5)
    box("done-unpack", "newobj", "unpack s f", 20, 480, 80, 1, 2)
    box("replace", "newobj", "prepend replace", 20, 510, 110, 1, 1)
    box("buffer", "newobj", f"buffer~ {BUFFER}", 20, 540, 150, 1, 2)
    box("pending", "newobj", "gate", 200, 570, 40, 2, 1)
    box("pending-on", "message", "1", 200, 510, 30, 2, 1)
    box("pending-off", "message", "0", 250, 630, 30, 2, 1)
    box("bar-metro", "newobj", "metro 1n @quantize 1n @active 1", 260, 540, 210, 2, 1)
    box("start-trig", "newobj", "t b b", 200, 600, 50, 1, 2)
    box("startloop", "message", "startloop", 200, 660, 70, 2, 1)
    box("groove", "newobj", f"groove~ {BUFFER} 2 @loop 1", 200, 690, 200, 3, 3)
    box("gain", "live.gain~", None, 200, 720, 50, 2, 5, varname="level")
    box("plugin", "newobj", "plugin~", 420, 690, 60, 2, 2)
    box("plugout", "newobj", "plugout~", 200, 800, 60, 2, 0)
    box("progress", "slider", None, 480, 480, 140, 1, 1, size=1.0, floatoutput=1)
    box("progress-lbl", "comment", "progress", 625, 480, 60, 1, 0)
    box("error-set", "newobj", "prepend set", 620, 510, 80, 1, 1)
    box("error-show", "message", "", 620, 540, 300, 2, 1)
    # wiring: out
    line("prompt", 0, "prompt-route", 0)
    line("prompt-route", 0, "prompt-sym", 0)
    line("prompt-sym", 0, "prompt-reg", 1)
    line("prompt-sym", 0, "prompt-set", 0)
    line("prompt-set", 0, "send", 0)
    line("gen-btn", 0, "gen-trig", 0)
    line("gen-trig", 1, "port-store", 0)  # right to left: hello first, then the request
    line("gen-trig", 0, "prompt-reg", 0)
    line("load", 0, "load-trig", 0)
    line("load-trig", 1, "port-rand", 0)  # draw the port first, then announce it
    line("port-rand", 0, "port-add", 0)
    line("port-add", 0, "port-trig", 0)
    line("port-trig", 1, "port-msg", 0)
    line("port-msg", 0, "recv", 0)
    line("port-trig", 0, "port-store", 1)
    line("load-trig", 0, "port-store", 0)
    line("port-store", 0, "hello", 0)
    line("hello", 0, "send", 0)
    line("prompt-reg", 0, "gen-pack", 0)
    line("bars", 0, "gen-pack", 1)
    line("bars", 0, "extend-bars", 1)
    line("tempo-metro", 0, "transport", 0)
    line("transport", 4, "bpm", 0)
    line("bpm", 0, "gen-pack", 2)
    line("gen-pack", 0, "gen-msg", 0)
    line("gen-msg", 0, "send", 0)
    line("temp", 0, "temp-msg", 0)
    line("temp-msg", 0, "send", 0)
    line("cfg", 0, "cfg-msg", 0)
    line("cfg-msg", 0, "send", 0)
    line("topk", 0, "topk-msg", 0)
    line("topk-msg", 0, "send", 0)
    line("stop-btn", 0, "stop-msg", 0)
    line("stop-msg", 0, "send", 0)
    line("extend-btn", 0, "extend-bars", 0)
    line("extend-bars", 0, "extend-msg", 0)
    line("extend-msg", 0, "send", 0)
    line("cont-btn", 0, "cont-trig", 0)
    line("cont-trig", 1, "cont-write", 0)  # right to left: write the buffer first, then ask to continue it
    line("cont-write", 0, "buffer", 0)
    line("cont-trig", 0, "cont-msg", 0)
    line("cont-msg", 0, "send", 0)
    # wiring: in
    line("recv", 0, "defer", 0)
    line("defer", 0, "route", 0)
    line("route", 0, "done-unpack", 0)
    line("done-unpack", 0, "replace", 0)
    line("replace", 0, "buffer", 0)
    line("route", 0, "pending-on", 0)
    line("pending-on", 0, "pending", 0)
    line("bar-metro", 0, "pending", 1)
    line("pending", 0, "start-trig", 0)
    line("start-trig", 1, "startloop", 0)
    line("start-trig", 0, "pending-off", 0)
    line("pending-off", 0, "pending", 0)
    line("startloop", 0, "groove", 0)
    line("groove", 0, "gain", 0)
    line("groove", 0, "gain", 1)
    line("gain", 0, "plugout", 0)
    line("gain", 1, "plugout", 1)
    line("plugin", 0, "plugout", 0)
    line("plugin", 1, "plugout", 1)
    line("route", 1, "progress", 0)
    line("route", 2, "error-set", 0)
    line("error-set", 0, "error-show", 0)

    boxes = []
    for id, (cls, text, x, y, w, ins, outs, extra) in BOXES.items():
        b = {"id": id, "maxclass": cls, "numinlets": ins, "numoutlets": outs, "patching_rect": [x, y, w, 22]}
        if text is not None:
            b["text"] = text
        b.update(extra)
        boxes.append({"box": b})
    lines = [{"patchline": {"source": [a, o], "destination": [b, i]}} for a, o, b, i in LINES]
    return {
        "patcher": {
            "fileversion": 1,
            "appversion": {"major": 8, "minor": 6, "revision": 0, "architecture": "x64", "modernui": 1},
            "classnamespace": "box",
            "rect": [40.0, 80.0, 960.0, 860.0],
            "openinpresentation": 0,
            "default_fontsize": 12.0,
            "description": "loopgen: MusicGen loops from a local daemon, over OSC",
            "boxes": boxes,
            "lines": lines,
        }
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


def device() -> bytes:
    """loopgen.amxd: the patch as a Max for Live audio effect."""
    from .amxd import pack

    return pack(build(), "audio")


if __name__ == "__main__":
    OUT.write_text(render())
    DEVICE.write_bytes(device())
    print(f"wrote {OUT} and {DEVICE}")
