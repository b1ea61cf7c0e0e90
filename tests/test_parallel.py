"""Build steps spread over worker processes give what one process gives, in the same order."""

import os

import pytest

from assistant.retrieval.parallel import Background, split_map


def _tagged(items):
    return [(x * x, os.getpid()) for x in items]


def _odd_only(items):
    return [x for x in items if x % 2]


def test_split_map_equals_the_serial_result_and_uses_workers():
    items = list(range(1000))
    out = split_map(_tagged, items, workers=2)
    assert [v for v, _ in out] == [x * x for x in items]  # same values, same order
    pids = {p for _, p in out}
    assert len(pids) == 2 and os.getpid() not in pids  # really computed by two forked workers


def test_split_map_keeps_order_when_a_slice_returns_fewer_items():
    assert split_map(_odd_only, list(range(999)), workers=2) == list(range(1, 999, 2))


def test_small_inputs_and_one_worker_run_in_this_process():
    assert {p for _, p in split_map(_tagged, list(range(50)), workers=2)} == {os.getpid()}
    assert {p for _, p in split_map(_tagged, list(range(1000)), workers=1)} == {os.getpid()}
    assert split_map(_tagged, [], workers=2) == []


def test_background_returns_the_childs_result():
    job = Background(lambda: ("done", os.getpid()), workers=2)
    value, pid = job.result()
    assert value == "done" and pid != os.getpid()


def test_background_raises_the_childs_error_in_the_caller():
    def boom():
        raise ValueError("the scope examples file is empty")

    job = Background(boom, workers=2)
    with pytest.raises(ValueError, match="scope examples"):
        job.result()


def test_background_with_one_worker_runs_on_result():
    job = Background(lambda: os.getpid(), workers=1)
    assert job.result() == os.getpid()


PARENT = os.getpid()


def _dies_in_children(items):
    if os.getpid() != PARENT:
        os._exit(3)  # a worker killed mid-build (out of memory, a signal)
    return [x * 2 for x in items]


def _stuck_in_children(items):
    if os.getpid() != PARENT:
        import time

        time.sleep(600)  # a worker waiting forever on a lock inherited from another thread
    return [x * 2 for x in items]


@pytest.mark.parametrize("fn", [_dies_in_children, _stuck_in_children])
def test_a_dead_or_stuck_worker_costs_time_not_the_build(fn):
    import time

    t = time.monotonic()
    assert split_map(fn, list(range(1000)), workers=2, timeout=5) == [x * 2 for x in range(1000)]
    assert time.monotonic() - t < 60  # the stuck children were killed, not waited for


def test_workers_end_even_when_the_parent_ignores_sigterm():
    """An RQ worker (or a web server) installs its own SIGTERM handler; the forked children must not
    inherit a handler that keeps them alive."""
    import signal

    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        for _ in range(5):
            assert split_map(_odd_only, list(range(999)), workers=2, timeout=30) == list(range(1, 999, 2))
        job = Background(lambda: os.getpid(), workers=2, timeout=30)
        assert job.result() != os.getpid()
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_background_redoes_the_work_when_its_child_dies():
    def work():
        if os.getpid() != PARENT:
            os._exit(9)
        return "computed here"

    assert Background(work, workers=2, timeout=30).result() == "computed here"


def test_a_fork_that_fails_midway_runs_the_work_here(monkeypatch):
    """The second fork fails (memory, process limit): the first child is stopped, the work done here."""
    real_fork, calls = os.fork, []

    def flaky_fork():
        calls.append(1)
        if len(calls) == 2:
            raise OSError(11, "Resource temporarily unavailable")
        return real_fork()

    monkeypatch.setattr(os, "fork", flaky_fork)
    out = split_map(_tagged, list(range(1000)), workers=2)
    assert [v for v, _ in out] == [x * x for x in range(1000)] and {p for _, p in out} == {os.getpid()}
    assert len(calls) == 2
