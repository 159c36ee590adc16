"""A real daemon on 127.0.0.1 (ephemeral ports, random:tiny, headless audio) for each test."""
from __future__ import annotations

import asyncio
import contextlib

import pytest

from loopgen.server import Config, Server


@contextlib.asynccontextmanager
async def running(tmp_path, **kw):
    cfg = Config(model="random:tiny", ws_port=0, osc_port=0, loops_dir=tmp_path / "loops", audio_device="none", **kw)
    server = Server(cfg)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def serve(tmp_path):
    """serve(scenario, **config): run `await scenario(server)` against a fresh server."""

    def run(scenario, **kw):
        async def main():
            async with running(tmp_path, **kw) as server:
                return await asyncio.wait_for(scenario(server), 120)

        return asyncio.run(main())

    return run
