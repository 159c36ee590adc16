"""An asyncio client for `loopgen serve`:

    async with connect("ws://127.0.0.1:8765") as c:
        async for chunk in c.generate("lo-fi beat", bars=4, bpm=90):
            ...  # chunk["pcm"]: float32 bytes; the final event is "done" with the saved file's path

Imports only loopgen.protocol and websockets (the protocol brings numpy, for its audio helpers)."""
from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

from ..protocol import PROTOCOL_VERSION
from ..protocol import ws as W


class ServerError(Exception):
    def __init__(self, event: dict):
        super().__init__(f"{event.get('code')}: {event.get('message')}")
        self.event = event


class Client:
    def __init__(self, ws, welcome: dict):
        self.ws = ws
        self.welcome = welcome
        self._ids = itertools.count(1)
        self._queues: dict[Any, asyncio.Queue] = {}
        self._other: asyncio.Queue = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                ev = W.decode_event(data)
                q = self._queues.get(ev.get("id"))
                await (q or self._other).put(ev)
        finally:
            for q in list(self._queues.values()) + [self._other]:
                await q.put({"type": "closed"})

    async def send(self, kind: str, **fields: Any) -> None:
        await self.ws.send(W.encode_command(kind, **fields))

    async def next_event(self, timeout: float = 30.0) -> dict:
        """Events that belong to no generation of ours (pong, errors without id, ...)."""
        return await asyncio.wait_for(self._other.get(), timeout)

    async def ping(self, timeout: float = 10.0) -> float:
        t = asyncio.get_running_loop().time()
        await self.send("ping")
        while (await self.next_event(timeout))["type"] != "pong":
            pass
        return asyncio.get_running_loop().time() - t

    async def workers(self, timeout: float = 10.0) -> list[dict]:
        """The daemon's model workers: {model, kind, device, node, pid, sessions, steps_per_s, alive} each."""
        await self.send("workers")
        while True:
            ev = await self.next_event(timeout)
            if ev["type"] == "workers":
                return ev["workers"]
            if ev["type"] == "error":
                raise ServerError(ev)

    async def stream(self, kind: str, id: Any = None, **fields: Any) -> AsyncIterator[dict]:
        """Send a generate / continue / extend and yield its events until `done` (raises ServerError on error)."""
        id = id if id is not None else f"py-{next(self._ids)}"
        q = self._queues[id] = asyncio.Queue()
        try:
            await self.send(kind, id=id, **fields)
            while True:
                ev = await q.get()
                if ev["type"] == "closed":
                    raise ConnectionError("server closed the connection")
                if ev["type"] == "error":
                    raise ServerError(ev)
                yield ev
                if ev["type"] == "done":
                    return
        finally:
            self._queues.pop(id, None)

    def generate(self, prompt: str | list, id: Any = None, **fields: Any) -> AsyncIterator[dict]:
        key = "prompt" if isinstance(prompt, str) else "prompts"
        return self.stream("generate", id, **{key: prompt}, **fields)

    async def set(self, id: Any, **fields: Any) -> None:
        await self.send("set", id=id, **fields)

    async def stop(self, id: Any = None) -> None:
        """Stop generation `id` (ours, or anyone's with that id), or with None the latest anyone started."""
        await self.send("stop", **({} if id is None else {"id": id}))

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


class connect:
    """`async with connect(url, token=None, codes=False) as client:` (hello / welcome done)."""

    def __init__(self, url: str = "ws://127.0.0.1:8765", token: str | None = None, codes: bool = False,
                 client: str = "loopgen-python"):
        self.url, self.token, self.codes, self.name = url, token, codes, client
        self.client: Client | None = None

    async def __aenter__(self) -> Client:
        from websockets.asyncio.client import connect as ws_connect

        ws = await ws_connect(self.url, max_size=None, compression=None)
        hello = {"protocol": PROTOCOL_VERSION, "client": self.name, "codes": self.codes}
        if self.token:
            hello["token"] = self.token
        await ws.send(W.encode_command("hello", **hello))
        ev = W.decode_event(await ws.recv())
        if ev["type"] != "welcome":
            await ws.close()
            raise ServerError(ev)
        self.client = Client(ws, ev)
        return self.client

    async def __aexit__(self, *exc) -> None:
        if self.client is not None:
            await self.client.close()
