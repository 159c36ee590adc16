"""The adaptive thread policy (ThreadGovernor): all cores while they are fastest, one fewer while a neighbour makes
them slow, back when it has gone; decided from step times only."""
from __future__ import annotations

from loopgen.models.threads import ThreadGovernor, thread_range


def run(g: ThreadGovernor, cost, steps: int, sig: object = "one stream") -> list[int]:
    """Step `steps` times, each taking cost(threads) seconds; the counts used, in order."""
    used = []
    for _ in range(steps):
        n = g.now
        used.append(n)
        g.observe(cost(n), sig)
    return used


QUIET = {1: 0.060, 2: 0.048}.get  # 2 threads 25 % faster
BUSY = {1: 0.069, 2: 0.170}.get  # a busy neighbour: 2 threads 3.5x slower, 1 thread 15 %


def test_a_quiet_machine_keeps_every_core():
    g = ThreadGovernor(1, 2)
    used = run(g, QUIET, 2000)
    assert g.home == 2 and used.count(1) < 0.03 * len(used)  # only its trials, fewer and fewer
    assert sum(QUIET(n) for n in used) < 1.01 * 2000 * QUIET(2)


def test_a_neighbour_costs_one_core_at_once_and_gives_it_back_when_gone():
    g = ThreadGovernor(1, 2)
    run(g, QUIET, 100)
    used = run(g, BUSY, 600)
    assert used.index(1) <= 2 and g.home == 1  # the first slow step starts a trial, one thread wins it
    assert used[10:].count(2) < 0.03 * 590  # then only trials of two threads, fewer and fewer
    assert sum(BUSY(n) for n in used) < 1.25 * 600 * BUSY(1)  # the neighbour's cost stays near one thread's
    used = run(g, QUIET, 600)
    assert g.home == 2 and used[-200:].count(2) > 0.95 * 200  # gone: the next trial (at most 256 steps on) finds it


def test_a_one_off_slow_step_moves_nothing():
    g = ThreadGovernor(1, 2)
    run(g, QUIET, 30)
    g.observe(0.5, "one stream")  # a page fault, a collection: one step 10x slower, then quiet again
    used = run(g, QUIET, 60)
    assert 1 in used[:4] and g.home == 2 and used[10:] == [2] * 50


def test_new_work_starts_the_comparison_afresh():
    g = ThreadGovernor(1, 2)
    run(g, QUIET, 50, sig="one stream")
    # eight streams: each step is 6x longer, which is not a neighbour: no probe on the first step of new work
    used = run(g, lambda n: 6 * QUIET(n), 30, sig="eight streams")
    assert used == [2] * 30 and g.home == 2


def test_one_core_has_nothing_to_choose():
    low, high = thread_range(1)
    g = ThreadGovernor(low, high)
    assert (low, high) == (1, 1) and not g.active and run(g, BUSY, 100) == [1] * 100
    assert thread_range(8) == (7, 8)


def test_run_alone_runs_on_a_thread_that_ends_with_the_count_given():
    """One-off parallel work (loading, timing) on a thread of its own that is gone afterwards (its OpenMP pool with
    it), on the count asked for; its result comes back, its error is raised in the caller."""
    import threading

    import pytest
    import torch

    from loopgen.models.threads import one_thread, run_alone

    seen = {}

    def work(x):
        seen["thread"], seen["count"] = threading.current_thread(), torch.get_num_threads()
        return x * 2

    assert run_alone(2, work, 21) == 42
    assert seen["count"] == 2 and seen["thread"] is not threading.current_thread() and not seen["thread"].is_alive()
    with pytest.raises(ZeroDivisionError):
        run_alone(1, lambda: 1 / 0)
    one_thread()
    assert torch.get_num_threads() == 1  # (conftest puts the count back)
