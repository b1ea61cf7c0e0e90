"""CPU-bound build steps spread over the machine's cores, with results identical to a serial run.

An index build spends its time in two kinds of work: embedding (torch already uses every core) and
pure-Python loops (the ranker's training candidates, model fits), which use one. These helpers run
the second kind in forked worker processes. A forked child inherits the build's in-memory index, so
nothing is pickled on the way in; only results come back. The children never embed and never touch
the vector store: torch's thread pool and the store's connections are not safe to use after a fork.
Where fork is unavailable (or one core), everything runs in the calling process, in the same order.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence

_WORK: tuple | None = None  # what the forked children read: set just before the fork


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _can_fork() -> bool:
    return "fork" in mp.get_all_start_methods()


def _slice(bounds: tuple[int, int]) -> list:
    fn, items = _WORK
    return fn(items[bounds[0]:bounds[1]])


def split_map(fn: Callable[[Sequence], list], items: Sequence, workers: int = 0, min_items: int = 200) -> list:
    """``fn(items)`` computed over contiguous slices in forked processes and concatenated in order.

    ``fn`` maps a slice to a list (one result per item, or fewer); the result equals ``fn(items)``
    whenever ``fn`` treats items independently. Small inputs run in this process.
    """
    global _WORK
    workers = min(workers or cpu_count(), len(items) // max(min_items // 2, 1) or 1)
    if workers < 2 or len(items) < min_items or not _can_fork():
        return fn(items)
    step = -(-len(items) // workers)
    bounds = [(i, min(i + step, len(items))) for i in range(0, len(items), step)]
    _WORK = (fn, items)
    try:
        with mp.get_context("fork").Pool(len(bounds)) as pool:
            parts = pool.map(_slice, bounds, chunksize=1)
    finally:
        _WORK = None
    return [x for part in parts for x in part]


def _call(_: int):
    fn = _WORK[0]
    return fn()


class Background:
    """``fn()`` run in a forked child while the caller goes on; ``result()`` waits for it.

    With one core or no fork, ``fn`` runs when ``result()`` is called.
    """

    def __init__(self, fn: Callable[[], object], workers: int = 0):
        global _WORK
        self.fn = fn
        self._pool = self._async = None
        if (workers or cpu_count()) >= 2 and _can_fork():
            _WORK = (fn,)
            try:
                self._pool = mp.get_context("fork").Pool(1)
                self._async = self._pool.apply_async(_call, (0,))
            finally:
                _WORK = None

    def result(self):
        """What ``fn()`` returned (its exception is raised here)."""
        if self._pool is None:
            return self.fn()
        try:
            return self._async.get()
        finally:
            self._pool.close()
            self._pool.join()
