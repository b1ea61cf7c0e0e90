"""What an RQ worker process runs: the functions RQ calls, with this process's Services (built once).

``gdpr-assistant worker`` builds the services, hands them to ``use_services`` and runs rq's
``SimpleWorker`` (jobs run in the worker process itself, so the services and their database pool
are built once and never shared across a fork). A plain ``rq worker`` also works: the services
are then built from the environment on the first job.
"""

from __future__ import annotations

import logging
import threading

from . import PERIODIC, load_jobs
from .queue import RQQueue, run_job, run_periodic

log = logging.getLogger("assistant.jobs")
_services = None
_lock = threading.Lock()


def use_services(services) -> None:
    """The services the jobs of this process receive."""
    global _services
    _services = services


def current_services():
    """This process's services: those given to ``use_services``, else built once from the environment."""
    global _services
    with _lock:
        if _services is None:
            from ..config import Settings
            from ..container import build_services

            _services = build_services(Settings.from_env(), engine=False)
        return _services


def execute(name: str, kwargs: dict):
    """RQ's entry point for a job: run ``name`` with this process's services (failures go to RQ's registry)."""
    load_jobs()
    return run_job(current_services(), name, kwargs)


def execute_periodic(name: str) -> None:
    """RQ's entry point for a periodic task."""
    load_jobs()
    if name not in PERIODIC:
        raise LookupError(f"unknown periodic task {name!r}")
    error = run_periodic(current_services(), (name,))[name]
    if error:
        raise RuntimeError(f"periodic task {name} failed: {error}")


def run_worker(services, burst: bool = False, tick: float = 5.0) -> None:
    """Work on the queue until stopped (or, with ``burst``, until it is empty), running due periodic tasks."""
    from redis import RedisError
    from rq import SimpleWorker

    from ..errors import JobError

    jobs = services.jobs
    if not isinstance(jobs, RQQueue):
        raise TypeError("the worker needs the rq backend")
    use_services(services)
    stop = threading.Event()

    def schedule():
        while not stop.wait(tick):
            jobs.schedule_due()

    try:
        jobs.redis.ping()
    except RedisError as e:
        raise JobError(f"the worker cannot start: {jobs._unreachable(e)}") from None
    jobs.schedule_due()
    scheduler = None
    if not burst:
        scheduler = threading.Thread(target=schedule, name="jobs-periodic", daemon=True)
        scheduler.start()
    try:
        SimpleWorker([jobs.queue], connection=jobs.redis).work(burst=burst, logging_level="INFO",
                                                              with_scheduler=False)
    except RedisError as e:
        raise JobError(f"the worker stopped: {jobs._unreachable(e)}") from None
    finally:
        stop.set()
        if scheduler is not None:
            scheduler.join(timeout=tick + 1)
