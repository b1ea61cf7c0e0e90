"""The docker-compose topology with native processes: Chroma server, PostgreSQL, indexer CLI, gunicorn, the job
worker on Redis with an SMTP catcher, purge; and the compose file itself declaring those services.

Production settings (keys given, no development keys written), the hashing embedder (the model is not the
point here: tests/test_end_to_end.py and the browser tests use it).
"""

import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from assistant.config import PROJECT_ROOT

from conftest import FIXTURE_CORPUS, free_port

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def test_compose_runs_a_worker_and_an_smtp_catcher():
    """web and worker share one image and one environment: jobs go through Redis, e-mail through SMTP_URL."""
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    web, worker, mailpit = services["web"], services["worker"], services["mailpit"]
    assert worker["build"] == web["build"] == "." and worker["environment"] == web["environment"]
    assert worker["command"] == ["gdpr-assistant", "worker"]
    env = worker["environment"]
    assert env["JOBS_BACKEND"] == "rq" and env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["SMTP_URL"] == "${SMTP_URL:-smtp://mailpit:1025}" and "MAIL_FROM" in env
    assert mailpit["image"].startswith("axllent/mailpit:") and mailpit["image"] != "axllent/mailpit:latest"
    assert all(p.startswith("127.0.0.1:") for p in mailpit.get("ports", []))  # the catcher's UI stays local
    for name in ("web", "worker"):
        assert {"redis", "mailpit"} <= set(services[name]["depends_on"])
    assert worker["depends_on"]["indexer"] == {"condition": "service_completed_successfully"}  # migrated first
    assert "redis" in services and services["purge"]["environment"] == env


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = json.loads(resp.read() or b"null")
    conn.close()
    return resp.status, data


def test_compose_topology_natively(tmp_path, chroma_server, pg_url, smtp_sink):
    queue_name = f"topology-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "SMTP_URL": smtp_sink.url, "JOBS_BACKEND": "rq", "JOBS_QUEUE": queue_name, "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "ASSISTANT_CORPUS_DIR": str(FIXTURE_CORPUS),
           "DATABASE_URL": pg_url, "CHROMA_URL": chroma_server, "HF_HUB_OFFLINE": "1",
           "ASSISTANT_TORCH_THREADS": "1", "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
           "ASSISTANT_ENV": "production", "SECRET_KEY": "topology-" + "k" * 40, "FIELD_KEYS": Fernet.generate_key().decode(),
           "ASSISTANT_EMBEDDER": "hash", "ASSISTANT_MIN_SIMILARITY": "0"}  # hash vectors are far less similar
    cli = [str(BIN / "gdpr-assistant")]
    for args in (["db", "upgrade"], ["index", "--no-progress"]):  # the `indexer` service
        done = subprocess.run(cli + args, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert not (tmp_path / "data" / "chroma").exists()  # vectors live in the Chroma server
    worker_log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen(cli + ["worker"], env=env, stdout=subprocess.DEVNULL, stderr=worker_log)  # `worker`
    port = free_port()
    web = subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
                            "--timeout", "120", "assistant.web.wsgi:app"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while True:
            try:
                status, health = request(port, "GET", "/api/health")
                if status == 200:
                    break
            except OSError:
                pass
            assert time.time() < deadline, "gunicorn did not start"
            time.sleep(0.5)
        answers = [request(port, "POST", "/api/chat", {"message": "Dans quel délai notifier une fuite de données ?"})
                   for _ in range(4)]  # several requests: both workers answer
        assert all(s == 200 and a["status"] == "answered" for s, a in answers)
        cid = answers[0][1]["conversation_id"]
        follow_ups = [request(port, "POST", "/api/chat", {"message": "et le contenu ?", "conversation_id": cid})
                      for _ in range(4)]  # whichever worker answers knows the conversation (Redis)
        assert [s for s, _ in follow_ups] == [200] * 4
        status, fb = request(port, "POST", "/api/feedback", {"answer_id": answers[0][1]["answer_id"], "rating": "up"})
        assert status == 201
        # An e-mail queued by a web process is delivered by the worker, through the SMTP catcher.
        from assistant.config import Settings
        from assistant.container import build_services
        from assistant.mail import Email

        services = build_services(Settings.from_env(environ=env), engine=False)
        try:
            outbox_id = services.mailer.queue(Email("dpo@example.fr", "Nouveau contact", "Bonjour"))
        finally:
            services.close()
        deadline = time.time() + 60
        while not smtp_sink.messages:
            assert time.time() < deadline and worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        assert smtp_sink.messages[0]["To"] == "dpo@example.fr"
    finally:
        web.terminate()
        web.wait(timeout=30)
        worker.terminate()
        worker.wait(timeout=30)
        worker_log.close()
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from exchanges")).scalar() == 8
        assert conn.execute(text("select count(*) from feedback")).scalar() == 1
        assert conn.execute(text("select status from mail_outbox where id = :i"), {"i": outbox_id}).scalar() == "sent"
    engine.dispose()
    purge = subprocess.run(cli + ["purge"], env=env, capture_output=True, text=True, timeout=120)  # the `purge` job
    assert purge.returncode == 0 and "purged 0 row(s) past retention under 13 rule(s)" in purge.stdout, purge.stderr
    assert not (tmp_path / "data" / "keys").exists()  # production never writes development keys
