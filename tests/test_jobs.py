"""Background jobs: registration, the inline and thread backends, RQ on the real Redis, the CLI commands."""

import logging
import threading
import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from assistant.chat.models import Exchange
from assistant.cli import cli
from assistant.container import build_services
from assistant.errors import JobError
from assistant.jobs import JOBS, PERIODIC, InlineQueue, PeriodicTask, RQQueue, ThreadQueue, job, load_jobs
from assistant.jobs import periodic as periodic_task
from assistant.jobs import worker as rq_worker

ANSWER = {"answer": "Within 72 hours.", "status": "answered", "language": "en", "citations": []}


def record_question(services, question: str):
    """A job that writes to the database: one stored exchange."""
    services.exchanges.record(question, ANSWER)
    threads.append(threading.current_thread().name)


def broken(services, **kwargs):
    raise RuntimeError("the job broke")


threads: list[str] = []


@pytest.fixture
def registered():
    """Test jobs and periodic tasks, registered for one test only."""
    added = {"tests.record": record_question, "tests.broken": broken}
    JOBS.update(added)
    PERIODIC["tests.tick"] = PeriodicTask("tests.tick", 1, lambda services: record_question(services, "tick"))
    threads.clear()
    yield
    for name in added:
        JOBS.pop(name, None)
    PERIODIC.pop("tests.tick", None)
    PERIODIC.pop("tests.fails", None)


def services_with(settings, queue):
    services = build_services(settings, engine=False, jobs=queue)
    services.database.upgrade()
    return services


def stored(services) -> list[str]:
    with services.database.reading() as s:
        return list(s.scalars(select(Exchange.question).order_by(Exchange.created_at)))


# -- registration ---------------------------------------------------------------------------------
def test_registration_rules():
    @job("tests.once")
    def once(services):
        pass

    try:
        assert JOBS["tests.once"] is once
        assert job("tests.once")(once) is once  # a module imported twice registers the same function again
        with pytest.raises(ValueError, match="'tests.once' is registered twice"):
            job("tests.once")(lambda services: None)
    finally:
        JOBS.pop("tests.once")
    with pytest.raises(ValueError, match="every must be a number of seconds"):
        periodic_task("tests.never", every=0)


def test_load_jobs_skips_absent_modules_but_not_broken_ones(tmp_path, monkeypatch):
    (tmp_path / "jobspkg").mkdir()
    (tmp_path / "jobspkg/__init__.py").write_text("")
    (tmp_path / "jobspkg/ok.py").write_text("from assistant.jobs import job\n\n@job('tests.from_module')\n"
                                             "def f(services):\n    pass\n")
    (tmp_path / "jobspkg/broken.py").write_text("import a_library_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        load_jobs(("jobspkg.ok", "jobspkg.absent", "no_such_feature.jobs"))
        assert "tests.from_module" in JOBS
        with pytest.raises(ModuleNotFoundError, match="a_library_that_is_not_installed"):
            load_jobs(("jobspkg.broken",))
    finally:
        JOBS.pop("tests.from_module", None)


# -- inline -----------------------------------------------------------------------------------------
def test_inline_runs_at_once_in_the_caller(settings, registered):
    services = services_with(settings, InlineQueue())
    job_id = services.jobs.enqueue("tests.record", question="inline question")
    assert len(job_id) == 32 and stored(services) == ["inline question"]
    assert threads == [threading.current_thread().name]
    services.close()


@pytest.mark.parametrize("name,kwargs,message", [
    ("tests.nothing", {}, "unknown job 'tests.nothing'"),
    ("tests.record", {"question": datetime(2026, 1, 1)}, "must be JSON values"),
    ("tests.record", {"question": float("nan")}, "must be JSON values"),
])
def test_bad_jobs_are_refused_before_anything_runs(settings, registered, name, kwargs, message):
    for queue in (InlineQueue(), ThreadQueue()):
        services = services_with(settings, queue)
        with pytest.raises(JobError, match=message):
            services.jobs.enqueue(name, **kwargs)
        services.close()
        assert stored(services) == []


def test_a_failing_job_is_logged_without_its_arguments_and_never_fails_the_caller(settings, registered, caplog):
    services = services_with(settings, InlineQueue())
    with caplog.at_level(logging.ERROR, logger="assistant.jobs"):
        job_id = services.jobs.enqueue("tests.broken", email="jo@example.fr")
    assert f"job tests.broken ({job_id}) failed" in caplog.text and "the job broke" in caplog.text
    assert "jo@example.fr" not in caplog.text
    services.close()


# -- thread -----------------------------------------------------------------------------------------
def test_thread_backend_runs_jobs_in_order_in_its_worker_thread(settings, registered):
    services = services_with(settings, ThreadQueue())
    for i in range(5):
        services.jobs.enqueue("tests.record", question=f"q{i}")
    assert services.jobs.wait_idle()
    assert stored(services) == [f"q{i}" for i in range(5)]
    assert set(threads) == {"jobs-worker"}
    services.close()


def test_thread_backend_runs_periodic_tasks_once_started(settings, registered):
    queue = ThreadQueue(tick=0.05)
    services = services_with(settings, queue)
    queue.start()
    deadline = threading.Event()
    for _ in range(400):  # the task runs every second; poll up to 20 s
        if stored(services).count("tick") >= 2:
            break
        deadline.wait(0.05)
    services.close()
    assert stored(services).count("tick") >= 2 and set(threads) == {"jobs-worker"}


def test_services_start_the_thread_backend_only_for_servers(settings):
    served = build_services(settings.with_(jobs_backend="thread"), engine=False)
    assert isinstance(served.jobs, ThreadQueue) and served.jobs._scheduler is None
    served.close()


# -- RQ on the real Redis -------------------------------------------------------------------------
@pytest.fixture
def rq_queue(redis_url):
    name = f"test-{uuid.uuid4().hex[:8]}"
    queue = RQQueue(redis_url, name)
    yield queue
    queue.queue.delete(delete_jobs=True)
    for key in queue.redis.scan_iter(f"{name}:*"):
        queue.redis.delete(key)
    queue.close()


def test_rq_jobs_wait_in_redis_until_a_worker_runs_them(settings, registered, rq_queue, redis_url):
    services = services_with(settings.with_(jobs_backend="rq", redis_url=redis_url, jobs_queue=rq_queue.queue.name),
                             rq_queue)
    job_id = services.jobs.enqueue("tests.record", question="queued in redis")
    assert rq_queue.queue.fetch_job(job_id).args == ("tests.record", {"question": "queued in redis"})
    assert rq_queue.queue.fetch_job(job_id).description == "tests.record"  # no arguments in RQ's registries
    assert stored(services) == []  # nothing runs in the enqueuing process
    assert rq_queue.schedule_due() == sorted(PERIODIC)  # every registered task (features add theirs)
    assert rq_queue.schedule_due() == []  # this period is taken: another worker does not queue it again
    from rq import SimpleWorker

    rq_worker.use_services(services)
    try:
        SimpleWorker([rq_queue.queue], connection=rq_queue.redis).work(burst=True)
    finally:
        rq_worker.use_services(None)
    assert sorted(stored(services)) == ["queued in redis", "tick"]
    assert rq_queue.queue.fetch_job(job_id).get_status() == "finished"
    services.close()


def test_rq_unreachable_is_a_clear_error():
    queue = RQQueue("redis://:hunter2@127.0.0.1:1/0")
    with pytest.raises(JobError, match=r"Redis at redis://:\*\*\*@127.0.0.1:1/0 is unreachable .*REDIS_URL") as e:
        JOBS["tests.noop"] = lambda services: None
        try:
            queue.enqueue("tests.noop")
        finally:
            JOBS.pop("tests.noop")
    assert "hunter2" not in e.value.message
    queue.close()


# -- commands --------------------------------------------------------------------------------------
def cli_env(settings, **extra):
    return {"ASSISTANT_DATA_DIR": str(settings.data_dir), "JOBS_BACKEND": "inline", **extra}


def test_run_periodic_runs_each_task_once(settings, registered, runner):
    services = services_with(settings, InlineQueue())
    result = runner.invoke(cli, ["jobs", "run-periodic", "--only", "tests.tick"], env=cli_env(settings))
    assert result.exit_code == 0, result.output
    assert "tests.tick  done" in result.output and "ran 1 periodic task(s)" in result.output
    assert stored(services) == ["tick"]

    def fails(services):
        raise RuntimeError("no luck")

    PERIODIC["tests.fails"] = PeriodicTask("tests.fails", 60, fails)
    result = runner.invoke(cli, ["jobs", "run-periodic", "--only", "tests.fails", "--only", "tests.tick"],
                           env=cli_env(settings))
    assert result.exit_code == 1
    assert "tests.fails  failed: RuntimeError: no luck" in result.output and "tests.tick  done" in result.output
    assert stored(services) == ["tick", "tick"]  # the other task still ran
    result = runner.invoke(cli, ["jobs", "run-periodic", "--only", "tests.nope"], env=cli_env(settings))
    assert result.exit_code == 1 and "unknown periodic task(s) tests.nope" in result.output
    services.close()


def test_jobs_list(registered, runner, settings):
    result = runner.invoke(cli, ["jobs", "list"], env=cli_env(settings))
    assert result.exit_code == 0 and "job       tests.record" in result.output
    assert "periodic  tests.tick  every 1 s" in result.output


def test_worker_needs_the_rq_backend(runner, settings):
    result = runner.invoke(cli, ["worker", "--burst"], env=cli_env(settings))
    assert result.exit_code == 2 and "set JOBS_BACKEND=rq and REDIS_URL" in result.output
    result = runner.invoke(cli, ["worker", "--burst"], env=cli_env(settings, JOBS_BACKEND="rq",
                                                                   REDIS_URL="redis://127.0.0.1:1/0"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == ("Error: the worker cannot start: Redis at redis://127.0.0.1:1/0 "
                                                      "is unreachable (ConnectionError); check REDIS_URL and that "
                                                      "Redis is running")

