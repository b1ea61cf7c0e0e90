"""CPU-bound build steps spread over the machine's cores, with results identical to a serial run.

An index build spends its time in two kinds of work: embedding (the runtime already uses every core)
and pure-Python loops (the ranker's training candidates, model fits), which use one. These helpers run
the second kind in forked child processes. A forked child inherits the build's in-memory index, so
nothing is pickled on the way in; only results come back, through a pipe. The children never embed
and never touch the vector store: the runtime's thread pool and the store's connections are not safe
to use after a fork.

A fork copies one thread of a process that may have several (a web server, an RQ worker, a test
run), so a child can inherit a lock some other thread held and wait on it forever. Hence no
``multiprocessing.Pool``: a test run once waited 20 minutes on one that never returned (the cause was
not pinned down; that process held an RQ worker's SIGTERM handler, which a pool's children inherit
and which its SIGTERM-based shutdown meets). Each child resets its signal
handlers, computes, writes its pickled result and leaves with ``os._exit``, running no exit handler
and flushing no inherited stream. A child that dies, or sends nothing within ``timeout`` seconds, is
killed and its work is done again in the calling process: slower, never stuck, the same result.
Where fork is unavailable (or one core), everything runs in the calling process, in the same order.
"""

from __future__ import annotations

import logging
import os
import pickle
import selectors
import signal
import time
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

TIMEOUT = 900.0  # seconds a child may take (a full build's slice takes well under a minute)


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _can_fork() -> bool:
    return hasattr(os, "fork")


class ChildFailed(Exception):
    """A child process died, or sent nothing in time: its work is redone in the calling process."""


class _Child:
    """``fn()`` computed in a forked process; ``_wait_all`` collects its result (or raises its exception)."""

    def __init__(self, fn: Callable[[], object]):
        read, write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            raise
        if pid == 0:  # the child: never returns
            status = 0
            try:
                os.close(read)
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)  # a kill ends it, whatever handler the parent had
                try:
                    payload = pickle.dumps((True, fn()), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException as e:  # noqa: BLE001 - sent to the caller, who raises it
                    try:
                        payload = pickle.dumps((False, e), protocol=pickle.HIGHEST_PROTOCOL)
                    except Exception:  # noqa: BLE001 - an exception that cannot be pickled
                        payload = pickle.dumps((False, RuntimeError(f"{type(e).__name__}: {e}")))
                view = memoryview(payload)
                while view:
                    view = view[os.write(write, view):]
            except BaseException:  # noqa: BLE001 - nothing may escape a forked child
                status = 1
            finally:
                os._exit(status)
        os.close(write)
        self.pid, self.fd, self.data = pid, read, bytearray()

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def reap(self) -> None:
        if self.fd < 0:
            return  # already reaped
        os.close(self.fd)
        self.fd = -1
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass

    def outcome(self):
        if not self.data:
            raise ChildFailed(f"child process {self.pid} died without a result")
        ok, value = pickle.loads(bytes(self.data))
        if not ok:
            raise value
        return value


def _wait_all(children: list[_Child], timeout: float) -> list:
    """Each child's result, in order (reading every pipe at once, so no child blocks on a full pipe)."""
    sel = selectors.DefaultSelector()
    for c in children:
        sel.register(c.fd, selectors.EVENT_READ, c)
    deadline = time.monotonic() + timeout
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            events = sel.select(left) if left > 0 else []
            if not events:
                raise ChildFailed(f"child processes sent no result within {timeout:.0f} s")
            for key, _ in events:
                chunk = os.read(key.fd, 1 << 20)
                if chunk:
                    key.data.data += chunk
                else:
                    sel.unregister(key.fd)
    finally:
        for key in list(sel.get_map().values()):
            key.data.kill()  # still running when we stop waiting (timeout, interrupt): not left behind
        sel.close()
        for c in children:
            c.reap()
    return [c.outcome() for c in children]


def split_map(fn: Callable[[Sequence], list], items: Sequence, workers: int = 0, min_items: int = 200,
              timeout: float = TIMEOUT) -> list:
    """``fn(items)`` computed over contiguous slices in forked processes and concatenated in order.

    ``fn`` maps a slice to a list (one result per item, or fewer); the result equals ``fn(items)``
    whenever ``fn`` treats items independently. Small inputs run in this process.
    """
    workers = min(workers or cpu_count(), len(items) // max(min_items // 2, 1) or 1)
    if workers < 2 or len(items) < min_items or not _can_fork():
        return fn(items)
    step = -(-len(items) // workers)
    slices = [items[i:i + step] for i in range(0, len(items), step)]
    children: list[_Child] = []
    try:
        for part in slices:
            children.append(_Child(lambda part=part: fn(part)))
        parts = _wait_all(children, timeout)
    except (ChildFailed, OSError) as e:  # OSError: no fork possible now (memory, process limit)
        for c in children:
            c.kill()
            c.reap()
        log.warning("%s; computing in this process instead", e)
        return fn(items)
    return [x for part in parts for x in part]


class Background:
    """``fn()`` run in a forked child while the caller goes on; ``result()`` waits for it.

    With one core or no fork, ``fn`` runs when ``result()`` is called; it also runs there when the
    child dies or sends nothing within ``timeout`` seconds.
    """

    def __init__(self, fn: Callable[[], object], workers: int = 0, timeout: float = TIMEOUT):
        self.fn = fn
        self.timeout = timeout
        self._child = None
        if (workers or cpu_count()) >= 2 and _can_fork():
            try:
                self._child = _Child(fn)
            except OSError as e:  # no fork possible now (memory, process limit): run it in result()
                log.warning("no child process (%s); computing in this process instead", e)

    def result(self):
        """What ``fn()`` returned (its exception is raised here)."""
        if self._child is None:
            return self.fn()
        child, self._child = self._child, None
        try:
            return _wait_all([child], self.timeout)[0]
        except ChildFailed as e:
            log.warning("%s; computing in this process instead", e)
            return self.fn()
