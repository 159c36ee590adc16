"""`render --from` trusts nothing in a sidecar: a seeded generator of hostile records (wrong types, values past the
daemon's limits, huge lists, deep nesting, overflow, paths), each run in-process through the CLI, each answered
with one error line before a model is loaded, in bounded memory. Record fields a daemon writes come from a real
take (random:tiny), so the only thing wrong with each sidecar is what the generator broke."""
from __future__ import annotations

import json
import random
import tracemalloc

import pytest

from loopgen.cli import main as cli_main

BASE = {
    "model": "random:tiny", "prompts": [["x", 1.0]], "parameters": {"temperature": 1.0}, "seed": 1,
    "length_samples": 6400, "frames": 10, "id": "t", "sample_rate": 32000, "model_sample_rate": 32000,
    "output_format": "float", "loudness": None, "channels": 1, "seconds": 0.2, "bpm": None, "bars": None,
    "beats_per_bar": 4, "loop": False, "stopped_early": False, "changes": [], "continues": None,
    "keeps_original": False, "prefill_chunk": 30, "threads": 1, "created": "2026-12-06T00:00:00",
    "melody": None, "record": 2, "dtype": "float32", "kernels": {"float32": "onednn"},
}
NEST = "[" * 5000 + "]" * 5000


def deep(n: int = 3000):
    v: list = []
    for _ in range(n):
        v = [v]
    return v


# the attacks of issue 26 by name, then the generator's pool of bad values per field
NAMED = [
    {"threads": 1000000}, {"threads": -3}, {"prefill_chunk": -1}, {"seed": 1.5}, {"length_samples": 10**15},
    {"sample_rate": 1_000_000_000}, {"melody": {"pitch_classes": [0] * 1_000_000}}, {"continues": "../x.wav"},
    {"continues": "/etc/passwd"}, {"continues": "sub/x.wav"}, {"changes": [{"tick": 1, "params": {"top_k": "9"}}]},
    {"changes": [{"tick": 1, "prompts": "x"}]}, {"output_format": "mp3"}, {"frames": None}, {"seed": 2**70},
    {"seconds": 1e400}, {"loudness": 5.0}, {"channels": 9}, {"bpm": 1e9}, {"changes": deep(500)},
    {"dtype": "int4"}, {"dtype": "torch.float32"}, {"kernels": {"float32": "mkl"}}, {"kernels": {"x" * 10_000: 1}},
]
BAD = [None, True, -1, 0, 1.5, 2**70, 1e400, -1e400, "", "x" * 10_000, [], {}, [1, 2], {"a": 1}, deep(50),
       [0] * 200_000, "../../etc/passwd"]


def hostile(rng: random.Random) -> dict:
    d = json.loads(json.dumps(BASE))
    for _ in range(rng.randint(1, 3)):
        field = rng.choice([k for k in BASE if k not in ("id", "created", "loudness", "bpm", "bars", "continues",
                                                           "melody")])
        d[field] = rng.choice(BAD)
    return d


def still_valid(d: dict) -> bool:
    from loopgen.errors import LoopgenError
    from loopgen.streaming.record import TakeRecord

    try:
        TakeRecord.from_json(json.dumps(d))
        return True
    except LoopgenError:
        return False


@pytest.mark.parametrize("case", range(len(NAMED) + 40))
def test_a_hostile_sidecar_is_one_error_line_before_any_work(case, tmp_path, capsys, monkeypatch):
    if case < len(NAMED):
        d = {**BASE, **NAMED[case]}
    else:
        rng = random.Random(case)
        d = hostile(rng)
        while still_valid(d):  # the draw broke nothing (a bool where a bool belongs): draw again
            d = hostile(rng)
    side = tmp_path / "take.json"
    side.write_text(json.dumps(d))

    def no_model(*a, **k):
        raise AssertionError("a model was loaded for a hostile sidecar")

    monkeypatch.setattr("loopgen.models.load_model", no_model)
    tracemalloc.start()
    rc = cli_main(["render", "--from", str(side), "-o", str(tmp_path / "out.wav")])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("loopgen: error: cannot make a take from"), err
    assert len(err[0]) < 400 and peak < 400 * 2**20
    assert not (tmp_path / "out.wav").exists()


def test_a_take_made_in_a_dtype_this_device_cannot_run_is_made_in_its_default(tmp_path, capsys):
    """A take a GPU made in float16, rendered on the CPU (which refuses float16): made in float32, with a line that
    says so; told a dtype, render uses that one."""
    side = tmp_path / "take.json"
    side.write_text(json.dumps({**BASE, "dtype": "float16"}))
    assert cli_main(["render", "--from", str(side), "-o", str(tmp_path / "out.wav"), "--device", "cpu"]) == 0
    assert "made in float16, which cannot run here" in capsys.readouterr().err
    assert cli_main(["render", "--from", str(side), "-o", str(tmp_path / "b.wav"), "--dtype", "float16",
                     "--device", "cpu"]) == 2
    assert "float16 is not supported on cpu" in capsys.readouterr().err


def test_a_take_made_through_a_matmul_not_run_here_says_so(tmp_path, capsys):
    """The record's CPU matmuls are run where loopgen runs them for that dtype; one it does not (float32 through the
    default BLAS, which it never chooses) is made with the measured one, and a line says the bits will differ."""
    side = tmp_path / "take.json"
    side.write_text(json.dumps({**BASE, "kernels": {"float32": "linear"}}))
    assert cli_main(["render", "--from", str(side), "-o", str(tmp_path / "out.wav")]) == 0
    assert "ran the linear matmul in float32, which loopgen does not run here" in capsys.readouterr().err
    side.write_text(json.dumps(BASE))  # its own kernel: no such line
    assert cli_main(["render", "--from", str(side), "-o", str(tmp_path / "c.wav")]) == 0
    assert "matmul" not in capsys.readouterr().err


@pytest.mark.parametrize("text", [NEST, '{"model": ' + NEST + "}", "x" * (17 * 2**20)])
def test_deep_or_huge_sidecars(text, tmp_path, capsys):
    side = tmp_path / "take.json"
    side.write_text(text)
    assert cli_main(["render", "--from", str(side), "-o", str(tmp_path / "out.wav")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot make a take from" in err[0], err


def test_a_fifo_is_not_a_sidecar(tmp_path, capsys):
    import os

    import threading

    fifo = tmp_path / "take.json"
    os.mkfifo(fifo)  # opened for reading, it blocks until a writer comes
    done = threading.Event()

    def writer():  # should the CLI open it after all, free it after 5 s, so that the test fails instead of hanging
        if not done.wait(5):
            os.close(os.open(fifo, os.O_RDWR))  # a writer that leaves at once: the reader gets an empty file

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    rc = cli_main(["render", "--from", str(fifo), "-o", str(tmp_path / "out.wav")])
    done.set()
    assert rc == 2 and "not a file" in capsys.readouterr().err
