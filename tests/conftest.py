"""Shared fixtures: settings in tmp dirs, apps and a CLI runner over them, the official EUR-Lex files, a real
index built once per session, PostgreSQL and Chroma servers."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from assistant.config import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_CORPUS = FIXTURES / "corpus"
EURLEX_FILES = {"fr": "L_2016119FR.01000101.html", "en": "L_2016119EN.01000101.html"}


def make_settings(data_dir: Path, **kw) -> Settings:
    """Settings for a test: everything in ``data_dir``, the environment ignored, jobs run inline (at once)."""
    kw.setdefault("jobs_backend", "inline")
    return Settings.from_env(environ={}, data_dir=data_dir, **kw)


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings over an empty data dir and a copy of the fixture corpus."""
    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURE_CORPUS, corpus)
    return make_settings(tmp_path / "data", corpus_dir=corpus)


def hash_index(settings: Settings):
    """Index ``settings``' corpus with the hashing embedder (real Chroma store); returns the embedder."""
    from assistant.retrieval.embeddings import HashEmbedder
    from assistant.retrieval.index import build_index
    from assistant.retrieval.vectorstore import open_store

    emb = HashEmbedder()
    build_index(settings, emb, open_store(settings, emb.name))
    return emb


_TEMPLATES = Path(tempfile.gettempdir()) / f"gdpr-test-index-templates-{os.getpid()}"


def _corpus_key(corpus_dir: Path) -> str:
    """A digest of every file of a corpus directory (names and bytes)."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(corpus_dir).rglob("*") if p.is_file()):
        h.update(str(f.relative_to(corpus_dir)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cached_hash_index(settings: Settings):
    """``hash_index`` for a fresh data dir, copied from an index of the same texts built once per session.

    The template is built by a separate process (its Chroma files closed when it exits) from the same
    corpus and imported official text, then its ``index/`` and ``chroma/`` directories are copied: the
    same files ``hash_index`` would write, in a fraction of the time. Anything unusual (a Chroma server,
    an existing index) builds.
    """
    from assistant.retrieval.embeddings import HashEmbedder

    if settings.chroma_url or settings.index_dir.exists() or settings.chroma_dir.exists():
        return hash_index(settings)
    official = settings.official_dir if settings.official_dir.exists() else None
    key = _corpus_key(settings.corpus_dir) + (_corpus_key(official) if official else "") + f"-c{settings.candidates}"
    template = _TEMPLATES / key
    if not (template / "done").exists():
        shutil.rmtree(template, ignore_errors=True)
        template.mkdir(parents=True)
        if official:
            shutil.copytree(official, template / "data" / "official")
        script = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
                  "from conftest import make_settings, hash_index; "
                  "hash_index(make_settings(Path(sys.argv[2]), corpus_dir=Path(sys.argv[3]), candidates=int(sys.argv[4])))")
        subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent), str(template / "data"),
                        str(settings.corpus_dir), str(settings.candidates)], check=True, capture_output=True)
        (template / "done").touch()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template / "data" / "index", settings.index_dir)
    shutil.copytree(template / "data" / "chroma", settings.chroma_dir)
    return HashEmbedder()


@pytest.fixture(scope="session", autouse=True)
def _index_templates():
    """Remove the session's index templates at the end."""
    yield
    shutil.rmtree(_TEMPLATES, ignore_errors=True)


@pytest.fixture
def make_app(settings):
    """Build a web app like a deploy does: index (hashing embedder), `db upgrade`, services, app."""
    from assistant.container import build_services
    from assistant.web import create_app

    built = []

    def make(migrate: bool = True, services: dict | None = None, **changes):
        s = settings.with_(**changes)
        emb = cached_hash_index(s)
        services = build_services(s, embedder=emb, **(services or {}))  # the fake embedder replaces the model
        if migrate:
            services.database.upgrade()
        built.append(services)
        return create_app(s, services)

    yield make
    for services in built:
        services.close()


@pytest.fixture
def runner():
    """Click's CliRunner: ``runner.invoke(cli, [...], env={...})`` runs a command in-process."""
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture(scope="session")
def eurlex_dir() -> Path:
    """The official EUR-Lex files: required in CI, skipped (with the fetch command) elsewhere."""
    d = Settings.from_env().eurlex_dir
    missing = [n for n in EURLEX_FILES.values() if not (d / n).is_file()]
    if missing:
        msg = (f"official EUR-Lex files missing in {d}: {', '.join(missing)}; get them with "
               "`gdpr-assistant corpus fetch` (then set ASSISTANT_EURLEX_DIR) ")
        if os.environ.get("CI"):
            pytest.fail(msg + "(CI requires them)")
        pytest.skip(msg)
    return d


@pytest.fixture(scope="session")
def official_texts(eurlex_dir):
    """Both languages parsed from the real files."""
    from assistant.corpus.eurlex import parse_eurlex

    return {lang: parse_eurlex((eurlex_dir / name).read_bytes(), source=name) for lang, name in EURLEX_FILES.items()}


@pytest.fixture(scope="session")
def real_index(tmp_path_factory, eurlex_dir):
    """A real index (packaged model, persistent Chroma) of the official text (FR+EN) and the fixture corpus."""
    from assistant.corpus.eurlex import import_file
    from assistant.retrieval.embeddings import make_embedder
    from assistant.retrieval.index import build_index
    from assistant.retrieval.vectorstore import open_store

    root = tmp_path_factory.mktemp("real")
    s = make_settings(root / "data", corpus_dir=FIXTURE_CORPUS)
    for name in EURLEX_FILES.values():
        import_file(eurlex_dir / name, s.official_dir)
    embedder = make_embedder(s)
    report = build_index(s, embedder, open_store(s, embedder.name))
    return s, report


@pytest.fixture
def redis_url():
    """The local Redis (database 15) for tests: required in CI, skipped elsewhere when unreachable."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as e:
        msg = f"Redis not reachable at {url} ({type(e).__name__}); set TEST_REDIS_URL"
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI requires it)")
        pytest.skip(msg)
    return url


PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test (required in CI, skipped elsewhere when unreachable)."""
    import uuid

    import psycopg

    name = f"gdpr_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL.replace("postgresql://", "postgresql://", 1), autocommit=True,
                                connect_timeout=5)
    except psycopg.OperationalError as e:
        msg = f"PostgreSQL not reachable at {PG_ADMIN_URL} ({e}); set TEST_POSTGRES_URL"
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI requires it)")
        pytest.skip(msg)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(base: str, proc, log_path: Path, timeout: float = 120) -> None:
    """Wait until ``base``/api/health answers (the first request also loads the model); fail with the log."""
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base + "/api/health", timeout=30).read()
            return
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("server did not start: " + Path(log_path).read_text(errors="replace"))


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    exe = Path(sys.executable).parent / "chroma"
    log = open(tmp_path / "chroma.log", "wb")
    proc = subprocess.Popen([str(exe), "run", "--path", str(tmp_path / "chroma-server"), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start: " + (tmp_path / "chroma.log").read_text(errors="replace"))
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) keeping what it receives: ``.url`` for SMTP_URL, ``.messages``
    (``email.message.EmailMessage``) and ``.envelopes`` ((mail_from, rcpt_tos)). ``stop()``/``start()`` take it
    down and up again on the same port; ``login=("user", "password")`` requires AUTH."""

    def __init__(self, login: tuple[str, str] | None = None, tls: str = "", cert: tuple[str, str] | None = None):
        self.port = free_port()
        self.login = login
        self.tls = tls  # "" plain, "starttls" (offered and required), "smtps" (TLS from the first byte)
        self.cert = cert  # (certificate file, key file) for TLS
        self.messages: list = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.controller = None

    @property
    def url(self) -> str:
        auth = f"{self.login[0]}:{self.login[1]}@" if self.login else ""
        scheme = "smtps" if self.tls == "smtps" else "smtp"
        return f"{scheme}://{auth}127.0.0.1:{self.port}" + ("?starttls=1" if self.tls == "starttls" else "")

    async def handle_DATA(self, server, session, envelope):
        """aiosmtpd handler: parse and keep the message."""
        import email
        import email.policy

        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=email.policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(auth_data, LoginPassword) and self.login is not None and \
            (auth_data.login.decode(), auth_data.password.decode()) == self.login
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        kwargs = {}
        if self.login:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}  # loopback tests only
        if self.tls:
            import ssl

            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.cert)
            if self.tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                kwargs.update(ssl_context=context, server_hostname="127.0.0.1")
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_sink():
    """A running SMTP server on a free loopback port, stopped after the test."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()
