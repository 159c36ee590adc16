"""The daemon over real WebSocket connections on 127.0.0.1."""
from __future__ import annotations

import asyncio
import json

import msgpack
import numpy as np
import soundfile as sf
from websockets.asyncio.client import connect as ws_connect

from loopgen.clients import connect
from loopgen.clients.client import ServerError
from loopgen.protocol import ws as W


def url(server):
    return f"ws://127.0.0.1:{server.ws_port}"


async def collect(it):
    events = [ev async for ev in it]
    pcm = np.concatenate([np.frombuffer(e["pcm"], "<f4") for e in events if e["type"] == "audio"])
    return events, pcm


def test_generate_streams_and_saves(serve):
    async def scenario(server):
        async with connect(url(server), codes=True) as c:
            assert c.welcome["sample_rate"] == 32000 and c.welcome["latency_frames"] == 4
            events, pcm = await collect(c.generate("lo-fi beat", seconds=1.0, seed=3, top_k=50))
            kinds = [e["type"] for e in events]
            assert kinds[0] == "started" and kinds[-1] == "done" and "progress" in kinds
            frames = [e for e in events if e["type"] == "frames"]
            assert [f["frame"] for f in frames] == list(range(50)) and len(frames[0]["codes"]) == 4
            audio = [e for e in events if e["type"] == "audio"]
            assert [a["seq"] for a in audio] == list(range(len(audio)))
            assert [a["sample"] for a in audio] == list(np.cumsum([0] + [len(a["pcm"]) // 4 for a in audio[:-1]]))
            done = events[-1]
            saved, rate = sf.read(done["path"], dtype="float32")
            assert rate == 32000 and saved.shape == (32000,) and np.array_equal(saved, pcm)  # what streamed is saved
            # the same generation as the engine alone: the daemon adds no drift
            g = server.model.generate(["lo-fi beat"], seconds=1.0, seed=3, top_k=50)
            assert np.abs(g.audio[0, 0].numpy() - pcm).max() < 1e-5
            meta = json.loads(open(done["path"][:-4] + ".json").read())
            assert meta["prompts"] == [["lo-fi beat", 1.0]] and meta["seed"] == 3 and meta["model"] == "random:tiny"

    serve(scenario)


def test_loop_length_steer_and_stop(serve):
    async def scenario(server):
        async with connect(url(server)) as c:
            events, _ = await collect(c.generate("house", bars=1, bpm=97, seed=1))
            assert sf.info(events[-1]["path"]).frames == round(4 * 60 / 97 * 32000)
            it = c.generate("long drone", id="d", seconds=20, seed=2)
            got = 0
            async for ev in it:
                if ev["type"] == "audio":
                    got += 1
                    if got == 5:
                        await c.set("d", temperature=0.5, prompts=[["drone", 0.5], ["bells", 0.5]])
                    if got == 10:
                        await c.stop("d")
            assert ev["type"] == "done" and ev["seconds"] < 5
            meta = json.loads(open(ev["path"][:-4] + ".json").read())
            assert meta["stopped_early"] is True

    serve(scenario)


def test_continue_and_extend(serve):
    async def scenario(server):
        async with connect(url(server)) as c:
            t = np.arange(int(44100 * 0.513)) / 44100  # not a whole number of frames
            src = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)]).astype(np.float32) * 0.3
            events, _ = await collect(c.stream("continue", id="c", prompt="go on", audio=src.T.astype("<f4").tobytes(),
                                               sample_rate=44100, channels=2, seconds=1.0, seed=0))
            assert sf.info(events[-1]["path"]).frames == 32000
            events, _ = await collect(c.generate("groove", id="g", bars=1, bpm=120, seed=4))
            first = sf.read(events[-1]["path"], dtype="float32")[0]
            events, pcm = await collect(c.stream("extend", id="g2", of="g", bars=1))
            longer = sf.read(events[-1]["path"], dtype="float32")[0]
            assert longer.shape == (128000,)
            assert np.array_equal(longer[3200:64000 - 320], first[3200:64000 - 320])  # the first bar is kept

    serve(scenario)


def test_many_clients_at_once(serve):
    async def one(server, i):
        async with connect(url(server)) as c:
            events, pcm = await collect(c.generate(f"prompt {i}", seconds=0.5, seed=i))
            return events[-1]["type"], pcm.shape[0]

    async def scenario(server):
        results = await asyncio.gather(*(one(server, i) for i in range(32)))
        assert results == [("done", 16000)] * 32

    serve(scenario)


async def raw(server):
    ws = await ws_connect(url(server), max_size=None)
    return ws


async def expect_error(ws, code, id=None):
    while True:
        ev = W.decode_event(await asyncio.wait_for(ws.recv(), 30))
        if ev["type"] == "error":
            assert ev["code"] == code, ev
            assert ev.get("id") == id
            return ev


def test_bad_input_answers_errors_and_keeps_running(serve):
    async def scenario(server):
        async with connect(url(server)) as good:
            stream = good.generate("keeps playing", id="g", seconds=3, seed=1)
            first = await stream.__anext__()
            assert first["type"] == "started"
            ws = await raw(server)
            await ws.send(W.encode_command("generate", id="x", prompt="p"))
            await expect_error(ws, "not_ready", "x")  # hello first
            await ws.send(W.encode_command("hello", protocol=1))
            assert W.decode_event(await ws.recv())["type"] == "welcome"
            await ws.send(b"\xc1\xc1")
            await expect_error(ws, "bad_message")
            await ws.send(msgpack.packb([1, 2, 3]))
            await expect_error(ws, "bad_message")
            await ws.send("text frame")
            await expect_error(ws, "bad_message")
            await ws.send(W.encode_command("dance", id="y"))
            await expect_error(ws, "unknown_type", "y")
            await ws.send(W.encode_command("generate", id="z"))
            await expect_error(ws, "bad_field", "z")
            await ws.send(W.encode_command("generate", id="z", prompt=3))
            await expect_error(ws, "bad_field", "z")
            await ws.send(W.encode_command("generate", id="z", prompt="p", cfg_coef=100))
            await expect_error(ws, "out_of_range", "z")
            await ws.send(W.encode_command("continue", id="z", prompt="p", audio=b"\x00" * 5, sample_rate=32000))
            await expect_error(ws, "bad_audio", "z")
            await ws.send(W.encode_command("stop", id="nobody"))
            await expect_error(ws, "unknown_id", "nobody")
            await ws.send(W.encode_command("extend", id="e", of="nobody", bars=1))
            await expect_error(ws, "unknown_id", "e")
            big = W.encode_command("generate", id="big", prompt="p", pad=b"\x00" * (server.cfg.max_message_bytes + 10))
            await ws.send(big)
            await expect_error(ws, "too_large")
            await ws.send(W.encode_command("ping"))
            assert W.decode_event(await ws.recv())["type"] == "pong"  # still talking to this client
            await ws.close()
            events = [first] + [ev async for ev in stream]
            assert events[-1]["type"] == "done" and events[-1]["seconds"] == 3.0  # the other session played on

    serve(scenario, max_message_bytes=1 << 20)


def test_dropped_client_audio_is_saved(serve, tmp_path):
    async def scenario(server):
        ws = await raw(server)
        await ws.send(W.encode_command("hello", protocol=1))
        await ws.recv()
        await ws.send(W.encode_command("generate", id="gone", prompt="p", seconds=2, seed=0))
        await ws.recv()
        await ws.close()  # mid-stream
        for _ in range(200):
            if list((tmp_path / "loops").glob("*gone*.wav")):
                break
            await asyncio.sleep(0.1)
        wavs = list((tmp_path / "loops").glob("*gone*.wav"))
        assert wavs and sf.info(wavs[0]).frames == 64000

    serve(scenario)


def test_slow_client_is_dropped_not_the_server(serve):
    import socket
    import threading

    from websockets.sync.client import connect as sync_connect

    async def scenario(server):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # a client that reads almost nothing
        sock.connect(("127.0.0.1", server.ws_port))
        release = threading.Event()

        def slow_client() -> None:  # says hello, asks for 5 s, then never reads
            with sync_connect(url(server), sock=sock, max_size=None, close_timeout=1) as slow:
                slow.send(W.encode_command("hello", protocol=1, client="slow"))
                slow.send(W.encode_command("generate", id="slow", prompt="p", seconds=5, seed=0))
                release.wait(60)

        thread = threading.Thread(target=slow_client, daemon=True)
        thread.start()
        async with connect(url(server)) as other:  # meanwhile another client is served
            events, _ = await collect(other.generate("fine", seconds=0.5))
            assert events[-1]["type"] == "done"
        for _ in range(600):
            if any(c.gone for c in server.clients if c.peer.hello and c.peer.hello.client == "slow") or not any(
                c.peer.hello and c.peer.hello.client == "slow" for c in server.clients
            ):
                break
            await asyncio.sleep(0.05)
        assert not any(not c.gone for c in server.clients if c.peer.hello and c.peer.hello.client == "slow")
        async with connect(url(server)) as again:  # the server is fine
            assert await again.ping() < 5
        for _ in range(400):  # and the dropped client's generation is stopped (nobody hears it) and saved
            job = server.worker.find("slow")
            if job is not None and job.path is not None:  # saved on the saver thread, after it finished
                break
            await asyncio.sleep(0.1)
        assert job.path and job.stopped
        release.set()
        await asyncio.to_thread(thread.join, 10)

    serve(scenario, send_queue=4)


def test_model_error_ends_only_that_session(serve):
    async def scenario(server):
        async with connect(url(server)) as c:
            ok = c.generate("fine", id="ok", seconds=2, seed=1)
            await ok.__anext__()
            bad = c.generate("doomed", id="bad", seconds=2, seed=2)
            assert (await bad.__anext__())["type"] == "started"
            while (await bad.__anext__())["type"] != "audio":  # it has made something: what it made is saved
                pass
            job = server.worker.find("bad", finished=False)

            def boom(*_):  # inject a device failure into this one session
                raise RuntimeError("CUDA out of memory (injected)")

            job.session.prepare = boom
            try:
                async for _ in bad:
                    pass
                raise AssertionError("expected an error")
            except ServerError as e:
                assert e.event["code"] == "model_error" and "out of memory" in e.event["message"]
            events = [ev async for ev in ok]
            assert events[-1]["type"] == "done" and events[-1]["seconds"] == 2.0
            assert server.worker.find("bad").path  # what it made is saved

    serve(scenario)


def test_token_required_off_loopback(tmp_path):
    from loopgen.server import Config, Server

    s = Server(Config(model="random:tiny", host="0.0.0.0"))
    assert s.cfg.token  # generated

    async def scenario(server):
        async with connect(url(server), token=server.cfg.token) as c:
            assert c.welcome["type"] == "welcome"
        try:
            async with connect(url(server), token="wrong"):
                raise AssertionError("accepted a wrong token")
        except ServerError as e:
            assert e.event["code"] == "unauthorized"

    def run(**kw):
        import asyncio as aio

        from tests.conftest import running

        async def main():
            async with running(tmp_path, **kw) as server:
                await scenario(server)

        aio.run(main())

    run(token="secret")


def test_stereo_model_streams_interleaved_and_saves_stereo(tmp_path):
    from tests.conftest import running

    async def main():
        async with running(tmp_path, model="random:stereo-tiny") as server:
            async with connect(url(server)) as c:
                assert c.welcome["channels"] == 2
                events = [ev async for ev in c.generate("wide", seconds=0.5, seed=1)]
                audio = [e for e in events if e["type"] == "audio"]
                assert all(a["channels"] == 2 for a in audio)
                pcm = np.concatenate([np.frombuffer(a["pcm"], "<f4") for a in audio]).reshape(-1, 2)
                saved, _ = sf.read(events[-1]["path"], dtype="float32")
                assert saved.shape == (16000, 2) and np.array_equal(saved, pcm)
                g = server.model.generate(["wide"], seconds=0.5, seed=1)
                assert np.abs(g.audio[0].numpy().T - pcm).max() < 1e-5

    asyncio.run(main())


def test_browser_origins(serve):
    """A page from another site may not drive the daemon; its own page, loopback pages and programs may."""
    from websockets.exceptions import InvalidStatus

    async def scenario(server):
        u = url(server)

        async def hello(origin):
            async with ws_connect(u, origin=origin) as ws:
                await ws.send(W.encode_command("hello", protocol=1))
                return W.decode_event(await ws.recv())["type"]

        for bad in ("http://evil.example", "null", "https://127.0.0.1.evil.example"):
            try:
                await hello(bad)
                raise AssertionError(f"accepted {bad}")
            except InvalidStatus as e:
                assert e.response.status_code == 403
        for good in (f"http://127.0.0.1:{server.ws_port}", "http://localhost:5173", "https://studio.example"):
            assert await hello(good) == "welcome"
        async with connect(u) as c:  # a program sends no Origin
            assert c.welcome["type"] == "welcome"

    serve(scenario, allow_origins=("https://studio.example",))


def test_deep_nesting_is_answered_and_the_connection_stays(serve):
    async def scenario(server):
        async with ws_connect(url(server)) as ws:
            await ws.send(W.encode_command("hello", protocol=1))
            await ws.recv()
            nested: list = []
            for _ in range(500):
                nested = [nested]
            for msg in ({"type": "ping", "data": nested}, {"type": "generate", "id": "x", "prompt": nested}):
                await ws.send(msgpack.packb(msg))
                ev = msgpack.unpackb(await ws.recv())
                assert ev["type"] == "error" and ev["code"] == "bad_message"
            await ws.send(W.encode_command("ping", data=1))
            assert msgpack.unpackb(await ws.recv())["type"] == "pong"

    serve(scenario)


def test_a_value_past_musicgens_range_is_out_of_range(serve):
    """temperature 7 is a MAGNeT value: on a MusicGen the request is refused with out_of_range, nothing starts."""

    async def scenario(server):
        async with connect(url(server)) as c:
            await c.send("generate", id="t", prompt="x", seconds=1.0, temperature=7.0)
            ev = await c.next_event()
            assert ev["type"] == "error" and ev["code"] == "out_of_range" and "temperature" in ev["message"]

    serve(scenario)


def test_welcome_says_how_fast_the_model_is_here(serve):
    """Timed at start: the real-time factor of one decoded stream on this machine, over WebSocket and OSC."""
    from loopgen.protocol.osc import build

    from .test_osc_server import Peer

    async def scenario(server):
        async with connect(url(server)) as c:
            rtf = c.welcome["realtime_factor"]
        p = Peer(server.osc_port)
        p.sock.sendto(build("/loopgen/hello", ["dev"]), ("127.0.0.1", server.osc_port))
        osc = await p.expect("/loopgen/welcome")
        return rtf, osc, server.realtime_factor

    rtf, osc, measured = serve(scenario, measure_speed=True, osc_reply_port=0)
    assert isinstance(rtf, float) and rtf > 0 and rtf == measured and abs(osc[3] - rtf) < 1e-3
