"""A bounded fuzz run against the real daemon: a few thousand hostile WebSocket messages and OSC datagrams (seeded)
while a well-behaved client streams. Every WebSocket message is answered (an error, or the documented reply) or its
connection is closed with a documented code; the daemon keeps answering; the stream finishes whole, every sample in
order; the daemon's memory stays bounded. (How fast the stream stays under such load is a figure, not a test:
`benchmarks/soak.py` reports it.)"""
from __future__ import annotations

import asyncio
import random
import resource
import socket

import msgpack
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from loopgen.clients import connect
from loopgen.clients.client import ServerError
from loopgen.protocol import ws as W

from .fuzz_inputs import osc_datagram, ws_message

N_WS, N_OSC = 2000, 2000
STEADY = 8  # seconds of the stream that plays through the fuzzing (about 2 s of it here)


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_fuzz_while_streaming(serve):
    async def scenario(server):
        u = f"ws://127.0.0.1:{server.ws_port}"
        before = rss_mib()
        async with connect(u) as steady:
            stream = asyncio.ensure_future(_collect(steady.generate("steady", id="steady", seconds=STEADY, seed=1)))
            r = random.Random(1234)
            answered = closed = sent = bad = 0
            ws = await ws_connect(u, max_size=None)
            await ws.send(W.encode_command("hello", protocol=1, client="fuzzer"))
            await ws.recv()
            for _ in range(N_WS):
                msg = ws_message(r)
                expect = _documented_answer(msg)
                if expect is None:
                    continue  # `stop` without id stops the latest anyone started: the steady stream. Not fuzzed.
                try:
                    await ws.send(msg)
                    sent += 1
                    await ws.send(W.encode_command("ping", data=sent))  # a marker after each message
                    got = set()
                    while True:  # everything up to our marker's pong answers that message
                        ev = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 10), raw=False)
                        if ev["type"] == "pong" and ev.get("data") == sent:
                            break
                        got.add(ev["type"])
                    answered += bool(got & expect) or expect == {"silent"}
                    bad += not (got & expect) and expect != {"silent"}
                except ConnectionClosed as e:
                    assert e.rcvd is not None and e.rcvd.code in (1008, 1009), e  # a documented drop
                    closed += 1
                    ws = await ws_connect(u, max_size=None)
                    await ws.send(W.encode_command("hello", protocol=1, client="fuzzer"))
                    await ws.recv()
            await ws.close()
            # OSC: datagrams from one socket; the daemon answers a ping after each burst of 100
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            from loopgen.protocol.osc import build

            for i in range(N_OSC):
                sock.sendto(osc_datagram(r), ("127.0.0.1", server.osc_port))
                if i % 100 == 99:
                    sock.sendto(build("/loopgen/ping", [i]), ("127.0.0.1", server.osc_port))
                    assert await _pong(sock, i), f"no pong after {i} datagrams"
            assert not stream.done()  # all of it happened while the steady stream played
            events = await asyncio.wait_for(stream, 120)
        after = rss_mib()
        return answered, closed, sent, events, after - before

    answered, closed, sent, events, grew = serve(scenario, osc_reply_port=0)
    assert sent > N_WS * 0.9 and answered + closed == sent, (answered, closed, sent)  # every one as documented
    audio = [e for e in events if e["type"] == "audio"]
    starts = [e["sample"] for e in audio]
    lengths = [len(e["pcm"]) // 4 for e in audio]
    assert events[-1]["type"] == "done" and events[-1]["seconds"] == STEADY  # the steady stream played to its end
    assert starts == [sum(lengths[:i]) for i in range(len(audio))] and sum(lengths) == STEADY * 32000  # none lost
    assert grew < 300, f"the daemon grew by {grew:.0f} MiB"


def _documented_answer(msg) -> set[str] | None:
    """What the protocol promises for this message: the event types that answer it, {"silent"} for the commands
    whose success is silent (set, stop, play of a known take), None for what the test does not send."""
    from loopgen.protocol import messages as M
    from loopgen.protocol.messages import ProtocolError

    try:
        cmd = W.decode_command(msg)
    except ProtocolError:
        return {"error"}
    if isinstance(cmd, M.Stop) and cmd.id is None:
        return None
    if isinstance(cmd, M.Ping):
        return {"pong"}
    if isinstance(cmd, M.Hello):
        return {"welcome", "error"}
    if isinstance(cmd, (M.Generate, M.Continue, M.Extend)):
        return {"started", "error"}
    return {"silent"}  # set / stop / play: an error, or nothing on success


async def _collect(it):
    return [ev async for ev in it]


async def _pong(sock, i, timeout=10.0) -> bool:
    from pythonosc.osc_packet import OscPacket

    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            await asyncio.sleep(0.005)
            continue
        try:
            msgs = OscPacket(data).messages
        except Exception:
            continue
        if any(m.message.address == "/loopgen/pong" and list(m.message.params) == [i] for m in msgs):
            return True
    return False


def test_fuzzed_melody_files_host_headers_and_name_claims(serve):
    """Hostile melody files (lying headers, cut short, garbage), Host headers and OSC name claims, seeded: every melody
    is answered (an error, or a take that is made), the daemon's memory stays bounded, every Host answer follows the
    rule, and no name is ever held by two senders at once."""
    from loopgen.protocol.osc import build
    from loopgen.server.web import Hosts

    from .fuzz_inputs import host_header, melody_file
    from .test_attacks import http

    async def scenario(server):
        r = random.Random(26)
        before = rss_mib()
        codes = []
        async with connect(f"ws://127.0.0.1:{server.ws_port}") as c:
            for i in range(60):
                try:
                    evs = [ev async for ev in c.generate("x", id=f"m{i}", seconds=0.1, seed=i,
                                                         melody=melody_file(r), melody_format="file")]
                    codes.append(evs[-1]["type"])
                except ServerError as e:
                    codes.append(e.event["code"])
        grew = rss_mib() - before
        hosts, port = Hosts("127.0.0.1"), server.ws_port
        wrong = []
        for _ in range(60):
            h = host_header(r, port)
            status = (await http(port, f"GET / HTTP/1.1\nHost: {h}\n"))[0]
            if (status == 200) != hosts.header_ok(h, port):
                wrong.append((h, status))
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
        holds: dict = {}  # socket -> the name it holds (a sender holds one name: a new hello gives up the old)
        clashes = []
        for s in socks:
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
        for _ in range(60):
            s = r.choice(socks)
            name = r.choice(["a", "b", "c"])
            s.sendto(build("/loopgen/hello", [name]), ("127.0.0.1", server.osc_port))
            await asyncio.sleep(0.01)
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            held_by_other = any(o is not s and n == name for o, n in holds.items())
            if b"/loopgen/welcome" in data:
                clashes += [name] if held_by_other else []
                holds[s] = name
            elif b"/loopgen/error" in data and not held_by_other:
                clashes.append(f"{name} refused while free")
        assert len(holds) >= 2  # the claims were answered: some names given
        return codes, grew, wrong, clashes

    codes, grew, wrong, clashes = serve(scenario, model="random:melody-tiny", osc_reply_port=0)
    assert set(codes) <= {"done", "bad_audio", "out_of_range", "bad_field"} and len(codes) == 60, codes
    assert "done" in codes and {"bad_audio", "out_of_range"} <= set(codes)  # the generator reaches every branch
    assert grew < 200, f"the daemon grew by {grew:.0f} MiB"
    assert wrong == []
    assert clashes == []  # a name held by one sender at a time, and refused only while held
