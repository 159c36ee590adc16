"""The Pure Data patch: its OSC addresses are ones the server implements, and headless Pd runs it against the daemon,
receives /loopgen/done and loads the file into its array."""
from __future__ import annotations

import asyncio
import re
import shutil
import socket
from importlib.resources import files

import numpy as np
import pytest
import soundfile as sf

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
    assert any("soundfiler" in o for o in objs) and any("tabread4~ loopgen-l" in o for o in objs)


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
        async with running(tmp_path, measure_speed=True) as server:  # no --osc-reply: the patch's hello names it
            patch = PATCH.read_text().replace("connect localhost 9000", f"connect localhost {server.osc_port}")
            patch = patch.replace("netreceive -u -b 9001", f"netreceive -u -b {reply}")
            patch = patch.replace("list pd-9001 9001", f"list pd-{reply} {reply}")
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
    welcome = re.search(r"loopgen-welcome: random:tiny 32000 1 ([\d.]+)", log)  # hello at load: the daemon's speed
    assert welcome and float(welcome.group(1)) > 0, log
    assert re.search(r"loopgen-loaded: 64000", log), log  # 1 bar at 120 bpm, read into the patch's array


def _period(x: np.ndarray, lo: int, hi: int) -> int:
    """The lag in [lo, hi] at which x repeats best (its autocorrelation's peak, through the FFT)."""
    n = 1 << int(np.ceil(np.log2(2 * len(x))))
    r = np.fft.irfft(np.abs(np.fft.rfft(x, n)) ** 2, n)[: len(x)]
    r /= np.arange(len(x), 0, -1)  # per overlapping sample: long lags are not penalised
    return lo + int(np.argmax(r[lo : hi + 1]))


def _pd_plays(tmp_path, pd_rate: int, take: np.ndarray, record_s: float = 2.6) -> np.ndarray:
    """Run the shipped patch in real Pd at `pd_rate`, tell it a take is done (the datagram the daemon sends) naming
    a 32 kHz WAV of `take` [n, C], and record with writesf~ what the patch sends to dac~ for `record_s` seconds from
    the moment it loaded the take. -> the recording [n, 2] at pd_rate."""
    from loopgen.protocol.osc import build

    reply = free_udp()
    src, rec = tmp_path / "take.wav", tmp_path / f"heard-{pd_rate}.wav"
    sf.write(src, take, 32000, subtype="FLOAT")

    async def main():
        patch = PATCH.read_text().replace("netreceive -u -b 9001", f"netreceive -u -b {reply}")
        objs = objects(patch)
        left = next(i for i, o in enumerate(objs) if o.endswith("tabread4~ loopgen-l") and " 300 " in o)
        right = next(i for i, o in enumerate(objs) if o.endswith("tabread4~ loopgen-l") and i != left)
        n = len(objs)  # the capture: writesf~ on what dac~ gets, from the moment a take is loaded
        extra = (f"#X obj 600 900 writesf~ 2;\n#X obj 600 840 r loopgen-loaded;\n#X obj 600 860 t b b;\n"
                 f"#X msg 600 880 open {rec} \\, start;\n#X obj 700 880 delay {int(record_s * 1000)};\n"
                 f"#X msg 700 900 stop;\n#X msg 800 900 \\; pd quit;\n#X obj 800 880 delay 500;\n")
        conns = (f"#X connect {left} 0 {n} 0;\n#X connect {right} 0 {n} 1;\n#X connect {n + 1} 0 {n + 2} 0;\n"
                 f"#X connect {n + 2} 1 {n + 3} 0;\n#X connect {n + 3} 0 {n} 0;\n#X connect {n + 2} 0 {n + 4} 0;\n"
                 f"#X connect {n + 4} 0 {n + 5} 0;\n#X connect {n + 5} 0 {n} 0;\n#X connect {n + 4} 0 {n + 7} 0;\n"
                 f"#X connect {n + 7} 0 {n + 6} 0;\n")  # quit half a second after stop: writesf~ has written it all
        i = patch.index("#X connect")
        patch = patch[:i] + extra + patch[i:].rstrip("\n") + "\n" + conns
        (tmp_path / "loopgen.pd").write_text(patch)
        proc = await asyncio.create_subprocess_exec(
            "pd", "-nogui", "-nosound", "-nomidi", "-stderr", "-r", str(pd_rate), "-open",
            str(tmp_path / "loopgen.pd"), "-send", "pd dsp 1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out: list[str] = []

        async def read():
            while line := (await proc.stdout.readline()).decode(errors="replace"):
                out.append(line)

        reader = asyncio.ensure_future(read())
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            done = build("/loopgen/done", [str(src), float(len(take) / 32000)])
            for _ in range(100):  # until Pd is up and has loaded it (it says so), once
                if any("loopgen-loaded" in line for line in out):
                    break
                sock.sendto(done, ("127.0.0.1", reply))
                await asyncio.sleep(0.3)
            await asyncio.wait_for(proc.wait(), 60)  # it records, then quits
            await reader
        finally:
            sock.close()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return "".join(out)

    log = asyncio.run(main())
    assert rec.exists(), log
    assert log.count("loopgen-loaded") == 1, log
    data, rate = sf.read(rec, dtype="float32", always_2d=True)
    assert rate == pd_rate
    return data


@pytest.mark.skipif(shutil.which("pd") is None, reason="Debian puredata-core is not installed")
@pytest.mark.parametrize("pd_rate", [44100, 48000])
def test_real_pd_plays_a_take_at_its_length_and_pitch_at_any_rate(tmp_path, pd_rate):
    """Issue 27: [tabplay~] played 32 kHz takes one sample per Pd sample, 1.38x too fast at 44.1 kHz (a 4 s loop in
    2.9 s) and 5.5 semitones high. Real Pd records what it sends to dac~ for a 1 s take of noise (one clear
    period): the loop repeats every 1 s of Pd's own samples, so it plays at the take's length and pitch."""
    take = np.random.default_rng(pd_rate).normal(0, 0.2, (32000, 1)).astype(np.float32)
    data = _pd_plays(tmp_path, pd_rate, take)
    x = data[:, 0]
    x = x[np.argmax(np.abs(x) > 1e-6):]  # from the first sound
    assert len(x) > 2.2 * pd_rate, len(x)
    period = _period(x[: int(2.2 * pd_rate)], int(0.5 * pd_rate), int(1.5 * pd_rate))
    assert abs(period - pd_rate) <= 2, (period, pd_rate)  # 1 s of Pd's samples, not 32000 of them
    assert np.array_equal(data[:, 0], data[:, 1])  # a mono take on both sides


@pytest.mark.skipif(shutil.which("pd") is None, reason="Debian puredata-core is not installed")
def test_real_pd_plays_a_stereo_take_in_stereo(tmp_path):
    """Stereo takes loaded one channel (the left, on both sides). Each side now plays its own channel."""
    import soxr

    take = np.random.default_rng(7).normal(0, 0.2, (32000, 2)).astype(np.float32)
    data = _pd_plays(tmp_path, 48000, take, record_s=1.2)
    start = int(np.argmax(np.abs(data[:, 0]) > 1e-6))
    want = soxr.resample(take, 32000, 48000)[:24000]
    got = data[start : start + 24000]
    for c in (0, 1):
        corr = [abs(float(np.corrcoef(got[:, c], want[:, k])[0, 1])) for k in (0, 1)]
        assert corr[c] > 0.9 and corr[1 - c] < 0.1, (c, corr)  # its own channel, not the other one
