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
