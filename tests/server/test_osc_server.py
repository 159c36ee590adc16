"""The daemon's OSC endpoint with python-osc and with liblo's command-line tools as outside clients."""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess

import pytest
import soundfile as sf
from pythonosc.osc_packet import OscPacket

from loopgen.protocol.osc import build


class Peer:
    """A UDP OSC peer: sends to the server and reads its replies on the same socket."""

    def __init__(self, port: int, bind: str = "127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind, 0))
        self.sock.setblocking(False)
        self.target = ("127.0.0.1", port)

    def send(self, address: str, *args) -> None:
        self.sock.sendto(build(address, list(args)), self.target)

    async def expect(self, address: str, timeout: float = 60.0) -> list:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                await asyncio.sleep(0.01)
                continue
            for m in OscPacket(data).messages:
                if m.message.address == address:
                    return list(m.message.params)
        raise AssertionError(f"no {address} within {timeout} s")


def test_python_osc_flow(serve):
    async def scenario(server):
        p = Peer(server.osc_port)
        p.send("/loopgen/ping")
        assert await p.expect("/loopgen/pong") == []
        p.send("/loopgen/set/temperature", 0.9)  # a default for the next generation
        p.send("/loopgen/generate", "lo-fi", "beat", 1.0, 120.0)  # Pd-style: split words, floats
        await p.expect("/loopgen/started")
        progress = await p.expect("/loopgen/progress")
        assert 0 < progress[0] <= 1
        path, seconds = await p.expect("/loopgen/done")
        assert seconds == 2.0 and sf.info(path).frames == 64000
        p.send("/loopgen/generate", "a long drone", 4, 60)  # ints work too
        await p.expect("/loopgen/started")
        p.send("/loopgen/set/top_k", 20)
        p.send("/loopgen/prompt", "drone", 0.5, "bells", 0.5)
        await p.expect("/loopgen/progress")  # it has made audio (a take stopped before any is not saved)
        p.send("/loopgen/stop")
        path, seconds = await p.expect("/loopgen/done")
        assert seconds < 16
        p.send("/loopgen/set/temperature", "hot")
        assert "temperature" in (await p.expect("/loopgen/error"))[0]
        p.send("/loopgen/nonsense")
        assert (await p.expect("/loopgen/error"))[0]
        dropped = server.osc_dropped
        p.sock.sendto(b"\x00garbage, not OSC", p.target)
        p.send("/loopgen/ping")
        await p.expect("/loopgen/pong")  # still answering
        assert server.osc_dropped == dropped + 1

    serve(scenario)


def test_continue_a_wav_file(serve, tmp_path):
    async def scenario(server):
        p = Peer(server.osc_port)
        src = tmp_path / "take one.wav"
        import numpy as np

        sf.write(src, np.random.default_rng(0).normal(0, 0.1, (22050, 2)).astype("float32"), 44100)
        p.send("/loopgen/prompt", "keep", "going")
        p.send("/loopgen/set/seconds", 1.0)
        p.send("/loopgen/continue", *str(src).split(" "))  # Pd splits the path at the space
        path, seconds = await p.expect("/loopgen/done")
        assert seconds == 1.0 and sf.info(path).frames == 32000
        p.send("/loopgen/continue", "/no/such/file.wav")
        missing = (await p.expect("/loopgen/error"))[0]
        p.send("/loopgen/continue", "/etc/hostname")  # exists, but outside the folders loopgen may read
        outside = (await p.expect("/loopgen/error"))[0]
        assert "cannot read" in missing and missing.replace("/no/such/file.wav", "X") == outside.replace(
            "/etc/hostname", "X")  # the same answer: it tells nothing about files outside
        fifo = tmp_path / "pipe.wav"
        os.mkfifo(fifo)  # a FIFO would block whoever opens it: never opened
        p.send("/loopgen/continue", str(fifo))
        assert "cannot read" in (await asyncio.wait_for(p.expect("/loopgen/error"), 5))[0]
        assert await asyncio.wait_for(_ping(p), 5) == []  # and nothing stalled

    serve(scenario, read_dirs=(tmp_path,))


async def _ping(p):
    p.send("/loopgen/ping")
    return await p.expect("/loopgen/pong")


def test_a_hostile_bundle_does_not_hang_the_daemon(serve):
    """The 20-byte datagram that made python-osc's bundle parser loop forever: dropped; the daemon answers."""
    import struct

    async def scenario(server):
        p = Peer(server.osc_port)
        for evil in (b"#bundle\0" + struct.pack(">Qi", 1, -4), b"#bundle\0" + struct.pack(">Qi", 1, 0),
                     b"#bundle\0" * 8, b"#bundle\0" + struct.pack(">Q", 1) + struct.pack(">i", 2**31 - 1)):
            p.sock.sendto(evil, p.target)
        assert await asyncio.wait_for(_ping(p), 5) == []
        assert server.osc_dropped >= 4

    serve(scenario)


def _non_loopback_ip() -> str | None:
    for host in socket.gethostbyname_ex(socket.gethostname())[2]:
        if not host.startswith("127."):
            return host
    return None


def test_non_loopback_senders_are_ignored_unless_allowed(serve):
    ip = _non_loopback_ip()

    async def scenario(server):
        if ip is not None:  # a real datagram from a non-loopback address
            p = Peer(server.osc_port, bind=ip)
            p.send("/loopgen/ping")
            for _ in range(50):
                if server.osc_dropped:
                    break
                await asyncio.sleep(0.02)
        else:  # no such address here: hand the endpoint a datagram as if it came from one
            server.on_osc(build("/loopgen/ping", []), ("192.0.2.7", 9999))
        assert server.osc_dropped == 1
        server.on_osc(build("/loopgen/ping", []), ("192.0.2.8", 9999))  # in --osc-allow: served
        assert server.osc_dropped == 1 and ("192.0.2.8", None) in server.osc_peers  # a peer per host

    serve(scenario, osc_allow=("192.0.2.8",))


@pytest.mark.skipif(shutil.which("oscsend") is None, reason="liblo-tools (oscsend/oscdump) not installed")
def test_liblo_oscsend_and_oscdump(tmp_path):
    """liblo's tools as an outside client: oscsend sends, oscdump hears the replies (--osc-reply)."""
    from tests.conftest import running

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    dump_port = s.getsockname()[1]
    s.close()
    dump = subprocess.Popen(["oscdump", "-L", str(dump_port)], stdout=subprocess.PIPE, text=True)

    async def main():
        async with running(tmp_path, osc_reply=("127.0.0.1", dump_port)) as server:
            port = str(server.osc_port)
            await asyncio.to_thread(subprocess.run, ["oscsend", "localhost", port, "/loopgen/ping"], check=True)
            await asyncio.to_thread(subprocess.run, ["oscsend", "localhost", port, "/loopgen/generate", "sff",
                                                     "dub techno", "1", "120"], check=True)
            for _ in range(600):
                if list((tmp_path / "loops").glob("*.json")):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)

    try:
        asyncio.run(main())
    finally:
        dump.terminate()
        out = dump.communicate(timeout=10)[0]
    assert "/loopgen/pong" in out
    done = [line for line in out.splitlines() if "/loopgen/done" in line]
    assert done and ".wav" in done[0]


def test_one_liners_from_new_ports_are_one_sender_and_replies_reach_the_reply_port(serve):
    """As liblo's oscsend does: every call from a new source port. The stop from the second call stops the first
    call's generation, a set after it finished is stored (no error), and replies also go to the reply port."""
    listener = Peer(1)  # its own port stands in for 9001
    reply_port = listener.sock.getsockname()[1]

    async def scenario(server):
        Peer(server.osc_port).send("/loopgen/generate", "drone", 8.0, 60.0)  # 32 s: long enough to stop
        await listener.expect("/loopgen/started")
        await listener.expect("/loopgen/progress")  # it has made audio
        Peer(server.osc_port).send("/loopgen/stop")  # another call, another port
        path, seconds = await listener.expect("/loopgen/done")
        assert seconds < 32
        Peer(server.osc_port).send("/loopgen/set/temperature", 0.5)  # after it finished: stored
        Peer(server.osc_port).send("/loopgen/extend", 99999.0)  # out of range: the error that must come first
        msg = await listener.expect("/loopgen/error")
        assert "bars" in msg[0]

    serve(scenario, osc_reply_port=reply_port)


def test_named_senders_on_one_host_keep_their_own_takes_and_replies(serve):
    async def scenario(server):
        a, b = Peer(server.osc_port), Peer(server.osc_port)
        a.send("/loopgen/hello", "deviceA")
        b.send("/loopgen/hello", "deviceB")
        assert (await a.expect("/loopgen/welcome"))[1:] == [32000, 1, -1.0]  # speed not measured in this fixture
        await b.expect("/loopgen/welcome")
        a.send("/loopgen/generate", "drone a", 8.0, 60.0)
        b.send("/loopgen/generate", "drone b", 8.0, 60.0)
        id_a = (await a.expect("/loopgen/started"))[0]
        id_b = (await b.expect("/loopgen/started"))[0]
        assert "deviceA" in id_a and "deviceB" in id_b
        await a.expect("/loopgen/progress"), await b.expect("/loopgen/progress")  # both have made audio
        a.send("/loopgen/stop")  # A's own latest only
        await a.expect("/loopgen/done")
        assert server.worker.find(id_b, finished=False) is not None  # B still plays
        b.send("/loopgen/stop")
        await b.expect("/loopgen/done")

    serve(scenario, osc_reply_port=0)
