"""The live index: every server process picks up a new index generation without a restart.

`gdpr-assistant index` writes a new generation beside the live one and then switches
``index/CURRENT`` atomically (``assistant.retrieval.index``). Each process (each gunicorn worker)
holds a ``LiveIndex``: on a request, at most every ``ASSISTANT_INDEX_CHECK_SECONDS``, it reads that
pointer; when it names another generation, a background thread loads it (index files, vectors,
models, source texts) while requests keep being answered from the old one, then the new one
replaces it in one assignment. A request that already holds a generation finishes with it (a
stream keeps its answer service to the end). A generation that fails to load is logged and tried
again later; the old one keeps serving. The indexer removes a retired generation's files only after
a grace period (``RETIRED_GRACE_SECONDS``), so a process still loading one is not pulled from under.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import AssistantError
from .retrieval.index import current_generation

if TYPE_CHECKING:
    from .answer.service import AnswerService
    from .web.library import SourceLibrary

log = logging.getLogger(__name__)
RETRY_SECONDS = 60.0  # a generation that failed to load is tried again after this long


@dataclass(frozen=True)
class Served:
    """What one index generation serves: the answer service over it and the texts of the source pages."""

    generation: str
    answers: AnswerService
    sources: SourceLibrary


class LiveIndex:
    """The ``Served`` of the live generation; swapped for the next one when the indexer publishes it."""

    def __init__(self, served: Served, index_dir: Path, load: Callable[[], Served] | None = None,
                 check_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.index_dir = Path(index_dir)
        self.check_seconds = check_seconds
        self.clock = clock
        self._load = load
        self._served = served
        self._lock = threading.Lock()  # guards the check and the loader thread, never a request's answer
        self._next_check = clock() + check_seconds
        self._loading: threading.Thread | None = None
        self._failed: dict[str, float] = {}  # generation -> when it may be tried again
        self.swaps = 0

    @property
    def follows(self) -> bool:
        """True when this holder watches the index for new generations."""
        return self._load is not None and self.check_seconds > 0

    def current(self) -> Served:
        """The live generation's services (checks the pointer now and then; never waits for a load)."""
        if self.follows and self.clock() >= self._next_check:
            self.refresh(due_only=True)
        return self._served

    def refresh(self, wait: bool = False, due_only: bool = False) -> str:
        """Check the pointer now; a new generation is loaded in the background (``wait``: until swapped).

        ``due_only``: unless another thread checked in the meantime. Returns the generation served
        after the call.
        """
        if self._load is None:
            return self._served.generation
        with self._lock:
            now = self.clock()
            if due_only and now < self._next_check:
                return self._served.generation
            self._next_check = now + self.check_seconds
            thread = self._loading
            if thread is None:
                wanted = current_generation(self.index_dir)
                if wanted and wanted != self._served.generation and self._failed.get(wanted, 0.0) <= now:
                    thread = threading.Thread(target=self._swap, args=(wanted,), daemon=True,
                                              name=f"load-index-{wanted}")
                    self._loading = thread
                    thread.start()
        if wait and thread is not None:
            thread.join()
        return self._served.generation

    def _swap(self, wanted: str) -> None:
        """Load the published generation and serve it (the old one keeps serving until then)."""
        t0 = time.perf_counter()
        served = None
        try:
            served = self._load()
            degraded = served.answers.retriever.degraded
            if degraded and not self._served.answers.retriever.degraded:
                # Better the complete old index than a lexical-only new one: try again later.
                raise _Rejected(f"it would answer without its vectors ({degraded})")
        except Exception as e:  # whatever went wrong, the old generation keeps serving
            served = None
            message = e.message if isinstance(e, AssistantError) else f"{type(e).__name__}: {e}"
            log.error("index generation %s not loaded, still serving %s (retry in %.0f s): %s",
                      wanted, self._served.generation, RETRY_SECONDS, message)
        with self._lock:
            self._loading = None
            if served is None:
                self._failed[wanted] = self.clock() + RETRY_SECONDS
                return
            if served.generation == self._served.generation:
                return
            old, self._served = self._served, served  # one assignment: a request sees the old or the new
            self._failed.pop(served.generation, None)
            self.swaps += 1
        log.info("now serving index %s (was %s), loaded in %.1f s", served.generation, old.generation,
                 time.perf_counter() - t0)


class _Rejected(Exception):
    """A loaded generation not worth serving."""
