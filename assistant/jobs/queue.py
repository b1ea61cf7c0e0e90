"""The job queue backends behind ``services.jobs``: inline (tests), thread (development), rq (production)."""

from __future__ import annotations

import json
import logging
import queue as stdqueue
import threading
import time
import uuid

from ..config import Settings, mask_url
from ..errors import JobError
from . import JOBS, PERIODIC, load_jobs

log = logging.getLogger("assistant.jobs")


def _payload(name: str, kwargs: dict) -> dict:
    """The arguments as the worker will see them (through JSON); JobError on an unknown job or non-JSON values."""
    if name not in JOBS:
        known = ", ".join(sorted(JOBS)) or "none"
        raise JobError(f"unknown job {name!r} (registered: {known}); is its module listed in "
                       "assistant.jobs.JOB_MODULES?")
    try:
        return json.loads(json.dumps(kwargs, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise JobError(f"the arguments of job {name!r} must be JSON values (text, numbers, booleans, None, lists, "
                       f"dicts): {e}") from None


def run_job(services, name: str, kwargs: dict):
    """Run the job ``name`` now with ``services``; its own exceptions propagate."""
    fn = JOBS.get(name)
    if fn is None:
        raise JobError(f"unknown job {name!r}: the worker runs older or newer code than the enqueuer?")
    return fn(services, **kwargs)


def run_periodic(services, names: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Run each periodic task once (all, or ``names``); returns name -> error text, or None when it worked."""
    unknown = set(names) - set(PERIODIC)
    if unknown:
        raise JobError(f"unknown periodic task(s) {', '.join(sorted(unknown))}; registered: "
                       f"{', '.join(sorted(PERIODIC)) or 'none'}")
    results = {}
    for name in sorted(names or PERIODIC):
        try:
            PERIODIC[name].run(services)
            results[name] = None
        except Exception as e:
            log.exception("periodic task %s failed", name)
            results[name] = f"{type(e).__name__}: {getattr(e, 'message', None) or e}"
    return results


class JobQueue:
    """Queues jobs by name with JSON arguments; a job never fails its caller (failures are logged)."""

    backend = ""

    def __init__(self):
        self._services = None

    def bind(self, services) -> None:
        """The services the jobs receive (set by build_services, which builds the queue first); loads the jobs."""
        load_jobs()
        self._services = services

    @property
    def services(self):
        """The bound services; JobError when build_services has not bound them."""
        if self._services is None:
            raise JobError("the job queue has no services: build it with build_services()")
        return self._services

    def enqueue(self, name: str, **kwargs) -> str:
        """Queue job ``name`` with ``kwargs`` (JSON values); returns the job id."""
        raise NotImplementedError

    def start(self) -> None:
        """Start background work (the thread backend's worker and periodic tasks); others do nothing."""

    def close(self) -> None:
        """Stop background work and release connections."""

    def _run_logged(self, job_id: str, name: str, kwargs: dict) -> None:
        try:
            run_job(self.services, name, kwargs)
        except Exception:
            log.exception("job %s (%s) failed", name, job_id)  # arguments are not logged: they may be personal


class InlineQueue(JobQueue):
    """Runs each job at once, in the caller (tests: deterministic, no thread)."""

    backend = "inline"

    def enqueue(self, name: str, **kwargs) -> str:
        """Run the job now; returns its id."""
        payload = _payload(name, kwargs)
        job_id = uuid.uuid4().hex
        self._run_logged(job_id, name, payload)
        return job_id


class ThreadQueue(JobQueue):
    """One worker thread in this process runs the jobs in order, and the periodic tasks when started."""

    backend = "thread"

    def __init__(self, tick: float = 1.0):
        super().__init__()
        self._queue: stdqueue.Queue = stdqueue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._scheduler: threading.Thread | None = None
        self._tick = tick

    def enqueue(self, name: str, **kwargs) -> str:
        """Queue the job for the worker thread (started on first use); returns its id."""
        payload = _payload(name, kwargs)
        job_id = uuid.uuid4().hex
        self._ensure_worker()
        self._queue.put((job_id, name, payload))
        return job_id

    def start(self) -> None:
        """Start the worker thread and the periodic tasks (each first runs ``every`` seconds from now)."""
        self._ensure_worker()
        with self._lock:
            if self._scheduler is None and PERIODIC:
                self._scheduler = threading.Thread(target=self._schedule, name="jobs-periodic", daemon=True)
                self._scheduler.start()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every queued job has run (tests); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        """Finish the queued jobs, then stop both threads."""
        self._stop.set()
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=30)
        if self._scheduler is not None:
            self._scheduler.join(timeout=5)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="jobs-worker", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                job_id, name, payload = item
                if name in JOBS:
                    self._run_logged(job_id, name, payload)
                else:  # a periodic task put here by the scheduler: one thread does all the work
                    run_periodic(self.services, (name.removeprefix("periodic:"),))
            finally:
                self._queue.task_done()

    def _schedule(self) -> None:
        now = time.monotonic()
        due = {name: now + task.every for name, task in PERIODIC.items()}
        while not self._stop.wait(self._tick):
            now = time.monotonic()
            for name, at in due.items():
                if now >= at:
                    due[name] = now + PERIODIC[name].every
                    self._queue.put((uuid.uuid4().hex, f"periodic:{name}", {}))


class RQQueue(JobQueue):
    """Jobs on Redis through RQ (queue JOBS_QUEUE), run by ``gdpr-assistant worker``."""

    backend = "rq"

    def __init__(self, redis_url: str, queue_name: str = "gdpr-assistant", job_timeout: int = 600):
        super().__init__()
        from redis import Redis
        from rq import Queue

        self.redis_url = redis_url
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=30)
        self.queue = Queue(queue_name, connection=self.redis)
        self.job_timeout = job_timeout

    def enqueue(self, name: str, **kwargs) -> str:
        """Put the job (its name and JSON arguments) on the RQ queue; JobError when Redis cannot be reached."""
        return self._put("assistant.jobs.worker.execute", name, _payload(name, kwargs))

    def schedule_due(self) -> list[str]:
        """Queue every periodic task whose period has come; one worker among several wins each period."""
        from redis import RedisError

        queued = []
        for name, task in sorted(PERIODIC.items()):
            try:
                won = self.redis.set(f"{self.queue.name}:periodic:{name}", "1", nx=True, ex=task.every)
            except RedisError as e:
                log.error("cannot schedule periodic tasks: %s", self._unreachable(e))
                return queued
            if won:
                self._put("assistant.jobs.worker.execute_periodic", name)
                queued.append(name)
        return queued

    def close(self) -> None:
        """Close the Redis connections."""
        self.redis.close()

    def _put(self, function: str, name: str, *args) -> str:
        from redis import RedisError

        try:
            # description=name: RQ would otherwise show the arguments (perhaps personal) in its registries
            job = self.queue.enqueue(function, name, *args, job_timeout=self.job_timeout, result_ttl=3600,
                                     failure_ttl=7 * 86400, description=name)
        except RedisError as e:
            raise JobError(f"cannot queue job {name!r}: {self._unreachable(e)}") from None
        return job.id

    def _unreachable(self, e: Exception) -> str:
        return (f"Redis at {mask_url(self.redis_url)} is unreachable ({type(e).__name__}); check REDIS_URL and that "
                "Redis is running")


def build_job_queue(settings: Settings) -> JobQueue:
    """The backend JOBS_BACKEND asks for, with every feature's jobs loaded."""
    load_jobs()
    if settings.jobs_backend == "inline":
        return InlineQueue()
    if settings.jobs_backend == "rq":
        return RQQueue(settings.redis_url, settings.jobs_queue)
    return ThreadQueue()
