"""The `loopgen` command: one real subprocess smoke test, the rest in-process through `main(argv)` (same parser, same
error handling, no interpreter start-up per case)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """As a real process (the smoke test)."""
    e = dict(os.environ, HF_HUB_OFFLINE="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "loopgen", *args], capture_output=True, text=True, env=e, timeout=300)


@pytest.fixture
def cli(capsys, monkeypatch):
    """In-process: cli(*args, env={}) -> CompletedProcess-like (returncode, stdout, stderr)."""
    from loopgen.cli import main

    def call(*args: str, env: dict | None = None):
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse's own errors exit from inside main
            code = e.code
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return call


def test_render_and_continue(tmp_path):
    out = tmp_path / "loop.wav"
    r = run("render", "lo-fi beat", "-o", str(out), "--model", "random:tiny", "--seconds", "1.5", "--seed", "3",
            "--top-k", "50", "--temperature", "0.9", "--cfg", "2.5", "--top-p", "0.0", "--device", "cpu", "--dtype", "float32")
    assert r.returncode == 0, r.stderr
    data, rate = sf.read(out, always_2d=True)
    assert rate == 32000 and data.shape == (48000, 1) and np.abs(data).max() > 1e-3
    assert "generating" in r.stderr and "rtf" in r.stderr  # the progress bar
    assert "1.5s audio" in r.stderr and "1.6s audio" not in r.stderr  # frames made, not delay-pattern steps

    # a continuation from a stereo 44.1 kHz file keeps the prompt and adds --seconds
    src = tmp_path / "in.wav"
    sf.write(src, np.random.default_rng(0).normal(0, 0.1, (44100, 2)).astype(np.float32), 44100)
    out2 = tmp_path / "more.wav"
    r = run("render", "more", "-o", str(out2), "--model", "random:tiny", "--continue", str(src), "--seconds", "1")
    assert r.returncode == 0, r.stderr
    assert sf.info(out2).frames == 32000 * 2


def test_same_seed_same_file(tmp_path, cli):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    for f in (a, b):
        assert cli("render", "x", "-o", str(f), "--model", "random:tiny", "--seconds", "0.5", "--seed", "9").returncode == 0
    assert np.array_equal(sf.read(a)[0], sf.read(b)[0])


@pytest.mark.parametrize(
    "args,msg",
    [
        (["--model", "no-such-model"], "unknown model"),
        (["--model", "random:nope"], "unknown model"),
        (["--model", "facebook/musicgen-small"], "not in the local Hugging Face cache"),
        (["--model", "random:tiny", "--seconds", "0"], "seconds must be a finite number > 0"),
        (["--model", "random:tiny", "--device", "cuda:7"], "not there"),
        (["--model", "random:tiny", "--dtype", "float16", "--device", "cpu"], "float16 is not supported on cpu"),
        (["--model", "random:tiny", "--continue", "/no/such.wav"], "no such file"),
    ],
)
def test_errors_are_one_line_no_traceback(tmp_path, args, msg, cli):
    r = cli("render", "x", "-o", str(tmp_path / "o.wav"), *args)
    assert r.returncode == 2
    assert msg in r.stderr
    assert "Traceback" not in r.stderr


def test_unreadable_and_empty_audio(tmp_path, cli):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wav")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 32000)
    for f, msg in ((bad, "cannot read audio file"), (empty, "is empty")):
        r = cli("render", "x", "-o", str(tmp_path / "o.wav"), "--model", "random:tiny", "--continue", str(f))
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr


def test_models_lists_ids_and_cache_state(tmp_path):  # a process: the hub reads HF_HUB_CACHE at import
    r = run("models", env={"HF_HUB_CACHE": str(tmp_path)})
    assert r.returncode == 0
    assert "facebook/musicgen-small" in r.stdout and "random:small" in r.stdout
    line = next(l for l in r.stdout.splitlines() if l.startswith("facebook/musicgen-small "))
    assert line.split()[1] == "no"


def test_models_prints_without_importing_torch():
    """A static list took 13 s (importing torch) on a cold start."""
    import subprocess
    import sys

    code = ("import sys; from loopgen.cli import main; main(['models']); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and "random:tiny" in r.stdout, r.stderr


def test_the_random_models_listed_are_the_ones_that_build():
    from loopgen.catalog import RANDOM_MODELS
    from loopgen.models.random_models import CONFIGS

    assert {n.split(":", 1)[1] for n in RANDOM_MODELS} == set(CONFIGS)


def test_clients_copy(tmp_path, cli):
    r = cli("clients", "--copy", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    for f in ("max/loopgen.maxpat", "max/loopgen.amxd", "pd/loopgen.pd", "web/index.html", "web/app.js", "web/worklet.js", "web/msgpack.js",
              "clients.md"):
        assert (tmp_path / "out" / f).is_file(), f
    assert "Pure Data" in (tmp_path / "out" / "clients.md").read_text()  # the set-up guide ships with the patches
    assert str(tmp_path / "out" / "clients.md") in r.stderr


@pytest.mark.parametrize(
    "args,msg",
    [
        (["render", "x", "-o", "o.wav", "--model", "random:tiny", "--seconds", "inf"], "finite number > 0"),
        (["render", "x", "-o", "o.wav", "--model", "random:tiny", "--seconds", "nan"], "finite number > 0"),
        (["render", "x", "-o", "out.xyz", "--model", "random:tiny"], "unknown audio format"),
        (["render", "-o", "o.wav"], "needs a prompt"),
        (["serve", "--ws-port", "99999"], "0 to 65535"),
        (["serve", "--model", "random:tiny", "--audio-device", "nonexistent", "--ws-port", "0", "--osc-port", "0"],
         "no audio output 'nonexistent'"),
        (["clients", "--copy", "/proc/nope"], "cannot copy the clients to /proc/nope"),
        (["send", "generate", "x", "--bars", "1", "--bpm", "120", "--seconds", "2"], "not both"),
        (["send", "generate", "x", "--bars", "1"], "go together"),
        (["send", "ping", "--url", "ftp://host:1"], "expected ws://"),
    ],
)
def test_every_error_is_one_line_before_any_work(tmp_path, monkeypatch, capsys, args, msg):
    from loopgen.cli import main

    monkeypatch.chdir(tmp_path)
    try:
        code = main(args)
    except SystemExit as e:  # argparse's own errors exit from inside
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and msg in err and "Traceback" not in err and "nanobind" not in err, err
    assert len(err.strip().splitlines()) <= 2 and "generating" not in err  # checked before any generation


def test_urls_a_user_would_paste():
    from loopgen.cli import ws_url

    assert ws_url("http://127.0.0.1:8765/?token=abc") == "ws://127.0.0.1:8765/"  # the page address serve prints
    assert ws_url("127.0.0.1:8765") == "ws://127.0.0.1:8765"
    assert ws_url("https://studio.local:8765") == "wss://studio.local:8765"
    assert ws_url("ws://h:1") == "ws://h:1"


def test_midi_hints_say_what_is_missing(monkeypatch):
    import sys
    import types

    import mido

    from loopgen import LoopgenError
    from loopgen.server.midi import open_input

    monkeypatch.setattr(mido, "get_input_names", lambda: (_ for _ in ()).throw(OSError("no backend")))
    monkeypatch.setitem(sys.modules, "rtmidi", None)  # not installed
    with pytest.raises(LoopgenError, match=r"loopgen\[midi\]"):
        open_input("x", print)
    monkeypatch.setitem(sys.modules, "rtmidi", types.ModuleType("rtmidi"))  # installed, but no ALSA sequencer
    with pytest.raises(LoopgenError, match="ALSA sequencer") as e:
        open_input("x", print)
    assert "pip install" not in str(e.value)


def test_render_longer_than_a_window_at_the_daws_rate_and_format(tmp_path, monkeypatch, cli):
    """A model with a 1 s window renders 2.5 s (three re-primed windows), written at 48 kHz as 24-bit PCM."""
    import loopgen.models as models
    from loopgen import load_model
    from loopgen.models.config import MusicgenConfig
    from loopgen.models.musicgen import MusicGen

    tiny = load_model("random:tiny")
    short = MusicGen(MusicgenConfig(tiny.cfg.text, tiny.cfg.audio, tiny.cfg.lm, max_seconds=1.0), tiny.tokenizer)
    short.load_state_dict(tiny.state_dict())
    short.use_kernels()
    monkeypatch.setattr(models, "load_model", lambda *a, **k: short.eval())
    out = tmp_path / "long.wav"
    r = cli("render", "x", "-o", str(out), "--seconds", "2.5", "--seed", "1", "--output-rate", "48000",
            "--output-format", "pcm24")
    assert r.returncode == 0, r.stderr
    info = sf.info(out)
    assert info.samplerate == 48000 and info.subtype == "PCM_24" and info.frames == 120000
    assert np.abs(sf.read(out)[0]).max() > 1e-3


def test_render_magnet_with_audiocrafts_options(tmp_path, cli):
    """MAGNeT's options reach the decoder: the greedy file equals the API's greedy generation; bad options are one
    clear line."""
    from loopgen import load_model

    out = tmp_path / "m.wav"
    r = cli("render", "x", "-o", str(out), "--model", "random:magnet-tiny", "--seconds", "2.5", "--greedy",
            "--decoding-steps", "3,2,2,2", "--span-arrangement", "stride1", "--cfg", "5")
    assert r.returncode == 0, r.stderr
    data, rate = sf.read(out, dtype="float32")
    g = load_model("random:magnet-tiny").generate(["x"], seconds=2.5, greedy=True, decoding_steps=[3, 2, 2, 2],
                                                   span_arrangement="stride1", max_cfg_coef=5.0)
    assert data.shape == (80000,) and np.abs(data - g.audio[0, 0].numpy()).max() < 1e-6
    r = cli("render", "x", "-o", str(out), "--model", "random:magnet-tiny", "--decoding-steps", "3,two")
    assert r.returncode != 0 and r.stderr.strip().splitlines() == [
        "loopgen: error: --decoding-steps takes whole numbers separated by commas, got '3,two'"]  # before loading
    listing = cli("models").stdout
    magnet = [line for line in listing.splitlines() if "magnet" in line]
    assert len(magnet) == 8 and not any("not supported" in line for line in magnet)  # 6 released + 2 random


def test_render_with_a_melody(tmp_path, cli):
    """--melody reaches the model: the file equals the API's generation with that melody (any rate, stereo), and
    differs from the one without; a model without melody refuses it in one line."""
    from loopgen import load_model

    sr = 44100
    f = np.repeat(440.0 * 2.0 ** ((np.asarray([60, 67, 64, 72]) - 69) / 12), sr // 2)
    riff = (0.4 * np.sin(2 * np.pi * np.cumsum(f) / sr)).astype(np.float32)
    src = tmp_path / "riff.wav"
    sf.write(src, np.stack([riff, riff * 0.5], axis=1), sr, subtype="FLOAT")
    out, plain = tmp_path / "m.wav", tmp_path / "p.wav"
    base = ("render", "x", "--model", "random:melody-tiny", "--seconds", "0.6", "--seed", "3")
    assert cli(*base, "-o", str(out), "--melody", str(src)).returncode == 0
    assert cli(*base, "-o", str(plain)).returncode == 0
    data = sf.read(out, dtype="float32")[0]
    m = load_model("random:melody-tiny")
    g = m.generate(["x"], seconds=0.6, seed=3, melody=sf.read(src, dtype="float32")[0].T, melody_sample_rate=sr)
    assert np.abs(data - g.audio[0, 0].numpy()).max() < 1e-6
    assert not np.array_equal(data, sf.read(plain, dtype="float32")[0])
    r = cli("render", "x", "-o", str(out), "--model", "random:tiny", "--melody", str(src))
    assert r.returncode == 2 and "takes no melody" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("model,seconds", [("random:tiny", 1.0), ("random:magnet-tiny", 1.0)])
def test_render_continue_keeps_your_audio_sample_for_sample(tmp_path, model, seconds):
    """Issue 27: within one window the output began with the codec's re-rendering of the riff (correlation 0.00002
    with it). Now the riff, resampled once to the model's rate and channels, is the output's start exactly, up to
    the 10 ms where the continuation takes over."""
    import torch

    from loopgen.cli import main as cli_main
    from loopgen.models.audio import prepare_audio
    from loopgen.streaming.dsp import splice_length

    rng = np.random.default_rng(1)
    riff = (0.3 * np.sin(2 * np.pi * 220 * np.arange(44100 * 2) / 44100)[:, None]
            + rng.normal(0, 0.01, (44100 * 2, 2))).astype(np.float32)
    src, out = tmp_path / "riff.wav", tmp_path / "more.wav"
    sf.write(src, riff, 44100, subtype="FLOAT")
    assert cli_main(["render", "more", "-o", str(out), "--model", model, "--continue", str(src), "--seconds",
                     str(seconds), "--seed", "2"]) == 0
    data, rate = sf.read(out, dtype="float32", always_2d=True)
    want = prepare_audio(torch.from_numpy(riff.T.copy()), 44100, rate, data.shape[1])[0].numpy().T  # [n, C]
    n, f = want.shape[0], splice_length(rate)
    assert data.shape[0] == n + int(round(seconds * rate))
    assert np.array_equal(data[: n - f], want[: n - f])  # your samples, untouched
    assert np.abs(data[n:]).max() > 1e-4  # and new audio after them


def test_the_same_take_is_the_same_bytes(tmp_path):
    """libsndfile's PEAK chunk holds the time of writing: two writes of one float take a second apart differed in
    byte 61, so `cmp` and `sha256sum` said a bit-for-bit remake differed."""
    import time

    from loopgen import audio_files

    x = np.random.default_rng(3).normal(0, 0.1, (3200, 2)).astype(np.float32)
    audio_files.write(tmp_path / "a.wav", x, 32000, "float")
    time.sleep(1.05)
    audio_files.write(tmp_path / "b.wav", x, 32000, "float")
    a, b = (tmp_path / "a.wav").read_bytes(), (tmp_path / "b.wav").read_bytes()
    assert a == b and np.array_equal(sf.read(tmp_path / "a.wav", dtype="float32")[0], x)


def _no_model(monkeypatch):
    def load(*a, **k):
        raise AssertionError("the model was loaded before the mistake was found")

    monkeypatch.setattr("loopgen.models.load_model", load)
    monkeypatch.setattr("loopgen.server.app.load_model", load)


@pytest.mark.parametrize("args,msg", [
    (["--seconds", "100000"], "--allow-long"),
    (["--temperature", "99"], "--temperature must be from 0 to 10"),
    (["--top-k", "-3"], "--top-k must be a whole number from 0"),
    (["--seed", "-1"], "--seed must be from 0"),
])
def test_render_checks_everything_before_loading(tmp_path, capsys, monkeypatch, args, msg):
    from loopgen.cli import main as cli_main

    _no_model(monkeypatch)
    assert cli_main(["render", "x", "-o", str(tmp_path / "o.wav"), "--model", "random:tiny", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0], err


def test_render_output_that_cannot_be_written_is_refused_first(tmp_path, capsys, monkeypatch):
    from loopgen.cli import main as cli_main

    _no_model(monkeypatch)
    (tmp_path / "file.txt").write_text("a file, not a folder")
    (tmp_path / "d.wav").mkdir()
    for out, why in ((tmp_path / "file.txt" / "o.wav", "is not a folder"), (tmp_path / "d.wav", "it is a folder")):
        assert cli_main(["render", "x", "-o", str(out), "--model", "random:tiny", "--seconds", "0.1"]) == 2
        assert why in capsys.readouterr().err


def test_serve_checks_ports_and_the_midi_map_before_loading(tmp_path, capsys, monkeypatch):
    import socket

    from loopgen.cli import main as cli_main

    _no_model(monkeypatch)
    bad_map = tmp_path / "map.toml"
    bad_map.write_text("[defaults\nbpm = ")
    base = ["serve", "--model", "random:tiny", "--loops-dir", str(tmp_path / "loops"), "--audio-device", "none"]
    assert cli_main([*base, "--ws-port", "0", "--osc-port", "0", "--midi-map", str(bad_map)]) == 2
    assert "cannot read MIDI map" in capsys.readouterr().err
    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    try:
        assert cli_main([*base, "--ws-port", "0", "--osc-port", str(port)]) == 2
        err = capsys.readouterr().err
        assert "OSC (UDP)" in err and "--osc-port" in err
    finally:
        held.close()


def test_render_from_applies_output_options_and_refuses_the_rest(tmp_path, capsys):
    from loopgen.cli import main as cli_main

    take = tmp_path / "take.wav"
    assert cli_main(["render", "x", "-o", str(take), "--model", "random:tiny", "--seconds", "0.3", "--seed", "4"]) == 0
    side = {"model": "random:tiny", "prompts": [["x", 1.0]], "parameters": {}, "seed": 4, "length_samples": 9600,
            "frames": 15, "sample_rate": 32000, "record": 2}
    (tmp_path / "take.json").write_text(__import__("json").dumps(side))
    capsys.readouterr()
    for extra in (["a prompt"], ["--seconds", "2"], ["--seed", "3"], ["--temperature", "0.5"]):
        args = ["render", *extra[:1], "--from", str(tmp_path / "take.json"), "-o", str(tmp_path / "x.wav"),
                *extra[1:]] if extra[0] == "a prompt" else ["render", "--from", str(tmp_path / "take.json"), "-o",
                                                             str(tmp_path / "x.wav"), *extra]
        assert cli_main(args) == 2
        assert "render --from makes the take as it was" in capsys.readouterr().err
    hi = tmp_path / "take48.wav"
    assert cli_main(["render", "--from", str(tmp_path / "take.json"), "-o", str(hi), "--output-rate", "48000",
                     "--output-format", "pcm16"]) == 0
    info = sf.info(hi)
    assert info.samplerate == 48000 and info.subtype == "PCM_16" and info.frames == 14400


def test_devices_says_what_is_missing_for_midi(monkeypatch):
    """`pip install python-rtmidi` was printed when it was installed and the ALSA sequencer was what was missing."""
    import importlib.util

    from loopgen.cli import midi_trouble

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "rtmidi" else real(name, *a))
    assert "pip install python-rtmidi" in midi_trouble(OSError("x"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "rtmidi" else real(name, *a))
    monkeypatch.setattr("sys.platform", "linux")
    msg = midi_trouble(RuntimeError("MidiInAlsa::initialize: error creating ALSA sequencer client object."))
    assert "pip install" not in msg and "ALSA sequencer" in msg and "/dev/snd/seq" in msg


def test_serve_adapts_its_threads_unless_told_a_count(monkeypatch):
    """`serve` without --threads (and without LOOPGEN_THREADS) hands its workers the adaptive range (all cores and
    one fewer); a count given either way fixes it."""
    import torch

    import loopgen.server as server_pkg
    from loopgen.cli import main
    from loopgen.models.threads import thread_range

    seen = []

    async def fake_serve(cfg, announce=None):
        seen.append((cfg.adaptive_threads, torch.get_num_threads()))

    monkeypatch.setattr(server_pkg, "serve_forever", fake_serve)
    monkeypatch.delenv("LOOPGEN_THREADS", raising=False)
    for args in ([], ["--threads", "1"]):
        assert main(["serve", "--model", "random:tiny", "--audio-device", "none", *args]) == 0
    monkeypatch.setenv("LOOPGEN_THREADS", "1")
    assert main(["serve", "--model", "random:tiny", "--audio-device", "none"]) == 0
    assert seen == [(thread_range(), thread_range()[1]), (None, 1), (None, 1)]
