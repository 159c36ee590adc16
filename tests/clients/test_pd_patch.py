"""The Pure Data patch: its OSC addresses are ones the server implements, and headless Pd runs it against the daemon,
receives /loopgen/done and loads the file into its array."""
from __future__ import annotations

import asyncio
import re
import shutil
import socket
from importlib.resources import files

import pytest

from loopgen.protocol.osc import ADDRESSES, REPLIES

PATCH = files("loopgen.clients").joinpath("pd", "loopgen.pd")


def objects(text: str) -> list[str]:
    """The patch's records, in Pd's order (objects, messages, texts: what #X connect indices count)."""
    body = re.sub(r"\\;", "\x00", text)
    records = [r.strip().replace("\x00", "\\;") for r in body.split(";\n") if r.strip()]
    return [r for r in records if r.startswith("#X ") and not r.startswith("#X connect")]


def test_patch_parses_and_uses_only_server_addresses():
    text = PATCH.read_text()
    assert text.startswith("#N canvas")
    objs = objects(text)
    n = len(objs)
    for m in re.finditer(r"#X connect (\d+) (\d+) (\d+) (\d+);", text):
        a, _, b, _ = map(int, m.groups())
        assert a < n and b < n, m.group(0)
    words = [o.split() for o in objs]
    sent = ["/" + "/".join(w[5:]) for w in words if len(w) > 5 and w[1] == "obj" and w[4] == "oscformat"]
    assert sent and all(a in ADDRESSES for a in sent), sent
    routed = [o for o in objs if " route done progress error pong" in o]
    assert routed and all(f"/loopgen/{w}" in REPLIES for w in ("done", "progress", "error", "pong"))
    assert any("netsend -u -b" in o for o in objs) and any("netreceive -u -b" in o for o in objs)
    assert any("soundfiler" in o for o in objs) and any("tabplay~ loopgen-loop" in o for o in objs)


def free_udp() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.skipif(shutil.which("pd") is None, reason="Debian puredata-core is not installed")
def test_headless_pd_generates_and_loads_the_loop(tmp_path):
    from tests.conftest import running

    reply = free_udp()

    async def main():
        async with running(tmp_path, osc_reply=("127.0.0.1", reply)) as server:
            patch = PATCH.read_text().replace("connect localhost 9000", f"connect localhost {server.osc_port}")
            patch = patch.replace("netreceive -u -b 9001", f"netreceive -u -b {reply}")
            (tmp_path / "loopgen.pd").write_text(patch)
            proc = await asyncio.create_subprocess_exec(
                "pd", "-nogui", "-nosound", "-nomidi", "-stderr", "-open", str(tmp_path / "loopgen.pd"),
                "-send", "loopgen-generate dub techno 1 120",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out = []
            try:
                async def read():
                    while True:
                        line = (await proc.stdout.readline()).decode(errors="replace")
                        if not line:
                            return
                        out.append(line)
                        if "loopgen-loaded" in line:
                            return

                await asyncio.wait_for(read(), 120)
            finally:
                proc.kill()
                await proc.wait()
            return "".join(out)

    log = asyncio.run(main())
    assert "loopgen-progress" in log
    assert re.search(r"loopgen-loaded: 64000", log), log  # 1 bar at 120 bpm, read into the patch's array
