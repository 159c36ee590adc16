"""Soak: hostile input and many streams at once against a real daemon (random:tiny, headless, in this process).

    python benchmarks/soak.py [--ws 10000] [--osc 10000] [--streams 32] [--duration 60] [--threads 2]
    python benchmarks/soak.py --capacity [--streams 8] [--model random:tiny] [--steady-seconds 20]

For `duration` seconds, `streams` clients each generate 10 s takes back to back, while one connection sends `ws`
seeded hostile WebSocket messages (tests/server/fuzz_inputs.py; a ping marker after every 50) and one socket sends
`osc` hostile OSC datagrams. Reports what was answered, dropped and lost, whether the daemon still answers (crashes),
the streams' real-time factor, and the peak RSS.

--capacity: a steady client's long take beside greedy clients asking for more takes than the machine can make in
real time, admitted by count (before) and by real-time capacity (after): the steady take's real-time factor, each
admitted take's, and how many were refused.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._common import rss_kib, set_threads  # noqa: E402


async def stream_forever(url: str, i: int, until: float, out: dict) -> None:
    from loopgen.clients import connect
    from loopgen.clients.client import ServerError

    async with connect(url) as c:
        n = 0
        while time.perf_counter() < until:
            n += 1
            try:
                events = [ev async for ev in c.generate(f"stream {i}", id=f"s{i}-{n}", seconds=10, seed=i)]
            except ServerError as e:
                out["stream_errors"].append(e.event.get("code"))
                await asyncio.sleep(0.5)
                continue
            rtf = [e["rtf"] for e in events if e["type"] == "progress"]
            out["takes"] += events[-1]["type"] == "done"
            if rtf and events[-1]["seconds"] >= 10:  # whole takes only
                out["rtf"].append(rtf[-1])


async def fuzz_ws(url: str, n: int, out: dict) -> None:
    import msgpack
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import ConnectionClosed

    from loopgen.protocol import messages as M
    from loopgen.protocol import ws as W
    from tests.server.fuzz_inputs import ws_message

    r = random.Random(7)

    async def open_():
        ws = await ws_connect(url, max_size=None)
        await ws.send(W.encode_command("hello", protocol=1, client="soak"))
        await ws.recv()
        return ws

    ws = await open_()
    for i in range(n):
        msg = ws_message(r)
        try:
            if W.decode_command(msg) == M.Stop(None):
                continue  # a bare stop stops the latest take anyone started (documented): not a fuzz input
        except M.ProtocolError:
            pass
        try:
            await ws.send(msg)
            out["ws_sent"] += 1
            if i % 50 == 49:
                await ws.send(W.encode_command("ping", data=i))
                while True:
                    ev = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 30), raw=False)
                    if ev["type"] == "error":
                        out["ws_errors"] += 1
                    if ev["type"] == "pong" and ev.get("data") == i:
                        break
        except ConnectionClosed as e:
            out["ws_closed"].append(e.rcvd.code if e.rcvd else None)
            ws = await open_()
    await ws.close()


async def fuzz_osc(port: int, n: int, out: dict) -> None:
    from tests.server.fuzz_inputs import osc_datagram

    r = random.Random(8)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(n):
        s.sendto(osc_datagram(r), ("127.0.0.1", port))
        out["osc_sent"] += 1
        if i % 200 == 199:
            await asyncio.sleep(0.01)  # a burst at a time


async def main(a) -> dict:
    from loopgen.server import Config, Server

    out = {"takes": 0, "rtf": [], "stream_errors": [], "ws_sent": 0, "ws_errors": 0, "ws_closed": [], "osc_sent": 0}
    loops = Path(tempfile.mkdtemp(prefix="loopgen-soak-"))
    server = Server(Config(model="random:tiny", ws_port=0, osc_port=0, loops_dir=loops, audio_device="none",
                           osc_reply_port=0))
    await server.start()
    base = rss_kib("VmRSS")
    url = f"ws://127.0.0.1:{server.ws_port}"
    until = time.perf_counter() + a.duration
    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(stream_forever(url, i, until, out) for i in range(a.streams)),
                             fuzz_ws(url, a.ws, out), fuzz_osc(server.osc_port, a.osc, out))
        from loopgen.clients import connect

        async with connect(url) as c:  # still answering?
            out["ping_after_s"] = await c.ping()
        out["crashes"] = 0 if server.worker.thread.is_alive() else 1
    finally:
        out["osc_dropped"] = server.osc_dropped
        out["saved"] = len(list(loops.glob("*.wav")))
        out["wall_s"] = time.perf_counter() - t0
        await server.stop()
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["rss_growth_mib"] = (rss_kib("VmRSS") - base) / 1024
    return out


async def capacity(a, admission: str) -> dict:
    """The capacity run: one steady client makes a long take while a greedy one asks for `streams` more, 10 s each,
    as fast as it can (a refused one is asked for again after 0.2 s). -> the steady take's real-time factor, each
    admitted take's, and how many were refused."""
    from loopgen.clients import connect
    from loopgen.clients.client import ServerError
    from loopgen.server import Config, Server

    loops = Path(tempfile.mkdtemp(prefix="loopgen-capacity-"))
    server = Server(Config(model=a.model, ws_port=0, osc_port=0, loops_dir=loops, audio_device="none",
                           admission=admission))
    await server.start()
    url = f"ws://127.0.0.1:{server.ws_port}"
    out = {"steady": None, "admitted": [], "refused": 0, "most": 0}
    steady_done = asyncio.Event()

    async def steady():
        async with connect(url) as c:
            events = [ev async for ev in c.generate("steady", id="steady", seconds=a.steady_seconds, seed=1)]
            out["steady"] = [e["rtf"] for e in events if e["type"] == "progress"][-1]
        steady_done.set()

    async def greedy(i):
        async with connect(url) as c:
            await asyncio.sleep(1.0)  # the steady take is playing
            while not steady_done.is_set():
                try:
                    events = [ev async for ev in c.generate(f"greedy {i}", id=f"g{i}", seconds=10, seed=i)]
                except ServerError as e:
                    out["refused"] += e.event.get("code") == "busy"
                    await asyncio.sleep(0.2)
                    continue
                out["admitted"].append([e["rtf"] for e in events if e["type"] == "progress"][-1])

    async def watch():
        while not steady_done.is_set():
            out["most"] = max(out["most"], len(server.worker.active))
            await asyncio.sleep(0.05)

    try:
        await asyncio.gather(steady(), watch(), *(greedy(i) for i in range(a.streams)))
    finally:
        await server.stop()
    return out


def print_capacity(a) -> None:
    import platform

    print(f"{a.model}: a steady {a.steady_seconds:g} s take beside {a.streams} greedy clients asking for 10 s takes, "
          f"{a.threads} threads, {platform.processor() or platform.machine()}")
    print("| admission | streams at once (most) | steady take's real-time factor | admitted takes' real-time factor: "
          "min / median | refused (busy) |")
    print("|---|---|---|---|---|")
    for admission in ("count", "realtime"):
        o = asyncio.run(capacity(a, admission))
        r = sorted(o["admitted"]) or [float("nan")]
        print(f"| {admission} | {o['most']} | {o['steady']:.2f} | {r[0]:.2f} / {r[len(r) // 2]:.2f} "
              f"| {o['refused']} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--ws", type=int, default=10000)
    ap.add_argument("--osc", type=int, default=10000)
    ap.add_argument("--streams", type=int, default=32)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--capacity", action="store_true", help="the capacity run (admission by count, then realtime)")
    ap.add_argument("--model", default="random:tiny", help="the capacity run's model")
    ap.add_argument("--steady-seconds", type=float, default=20.0)
    a = ap.parse_args()
    set_threads(a.threads)
    import logging

    if a.capacity:
        logging.disable(logging.WARNING)
        print_capacity(a)
        sys.exit(0)

    logging.disable(logging.WARNING)  # python-osc warns for every odd datagram
    o = asyncio.run(main(a))
    rtf = sorted(o["rtf"])
    print(f"random:tiny, {a.streams} streams of 10 s takes for {a.duration:g} s, {a.threads} threads, "
          f"{o['wall_s']:.0f} s wall")
    print("| measure | value |")
    print("|---|---|")
    print(f"| WebSocket messages sent / errors answered / connections closed (codes) | {o['ws_sent']} / "
          f"{o['ws_errors']} / {len(o['ws_closed'])} {sorted(set(o['ws_closed']))} |")
    print(f"| OSC datagrams sent / dropped as undecodable | {o['osc_sent']} / {o['osc_dropped']} |")
    print(f"| crashes (worker thread gone, or no pong after) | {o['crashes']} (pong in {o['ping_after_s'] * 1000:.1f} ms) |")
    print(f"| takes finished and saved / stream requests refused (codes) | {o['takes']} / {o['saved']} / "
          f"{len(o['stream_errors'])} {sorted(set(o['stream_errors']))} |")
    if rtf:
        print(f"| streams' real-time factor: min / median | {rtf[0]:.2f} / {rtf[len(rtf) // 2]:.2f} |")
    print(f"| peak RSS / RSS growth over the run (MiB) | {o['peak_rss_mib']:.0f} / {o['rss_growth_mib']:.0f} |")
