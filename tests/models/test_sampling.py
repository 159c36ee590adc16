"""Sampling against transformers' logits processors, per-row parameters in one batch, guidance, the seeded draw."""
from __future__ import annotations

import torch

from loopgen.models.sampling import choose, filter_logits, guide, uniforms


def _ref(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    x = logits.reshape(-1, logits.shape[-1])
    if temperature != 1.0:
        x = TemperatureLogitsWarper(temperature)(None, x)
    if top_k > 0:
        x = TopKLogitsWarper(top_k)(None, x)
    if 0 < top_p < 1:
        x = TopPLogitsWarper(top_p)(None, x)
    return x.view(logits.shape)


def test_filters_equal_transformers_with_a_different_setting_per_row():
    g = torch.Generator().manual_seed(0)
    settings = [(1.0, 250, 0.0), (0.7, 0, 0.9), (1.3, 50, 0.5), (1.0, 2048, 0.0), (0.5, 3, 0.95), (2.0, 0, 0.0)]
    logits = torch.randn(len(settings), 4, 2048, generator=g) * 3
    t = torch.tensor([s[0] for s in settings])
    k = torch.tensor([s[1] for s in settings])
    p = torch.tensor([s[2] for s in settings])
    mine = filter_logits(logits, t, k, p)
    for b, (tb, kb, pb) in enumerate(settings):
        ref = _ref(logits[b : b + 1], tb, kb, pb)[0]
        assert torch.equal(torch.isfinite(mine[b]), torch.isfinite(ref)), settings[b]
        kept = torch.isfinite(ref)
        assert torch.allclose(mine[b][kept], ref[kept], atol=1e-5)
        if 0 < kb < 2048 and pb == 0:
            assert int(kept.sum()) == kb * 4


def test_guidance_formula_weights_and_cfg_one():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(5, 4, 16, generator=g)
    # voice 0: prompts a (0.25), b (0.75) + uncond; voice 1: one prompt, no uncond
    voice = torch.tensor([0, 0, 0, 1, 0])
    weight = torch.tensor([0.25, 0.75, 0.0, 1.0, 0.0])
    uncond = torch.tensor([False, False, True, False, False])
    out = guide(logits, voice, weight, uncond, torch.tensor([3.0, 3.0]))
    cond = 0.25 * logits[0] + 0.75 * logits[1]
    assert torch.allclose(out[0], logits[2] + 3.0 * (cond - logits[2]), atol=1e-6)
    assert torch.equal(out[1], logits[3])  # no unconditional row: the conditional logits exactly
    at_one = guide(logits, voice, weight, uncond, torch.tensor([1.0, 1.0]))
    assert torch.equal(at_one[0], cond)  # cfg 1 is the conditional model exactly, not uncond + (cond - uncond)


def test_seeded_draws_are_uniform_independent_and_row_local():
    seed, draws = torch.tensor([1, 1, 2, 2**40 + 1]), torch.tensor([0, 1, 0, 0])
    u = uniforms(seed, draws, 20000)
    assert (u > 0).all() and (u < 1).all()
    assert abs(float(u.mean()) - 0.5) < 0.01 and abs(float(u.var()) - 1 / 12) < 0.005
    for i in range(4):
        for j in range(i + 1, 4):
            assert not torch.equal(u[i], u[j])  # other draw count, other seed, other high seed bits
    assert torch.equal(uniforms(seed[2:3], draws[2:3], 20000)[0], u[2])  # the batch around a row changes nothing


def test_choose_matches_the_distribution_and_greedy_rows():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    logits = probs.log().expand(4000, 1, 4).contiguous()
    n = logits.shape[0]
    ones = torch.ones(n)
    picks = choose(logits, ones, torch.zeros(n, dtype=torch.long), torch.zeros(n), torch.full((n,), 7),
                   torch.arange(n))[:, 0]
    freq = torch.bincount(picks, minlength=4).float() / n
    assert (freq - probs).abs().max() < 0.03
    greedy = choose(logits[:2], torch.tensor([0.0, 1.0]), torch.tensor([0, 1]), torch.zeros(2), torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long))
    assert greedy.tolist() == [[3], [3]]


def test_some_elements_of_the_draw_are_those_of_the_whole_draw():
    from loopgen.models.sampling import uniforms_at

    seed, draws = torch.tensor([3, 2**40 + 7]), torch.tensor([1, 9])
    whole = uniforms(seed, draws, 500)
    idx = torch.tensor([[0, 499, 17], [250, 3, 3]])
    assert torch.equal(uniforms_at(seed, draws, idx), whole.gather(1, idx))


def test_the_cpu_shortcuts_give_the_fixed_shape_paths_values(monkeypatch):
    """On the CPU, top-k alone takes the k largest values (no sort of the vocabulary) and the draw reuses its
    elements' hashes and makes each row's key on the host: the same values, ties at the k-th value included, as the
    path a captured step takes."""
    g = torch.Generator().manual_seed(5)
    logits = torch.randint(-12, 12, (4, 4, 2048), generator=g).float() / 4  # many ties at every k-th value
    t, k = torch.tensor([1.0, 0.7, 0.0, 1.3]), torch.tensor([250, 1, 0, 2048])
    p, seed, draws = torch.zeros(4), torch.tensor([1, 2**63 - 1, 3, 2**40]), torch.tensor([0, 5, 2**35 + 9, 1])
    fast = (filter_logits(logits, t, k, p, eager=True), choose(logits, t, k, p, seed, draws, eager=True),
            uniforms(seed, draws, 999, eager=True))
    slow = filter_logits(logits, t, k, p), choose(logits, t, k, p, seed, draws), uniforms(seed, draws, 999)
    for a, b in zip(fast, slow):
        assert torch.equal(a, b)
    assert int(torch.isfinite(fast[0][0]).sum(-1).min()) > 250  # the ties kept

    def no_sort(*a, **kw):
        raise AssertionError("sorted the vocabulary")

    monkeypatch.setattr(torch.Tensor, "sort", no_sort)
    assert torch.equal(filter_logits(logits, t, k, p, eager=True), fast[0])  # the shortcut was the one taken
