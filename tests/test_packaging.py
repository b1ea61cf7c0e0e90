"""The package as users install it: a wheel (not an editable checkout) that carries its corpus, templates,
static files and catalogues, installed into a fresh venv and run from another directory."""

import json
import os
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT

from conftest import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `pip install .` would install (built without network: no build isolation)."""
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                           "--wheel-dir", str(out), str(PROJECT_ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    [path] = out.glob("gdpr_assistant-*.whl")
    return path


def test_wheel_carries_what_the_app_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    corpus = sorted(p.relative_to(PROJECT_ROOT / "corpus").as_posix()
                    for p in (PROJECT_ROOT / "corpus").rglob("*") if p.is_file())
    assert corpus and all(f"assistant/_corpus/{c}" in names for c in corpus)
    web = [p.relative_to(PROJECT_ROOT / "web").as_posix() for p in (PROJECT_ROOT / "web").rglob("*") if p.is_file()]
    assert all(f"assistant/_web/{w}" in names for w in web)
    assert {"assistant/_web/templates/base.html", "assistant/_web/static/chat.js",
            "assistant/translations/fr/LC_MESSAGES/messages.mo", "assistant/translations/en/LC_MESSAGES/messages.mo",
            "assistant/answer/data/scope_examples.yaml", "assistant/retrieval/data/paraphrases.jsonl",
            "assistant/retrieval/data/labelled_queries.jsonl", "assistant/migrations/script.py.mako",
            "assistant/migrations/env.py", "assistant/migrations/versions/0001_exchanges_feedback.py"} <= names
    assert not [n for n in names if n.startswith(("tests/", "corpus/", "web/")) or "__pycache__" in n]


def get(port, path, body=None):
    """Status and body of one request to the served app."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST" if body else "GET",
                                 data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_installed_copy_indexes_and_answers_from_another_directory(wheel, tmp_path):
    """`pip install` of the wheel into a fresh venv, then `index`, `db upgrade` and `serve` from elsewhere.

    The fresh venv gets the project's dependencies from this test's environment (a .pth line: no
    network here, and installing torch again would take minutes); the assistant itself comes only
    from the wheel, which the test checks.
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "_project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                           "--no-deps", "--quiet", str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "REDIS_", "CHROMA_", "DATABASE_"))}
    env.update(ASSISTANT_DATA_DIR=str(tmp_path / "data"), ASSISTANT_EMBEDDER="hash", ASSISTANT_MIN_SIMILARITY="0",
               HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")

    def run(*args):
        out = subprocess.run([str(venv / "bin" / "gdpr-assistant"), *args], cwd=elsewhere, env=env,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        return out.stdout

    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import assistant.config as c; print(c.__file__); print(c.Settings.from_env().corpus_dir)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert where[0].startswith(str(site)) and where[1] == str(site / "assistant" / "_corpus")
    assert "index" in run("--help")
    run("db", "upgrade")
    assert "documents" in run("index", "--no-progress")  # the bundled corpus, found in the installed package
    # `serve`, then what the Docker image's `web` runs (gunicorn over the installed package, from /data)
    for command in ([str(venv / "bin" / "gdpr-assistant"), "serve", "--port", "{port}"],
                    [str(venv / "bin" / "python"), "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--workers", "1",
                     "assistant.web.wsgi:app"]):
        port = free_port()
        log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed when the server has stopped
        server = subprocess.Popen([part.format(port=port) for part in command], cwd=elsewhere, env=env,
                                  stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.time() + 120
            while True:
                try:
                    if get(port, "/api/health")[0] == 200:
                        break
                except OSError:
                    pass
                assert server.poll() is None and time.time() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.5)
            status, body = get(port, "/api/chat", {"message": "Dans quel délai notifier une violation de données ?"})
            assert status == 200 and json.loads(body)["status"] == "answered", body
            status, page = get(port, "/?lang=fr")  # a template and its translations
            assert status == 200 and 'lang="fr"' in page
            assert get(port, "/static/chat.js")[0] == 200
            status, sources = get(port, "/sources/?lang=en")
            assert status == 200 and "faq-" in sources
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
