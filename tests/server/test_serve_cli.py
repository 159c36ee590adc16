"""`loopgen serve` as a real process: it announces itself, serves `loopgen send`, and stops cleanly on Ctrl-C."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import soundfile as sf

from loopgen.clients import connect


def free_port(kind=socket.SOCK_STREAM) -> int:
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _sidecars(folder):
    import json

    return {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}


def _started(proc, progress: bool = False) -> str:
    """Read a `send generate` process's stderr up to its 'started ID' line (and, with `progress`, its first
    progress line: audio has been made); -> ID."""
    buf = ""
    deadline = time.time() + 60
    while time.time() < deadline:
        ch = proc.stderr.read(1)
        if not ch:
            break
        buf += ch
        if "started " in buf and (")" in buf.split("started ", 1)[1]) and (not progress or buf.endswith(" rtf ")):
            return buf.split("started ", 1)[1].split()[0]
    raise AssertionError(f"no 'started' line: {buf!r}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_send_and_ctrl_c(tmp_path, sig):
    ws, osc = free_port(), free_port(socket.SOCK_DGRAM)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopgen", "serve", "--model", "random:tiny", "--ws-port", str(ws), "--osc-port", str(osc),
         "--audio-device", "none", "--loops-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        lines = []
        deadline = time.time() + 120
        while time.time() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("loops"):
                break
        text = "".join(lines)
        assert f"ws://127.0.0.1:{ws}" in text and f"udp://127.0.0.1:{osc}" in text and "none (headless)" in text
        assert re.search(r"speed +[\d.]+x real time on this machine: (plays live|renders)", text), text

        out = subprocess.run([sys.executable, "-m", "loopgen", "send", "generate", "dub techno", "--bars", "1",
                              "--bpm", "120", "--url", f"ws://127.0.0.1:{ws}"], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        assert sf.info(out.stdout.strip()).frames == 64000
        ping = subprocess.run([sys.executable, "-m", "loopgen", "send", "ping", "--url", f"ws://127.0.0.1:{ws}"],
                              capture_output=True, text=True, env=env)
        assert ping.returncode == 0 and "pong" in ping.stdout

        if sig == signal.SIGINT:  # once: stop from another process by the id the CLI printed, and Ctrl-C on send
            send = [sys.executable, "-m", "loopgen", "send", "generate", "drone", "--seconds", "600",  # cannot
                    "--url", f"ws://127.0.0.1:{ws}"]  # finish first on any machine: only a stop ends it in time
            gen = subprocess.Popen(send, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            gid = _started(gen)
            stop = subprocess.run([sys.executable, "-m", "loopgen", "send", "stop", gid, "--url", f"ws://127.0.0.1:{ws}"],
                                  capture_output=True, text=True, env=env)
            subprocess.run([sys.executable, "-m", "loopgen", "send", "stop", gid + "-nope", "--url",
                            f"ws://127.0.0.1:{ws}"], capture_output=True, text=True, env=env)  # refused: logged
            assert stop.returncode == 0, stop.stderr
            out, _ = gen.communicate(timeout=60)
            assert gen.returncode == 0 and sf.info(out.strip()).duration < 600  # stopped early, saved, reported
            gen = subprocess.Popen(send, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            gid = _started(gen, progress=True)  # it has made audio: there is a part to save
            gen.send_signal(signal.SIGINT)  # Ctrl-C on the sender stops what it started, and says where it went
            out, err = gen.communicate(timeout=60)
            assert "the part made is saved as" in err and out.strip().endswith(".wav"), err
            assert sf.info(out.strip()).duration < 600
            deadline = time.time() + 30
            while time.time() < deadline and not any(m["id"] == gid for m in _sidecars(tmp_path).values()):
                time.sleep(0.2)
            meta = [m for m in _sidecars(tmp_path).values() if m["id"] == gid]
            assert meta and meta[0]["stopped_early"] and meta[0]["seconds"] < 600

        async def mid_stream_ctrl_c():
            async with connect(f"ws://127.0.0.1:{ws}") as c:
                events = []
                try:
                    async for ev in c.generate("long one", id="long", seconds=30, seed=1):
                        events.append(ev)
                        if len([e for e in events if e["type"] == "audio"]) == 3:
                            proc.send_signal(sig)  # Ctrl-C (or a service manager's SIGTERM) while it streams
                except Exception:
                    pass
                return events

        events = asyncio.run(mid_stream_ctrl_c())
        assert proc.wait(60) == 0
        rest = proc.stdout.read()
        assert "take(s) saved" in rest and "could not" not in rest
        # the terminal says what happened, one line per take event (an OSC/Pd/Max user has nowhere else to look)
        assert re.search(r"started +cli-\d+ +[\d.]+ s +'dub techno' +\(WebSocket 127\.0\.0\.1:\d+\)", rest), rest
        assert re.search(r"saved +cli-\d+ +2\.00 s -> .*\.wav", rest) and re.search(r"saved +long ", rest), rest
        if sig == signal.SIGINT:
            assert re.search(r"refused cli-\d+-nope: unknown_id: ", rest), rest
        done = [e for e in events if e["type"] == "done"]
        assert done and done[0]["seconds"] < 30  # the stopped generation was saved and reported
        assert sf.info(done[0]["path"]).frames > 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_send_without_a_server_is_a_clear_error():
    r = subprocess.run([sys.executable, "-m", "loopgen", "send", "ping", "--url", f"ws://127.0.0.1:{free_port()}"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "is `loopgen serve` running?" in r.stderr and "Traceback" not in r.stderr


def test_devices_lists_something():
    r = subprocess.run([sys.executable, "-m", "loopgen", "devices"], capture_output=True, text=True)
    assert r.returncode == 0 and "audio outputs" in r.stdout and "MIDI inputs" in r.stdout


def test_the_speed_line_suggests_int8_only_where_it_would_help():
    from loopgen.server.startup import speed_line

    assert "--dtype int8" in speed_line(0.2, "float32", "cpu")
    assert "--dtype int8" not in speed_line(0.6, "int8", "cpu")  # already int8
    assert "--dtype int8" not in speed_line(0.8, "float16", "cuda:0")  # int8 runs on the CPU only
    assert speed_line(0.6, "int8", "cpu").endswith("(a GPU or a smaller model plays live)")
    assert speed_line(1.5, "int8", "cpu").endswith("plays live") and "slower" not in speed_line(1.5)


def test_the_speed_line_suggests_a_smaller_model_only_where_one_exists():
    """musicgen-small (and magnet-small, its size) on a CPU: no smaller release to suggest; medium, large and melody
    have one."""
    import dataclasses

    from loopgen.models.random_models import CONFIGS
    from loopgen.server.startup import speed_line

    assert CONFIGS["small"].lm.smallest and CONFIGS["magnet-small"].lm.smallest and CONFIGS["tiny"].lm.smallest
    assert not any(CONFIGS[k].lm.smallest for k in ("medium", "large", "melody"))
    assert not dataclasses.replace(CONFIGS["small"].lm, num_layers=48).smallest  # deeper, as wide
    assert speed_line(0.6, "int8", "cpu", smallest=True).endswith("renders 1.7x slower than real time, so takes "
                                                                "arrive after they are made (a GPU plays live)")
    assert speed_line(0.2, "float32", "cpu", smallest=True).endswith("(a GPU or --dtype int8 plays live)")
    assert speed_line(0.5, "float16", "cuda:0").endswith("(a faster GPU or a smaller model plays live)")
    assert speed_line(0.5, "float16", "cuda:0", smallest=True).endswith("(a faster GPU plays live)")


def test_only_the_model_thread_runs_torch_on_several_threads(serve, two_threads):
    """The daemon's event-loop thread and its saver run torch on one thread, the model's thread on the count it was
    started with (2 here): an OpenMP pool in any other thread would make every step's parallel regions wake by
    futex (models/threads.one_thread). The loop thread's count comes back at stop."""
    import asyncio

    import torch

    from loopgen.clients import connect

    async def scenario(server):
        async with connect(f"ws://127.0.0.1:{server.ws_port}") as c:
            async for _ in c.generate("x", seconds=0.2, seed=1):  # a take saved: the saver has run
                pass
        worker = server.worker
        saver = await asyncio.wrap_future(worker.saver.submit(torch.get_num_threads))
        return torch.get_num_threads(), saver, worker.threads

    loop_thread, saver, model = serve(scenario)
    assert (loop_thread, saver, model) == (1, 1, 2)
    assert torch.get_num_threads() == 2  # given back
