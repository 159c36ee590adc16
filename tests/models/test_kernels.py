"""The CPU matmul for each dtype is chosen by measuring on this machine, and the choice is cached; bfloat16 on the
CPU stays close to float32 whichever kernel it takes."""
from __future__ import annotations

import json

import pytest
import torch

from loopgen import load_model
from loopgen.models import kernels
from loopgen.models.lm import Dense

from .test_int8 import _teacher_forced


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOPGEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernels, "_chosen", {})
    return tmp_path / "kernels.json"


def test_the_kernel_is_chosen_by_measurement_and_cached(fresh_cache, monkeypatch):
    speed = {"packed": 3e-3, "onednn": 1e-3, "linear": 2e-3}  # a machine where plain oneDNN is fastest
    timed = []

    def timer(fn):
        timed.append(fn.kernel)
        return speed[fn.kernel]

    assert kernels.choose(torch.float32, timer) == "onednn"
    assert set(timed) == set(kernels.CANDIDATES)
    entry = next(iter(json.loads(fresh_cache.read_text()).values()))
    assert entry["choice"] == "onednn" and entry["microseconds"]["linear"] == pytest.approx(
        2e3 * len(kernels.SHAPES))
    monkeypatch.setattr(kernels, "_chosen", {})  # a new process: the file answers, nothing is timed

    def never(fn):
        raise AssertionError("measured again")

    assert kernels.choose(torch.float32, never) == "onednn"
    speed.update(linear=1e-4)  # another machine (here: another thread count) is measured anew
    torch.set_num_threads(torch.get_num_threads() + 1)
    assert kernels.choose(torch.float32, timer) == "linear"  # (conftest puts the threads back)
    speed.update(packed=1e-5)  # oneDNN limited to AVX2 (an AVX2-only CPU's kernels): measured anew too
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert kernels.choose(torch.float32, timer) == "packed"


def test_the_candidates_take_turns_so_a_busy_spell_slows_them_alike(fresh_cache):
    """A shared host's speed drifts: here it runs 3x slower for the first REPEATS calls timed, as long as one
    candidate's calls for a shape would take if each were timed through before the next. packed is fastest."""
    speed = {"packed": 1e-3, "onednn": 1.5e-3, "linear": 2e-3}
    calls = []

    def timer(fn):
        calls.append(fn.kernel)
        return speed[fn.kernel] * (3 if len(calls) <= kernels.REPEATS else 1)

    assert kernels.choose(torch.float32, timer) == "packed"
    assert calls[:3] == list(kernels.CANDIDATES)  # call by call, not candidate by candidate


def test_a_candidate_that_fails_here_is_never_chosen(fresh_cache, monkeypatch):
    real = kernels._call

    def broken(name, x, ws):
        if name == "linear":
            raise RuntimeError("not in this build")
        return real(name, x, ws)

    monkeypatch.setattr(kernels, "_call", broken)
    assert kernels.choose(torch.float32, lambda fn: 1e-3 if fn.kernel == "packed" else 1.0) == "packed"
    # for real: oneDNN's bfloat16 inner product needs AVX-512 (an AVX2 CPU fails it), timed fastest where it runs
    monkeypatch.setattr(kernels, "_call", real)
    monkeypatch.setattr(kernels, "_chosen", {})
    chosen = kernels.choose(torch.bfloat16, lambda fn: 1.0 if fn.kernel == "linear" else 1e-3)
    assert chosen == ("packed" if kernels.runs("packed", torch.bfloat16) else "linear")
    x, w = torch.randn(2, 64).bfloat16(), torch.randn(32, 64).bfloat16()
    assert torch.allclose(kernels._call(chosen, x, [w])().float(), x.float() @ w.float().T, rtol=0.02, atol=0.1)


@pytest.fixture
def without_onednn_bfloat16(monkeypatch):
    """This CPU as one without oneDNN's bfloat16 inner product (no AVX-512: it raises, as it does there), unless it
    already is one."""
    kernels.runs.cache_clear()
    if kernels.runs("onednn", torch.bfloat16):
        for name in ("_linear_pointwise", "_reorder_linear_weight"):
            real = getattr(torch.ops.mkldnn, name)

            def lacking(x, *args, real=real):
                if x.dtype == torch.bfloat16:
                    raise RuntimeError("could not create a primitive descriptor for the inner product")
                return real(x, *args)

            monkeypatch.setattr(torch.ops.mkldnn, name, lacking)
        kernels.runs.cache_clear()
    yield
    kernels.runs.cache_clear()


@pytest.mark.parametrize("kernel", ["packed", "onednn"])
def test_a_take_recorded_with_a_kernel_this_cpu_lacks_runs_one_it_has(fresh_cache, without_onednn_bfloat16, kernel):
    """A take made in bfloat16 through oneDNN (an AVX-512 CPU) and rendered again on an AVX2 CPU: the load runs a
    kernel that works here (render says the bits will differ) instead of failing at the take's first step."""
    assert not kernels.runs(kernel, torch.bfloat16)
    m = load_model("random:tiny", dtype="bfloat16", kernels={"bfloat16": kernel})
    assert m.kernels["bfloat16"] == "linear" and m.lm.heads.kernel == "linear"
    linear = load_model("random:tiny", dtype="bfloat16", kernels={"bfloat16": "linear"})
    assert torch.equal(m.generate(["warm keys"], seconds=0.3, seed=0).codes,
                       linear.generate(["warm keys"], seconds=0.3, seed=0).codes)


@pytest.mark.parametrize("kernel", ["packed", "onednn", "linear"])
def test_dense_runs_the_chosen_kernel(kernel, monkeypatch):
    monkeypatch.setattr(kernels, "choose", lambda dtype, candidates: "linear")  # a measurement, faked
    d = Dense(64, 96)
    torch.nn.init.normal_(d.weight)
    x = torch.randn(3, 64)
    ref = torch.nn.functional.linear(x, d.weight.detach())
    d.pack(kernel)  # the given kernel where float32 offers it; "linear" it does not: the measurement answers
    assert d.kernel == kernel and d.weight.is_mkldnn == (kernel == "packed")
    calls = []
    real = torch.nn.functional.linear
    monkeypatch.setattr(torch.nn.functional, "linear", lambda *a: calls.append(1) or real(*a))
    assert torch.allclose(d(x), ref, atol=1e-4)
    assert bool(calls) == (kernel == "linear")  # oneDNN's kernels never go through F.linear


@pytest.mark.parametrize("kernel", ["packed", "onednn", "linear"])
def test_bfloat16_on_the_cpu_follows_float32(hf_mono, kernel, monkeypatch):
    if not kernels.runs(kernel, torch.bfloat16):
        pytest.skip(f"this CPU has no {kernel} bfloat16 matmul (oneDNN's needs AVX-512)")
    texts = ["warm keys", "dub techno with a long tail"]
    f32 = load_model(str(hf_mono))
    monkeypatch.setattr(kernels, "choose", lambda dtype, candidates: kernel if dtype == torch.bfloat16 else "onednn")
    bf = load_model(str(hf_mono), dtype="bfloat16")
    assert bf.lm.heads.kernel == kernel and bf.lm.heads.weight.dtype == torch.bfloat16
    assert bf.lm.new_cache(2, 8).k.dtype == torch.float32  # attention reads a float32 cache on the CPU (lm.kv_dtype)
    codes = f32.generate(texts, seconds=0.6, top_k=1, seed=0).codes
    a, b = _teacher_forced(f32, codes, texts), _teacher_forced(bf, codes, texts).float()
    assert (a - b).abs().max() < 0.15 * a.std()  # measured here: 0.04 against a spread of 1.0, each kernel
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.9  # measured here: 0.98


def _codec_kernels(m) -> set:
    from .test_int8 import _step_denses

    return {d.kernel for mod in m.codec.decoder.modules() for d in _step_denses(mod)}


def test_a_model_fixes_its_kernels_at_load_whatever_thread_builds_the_codec_steps(monkeypatch, two_threads):
    """The measurement's winner depends on the thread count; a model takes the load's, for its LM and for its
    codec's streaming step matrices, which are built later, at a stream's first frame, on whatever thread decodes
    (the daemon's event loop runs torch on one thread): the take's bits would follow that thread otherwise."""
    monkeypatch.setattr(kernels, "choose",
                        lambda dtype, candidates: "packed" if torch.get_num_threads() == 2 else "onednn")
    m = load_model("random:tiny")
    assert m.kernels == {"float32": "packed"} and m.lm.heads.kernel == "packed"
    torch.set_num_threads(1)
    assert _codec_kernels(m) == {"packed"}  # built now, on 1 thread

    again = load_model("random:tiny", kernels={"float32": "onednn"})  # a take's record: its kernels, not the measure
    assert again.kernels == {"float32": "onednn"} and again.lm.heads.kernel == "onednn"
    assert _codec_kernels(again) == {"onednn"}
    bf = load_model("random:tiny", dtype="bfloat16", kernels={"bfloat16": "linear"})  # the codec stays float32
    assert bf.kernels == {"bfloat16": "linear", "float32": "onednn"} and _codec_kernels(bf) == {"onednn"}
    assert load_model("random:tiny", dtype="int8").kernels == {}  # fbgemm throughout the steps
