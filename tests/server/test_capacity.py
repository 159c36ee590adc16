"""Admission by real-time capacity (server/capacity.py): the rule by itself on measured step times, and in the
daemon on its own measurements; a client dropped for not reading has its takes stopped and saved."""
from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect as ws_connect

from loopgen.clients import connect
from loopgen.clients.client import ServerError
from loopgen.protocol import ws as W
from loopgen.server.capacity import Capacity


def steps(c: Capacity, n: int, ms: float, k: int = 5) -> None:
    for _ in range(k):
        c.record(n, ms / 1000, n * 0.02)


def test_a_cpu_like_machine_admits_what_it_makes_in_real_time():
    c = Capacity(0.02, headroom=1.0)  # 20 ms of audio a step (MusicGen at 50 Hz)
    assert c.admits(0)[0] and c.admits(5)[0]  # nothing measured: the first ones are admitted
    steps(c, 1, 6.0)
    assert c.step_time(2) == pytest.approx(0.009)  # one size seen: half of it a fixed cost
    steps(c, 2, 12.0)  # it grew in proportion: a CPU
    assert c.step_time(3) == pytest.approx(0.018) and c.admits(2)[0]
    ok, why = c.admits(3)
    assert not ok and "3 stream(s)" in why and "24.0 ms" in why and "20.0 ms" in why


def test_a_gpu_like_machine_admits_many_and_a_loaded_one_admits_none_more():
    c = Capacity(0.02, headroom=0.85)
    steps(c, 1, 10.0)
    steps(c, 2, 10.3)  # the batch barely costs: a GPU
    assert c.admits(20)[0] and not c.admits(30)[0]  # a fixed cost and a small one per stream, fitted
    steps(c, 3, 25.0)  # a neighbour took the machine: three streams are already behind
    assert not c.admits(3)[0]
    assert c.admits(0)[0]  # the first stream is always admitted (a slow machine still renders)


def test_a_measured_budget_for_a_family_whose_steps_are_passes():
    c = Capacity(None, headroom=1.0)
    assert c.budget is None and c.admits(3)[0]
    for _ in range(20):
        c.record(1, 0.010, 0.0)  # passes that make no audio yet...
    c.record(1, 0.010, 0.4)  # ...then a segment's audio at once
    assert c.budget == pytest.approx(0.4 / 21)


def test_the_daemon_refuses_a_stream_that_would_take_the_others_below_real_time(serve):
    """Measured on this machine: with no headroom at all nothing but the first stream fits; with all the headroom in
    the world a second is admitted. The refused request is `busy` and says what the machine makes."""

    async def scenario(server):
        async with connect(f"ws://127.0.0.1:{server.ws_port}") as c:
            await c.send("generate", id="a", prompt="x", seconds=4.0, seed=1)
            while len(server.worker.capacity.medians()) < 1:
                await c.next_event()
            server.worker.capacity.headroom = 1e-6  # real time allows no time at all
            with pytest.raises(ServerError) as e:
                [ev async for ev in c.generate("y", id="b", seconds=1.0)]
            server.worker.capacity.headroom = 1e6
            second = [ev async for ev in c.generate("y", id="c", seconds=0.2)]
            await c.stop("a")
            return e.value.event, second[-1]["type"]

    refused, second = serve(scenario, admission="realtime")
    assert refused["code"] == "busy" and "real time" in refused["message"]
    assert second == "done"


def test_a_client_dropped_for_not_reading_has_its_takes_stopped_and_saved(serve):
    async def scenario(server):
        import socket

        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a reader that is not reading: small buffers
        sock.connect(("127.0.0.1", server.ws_port))
        async with ws_connect(f"ws://127.0.0.1:{server.ws_port}", max_queue=1, sock=sock,
                              close_timeout=0.5) as ws:
            await ws.send(W.encode_command("hello", protocol=1))
            await ws.recv()
            await ws.send(W.encode_command("generate", id="slow", prompt="x", seconds=60.0, seed=1))
            for _ in range(600):  # never read again: dropped once its queue is full, its take stopped
                job = server.worker.find("slow")
                if job is not None and job.path is not None:
                    break
                await asyncio.sleep(0.1)
            return job

    job = serve(scenario, send_queue=4, send_queue_bytes=64 * 1024, send_buffer=4096)
    assert job is not None and job.stopped and job.path is not None
    assert 0 < job.audio.shape[-1] < 60 * 32000  # stopped early, and what it made is saved


def test_a_client_may_choose_to_wait_for_room(serve):
    """when_busy: queue: at capacity the start is `queued`, starts when a running take ends, and is made whole; a
    queued start that is stopped leaves the queue with nothing made; without it, the same request is `busy`."""

    async def scenario(server):
        async with connect(f"ws://127.0.0.1:{server.ws_port}") as c:
            await c.send("generate", id="a", prompt="x", seconds=30.0, seed=1)
            while len(server.worker.capacity.medians()) < 1:
                await c.next_event()
            server.worker.capacity.headroom = 1e-6  # at capacity with one stream
            with pytest.raises(ServerError) as e:
                [ev async for ev in c.generate("y", id="refused", seconds=0.2)]
            await c.send("generate", id="b", prompt="y", seconds=0.2, seed=2, when_busy="queue")
            await c.send("generate", id="c", prompt="z", seconds=0.2, seed=3, when_busy="queue")
            seen: dict = {}
            while "c" not in seen.get("queued", ()):
                ev = await c.next_event()
                seen.setdefault(ev["type"], []).append(ev.get("id"))
            await c.stop("c")  # leaves the queue
            await c.stop("a")  # room: b starts
            events = {}
            while not {"a", "b", "c"} <= set(events):
                ev = await c.next_event()
                if ev["type"] in ("done", "error") and ev.get("id") in ("a", "b", "c"):
                    events[ev["id"]] = ev
            return e.value.event, seen, events

    refused, seen, events = serve(scenario, admission="realtime")
    assert refused["code"] == "busy" and seen["queued"] == ["b", "c"]
    assert "b" not in seen.get("started", [])  # it waited
    assert events["c"]["type"] == "done" and events["c"]["path"] == ""  # stopped while queued: nothing made
    assert events["b"]["type"] == "done" and events["b"]["seconds"] == 0.2 and events["b"]["path"]
