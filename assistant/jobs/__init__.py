"""Background jobs: a function registered by name, queued with JSON arguments, run by a worker.

    from assistant.jobs import job, periodic

    @job("mail.deliver")
    def deliver(services, outbox_id: int): ...           # jobs receive the Services first

    @periodic("matching.expire_leads", every=300)
    def expire_leads(services): ...                      # run every 5 minutes by the worker

    services.jobs.enqueue("mail.deliver", outbox_id=12)  # returns the job id

A feature puts its jobs in ``assistant/<feature>/jobs.py`` and lists the module in ``JOB_MODULES``;
``load_jobs()`` imports them. Backends (JOBS_BACKEND): ``inline`` runs the job at once in the caller
(tests), ``thread`` in a worker thread of the same process (development; it also runs the periodic
tasks), ``rq`` on Redis, run by ``gdpr-assistant worker`` (production; the worker runs the periodic
tasks too). ``gdpr-assistant jobs run-periodic`` runs every periodic task once (cron, tests).
A job that fails is logged with its name and id, never with its arguments; it never fails the caller.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

JOB_MODULES = ("assistant.mail.jobs", "assistant.matching.jobs", "assistant.newsletter.jobs")

JOBS: dict[str, Callable] = {}


@dataclass(frozen=True)
class PeriodicTask:
    """A function the worker runs every ``every`` seconds."""

    name: str
    every: int
    run: Callable


PERIODIC: dict[str, PeriodicTask] = {}


def _check_name(name: str, registry: dict, kind: str) -> None:
    if not name or not isinstance(name, str):
        raise ValueError(f"a {kind} needs a name like 'feature.what'")
    if name in registry:
        raise ValueError(f"{kind} {name!r} is registered twice")


def job(name: str) -> Callable[[Callable], Callable]:
    """Register ``fn(services, **kwargs)`` as the job called ``name`` (``"<feature>.<what>"``)."""

    def register(fn: Callable) -> Callable:
        if JOBS.get(name) is fn:
            return fn
        _check_name(name, JOBS, "job")
        JOBS[name] = fn
        return fn

    return register


def periodic(name: str, every: int) -> Callable[[Callable], Callable]:
    """Register ``fn(services)`` to run every ``every`` seconds (by the worker, or the thread backend)."""
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"periodic task {name!r}: every must be a number of seconds (1 or more), got {every!r}")

    def register(fn: Callable) -> Callable:
        if name in PERIODIC and PERIODIC[name].run is fn:
            return fn
        _check_name(name, PERIODIC, "periodic task")
        PERIODIC[name] = PeriodicTask(name, every, fn)
        return fn

    return register


def load_jobs(modules: tuple[str, ...] = JOB_MODULES) -> None:
    """Import every feature's jobs module that exists; any other import error is raised."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is None or not (module == e.name or module.startswith(e.name + ".")):
                raise  # the module exists but something it imports does not


from .queue import InlineQueue, JobQueue, RQQueue, ThreadQueue, build_job_queue, run_job  # noqa: E402

__all__ = ["JOBS", "JOB_MODULES", "PERIODIC", "InlineQueue", "JobQueue", "PeriodicTask", "RQQueue", "ThreadQueue",
           "build_job_queue", "job", "load_jobs", "periodic", "run_job"]
