"""`worker` and `jobs` commands: run queued jobs (RQ on Redis) and the periodic tasks."""

from __future__ import annotations

import logging

import click

from ..errors import AssistantError, ConfigError
from . import cli, settings_of


@cli.command()
@click.option("--burst", is_flag=True, help="Run the due periodic tasks and the queued jobs, then exit.")
@click.pass_context
def worker(ctx, burst):
    """Run queued jobs (JOBS_BACKEND=rq, REDIS_URL) and the periodic tasks, until stopped."""
    from ..container import build_services
    from ..jobs import PERIODIC
    from ..jobs.worker import run_worker

    s = settings_of(ctx)
    if s.jobs_backend != "rq":
        raise ConfigError(f"`gdpr-assistant worker` runs the jobs queued in Redis: set JOBS_BACKEND=rq and REDIS_URL "
                          f"(JOBS_BACKEND={s.jobs_backend} runs them {'in the server process' if s.jobs_backend == 'thread' else 'at once'})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    services = build_services(s, engine=False)
    try:
        click.echo(f"worker on queue {s.jobs_queue!r}; periodic tasks: {', '.join(sorted(PERIODIC)) or 'none'}",
                   err=True)
        run_worker(services, burst=burst)
    finally:
        services.close()


@cli.group()
def jobs():
    """Background jobs: list them, run the periodic tasks once."""


@jobs.command("list")
def jobs_list():
    """The registered jobs and periodic tasks."""
    from ..jobs import JOBS, PERIODIC, load_jobs

    load_jobs()
    for name in sorted(JOBS):
        click.echo(f"job       {name}")
    for name, task in sorted(PERIODIC.items()):
        click.echo(f"periodic  {name}  every {task.every} s")


@jobs.command("run-periodic")
@click.option("--only", "names", multiple=True, help="Run only this periodic task (repeatable).")
@click.pass_context
def jobs_run_periodic(ctx, names):
    """Run every periodic task once, now, in this process (from cron, or to catch up)."""
    from ..container import build_services
    from ..jobs import load_jobs
    from ..jobs.queue import run_periodic

    load_jobs()
    services = build_services(settings_of(ctx), engine=False)
    try:
        results = run_periodic(services, tuple(names))
    finally:
        services.close()
    for name, error in results.items():
        click.echo(f"{name}  {'failed: ' + error if error else 'done'}")
    failed = [n for n, e in results.items() if e]
    if failed:
        raise AssistantError(f"periodic task(s) failed: {', '.join(failed)}; the others ran")
    click.echo(f"ran {len(results)} periodic task(s)")
