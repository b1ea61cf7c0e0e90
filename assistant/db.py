"""Database: SQLAlchemy engine, transactional sessions, the declarative Base, and Alembic migrations.

SQLite file in the data dir by default, PostgreSQL (or any SQLAlchemy URL) through DATABASE_URL.
Models live in their feature packages (``assistant/chat/models.py``...); ``assistant/models.py``
imports them all for Alembic. The schema is created and migrated only by ``gdpr-assistant db
upgrade`` (a deploy step): the first use of a database whose schema is missing or behind raises
``DatabaseNotReady`` naming that command, instead of migrating under a serving worker.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import DateTime, TypeDecorator, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from .errors import AssistantError, DatabaseNotReady, DatabaseUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"
UPGRADE_COMMAND = "gdpr-assistant db upgrade"


def utcnow() -> datetime:
    """Timezone-aware now (UTC)."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random public identifier."""
    return uuid.uuid4().hex


def retention_until(days: int, now: datetime | None = None) -> datetime:
    """The expiry date of a row stored now."""
    return (now or utcnow()) + timedelta(days=days)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite returns naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Refuse naive datetimes; store UTC."""
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        """SQLite gives naive values back: they were stored as UTC."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base of every model."""


def safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # any malformed URL: never echo it, it may hold a password
        return "<invalid url>"


def alembic_config(url: str, connection=None):
    """An Alembic configuration for our migrations, on ``connection`` when given."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revisions() -> set[str]:
    """The revisions the code expects (the heads of the migration scripts)."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


class Database:
    """Engine and transactional sessions for one database URL; checks the schema on first use."""

    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"connect_args": {"check_same_thread": False}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        # hide_parameters: a failed statement's message would otherwise carry stored text into the logs.
        self.engine = create_engine(url, hide_parameters=True, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        self._ready = False
        self._ready_lock = threading.Lock()

    # -- use ----------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back entirely on error."""
        self.ensure_ready()
        with self.Session.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads (closed when the block ends)."""
        self.ensure_ready()
        with self.Session() as session:
            yield session

    def ensure_ready(self) -> None:
        """Check once that the schema is at the code's migration head; DatabaseNotReady says what to run."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            current = self.current_revisions()
            expected = head_revisions()
            if current != expected:
                if not current:
                    state = "has no schema"
                elif current - expected and not expected - current:
                    state = f"is at revision {', '.join(sorted(current))}, newer than this code"
                else:
                    state = (f"is at revision {', '.join(sorted(current))}, behind this code "
                             f"({', '.join(sorted(expected))})")
                raise DatabaseNotReady(f"the database at {safe_url(self.url)} {state}: run `{UPGRADE_COMMAND}` "
                                       "(the server never migrates by itself)")
            self._ready = True

    def current_revisions(self) -> set[str]:
        """The revisions recorded in the database (empty when it has no schema)."""
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect() as conn:
                return set(MigrationContext.configure(conn).get_current_heads())
        except SQLAlchemyError as e:
            raise self._unavailable(e) from None

    # -- maintenance (the `db` commands) ------------------------------------------------------------
    def upgrade(self) -> None:
        """Apply the Alembic migrations up to head (idempotent)."""
        from alembic import command

        try:
            with self.engine.begin() as conn:
                command.upgrade(alembic_config(self.url, conn), "head")
        except SQLAlchemyError as e:
            raise self._unavailable(e, "cannot migrate") from None
        self._ready = False  # checked again on next use

    def check_models(self) -> None:
        """Raise alembic's AutogenerateDiffsDetected when the models and the migrated schema disagree."""
        from alembic import command

        with self.engine.connect() as conn:
            command.check(alembic_config(self.url, conn))

    def model_differences(self) -> list:
        """What autogenerate sees between the models and this database (empty when they agree)."""
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        from .models import Base as AllModels  # every feature's tables

        with self.engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), AllModels.metadata)

    def new_revision(self, message: str) -> Path:
        """Write a migration script autogenerated from the models' differences with this (migrated) database."""
        from alembic import command

        self.ensure_ready()
        if not self.model_differences():
            raise AssistantError("the models and the migrations already agree: there is no migration to write")
        numbers = [int(p.name[:4]) for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")]
        rev_id = f"{max(numbers, default=0) + 1:04d}"
        with self.engine.connect() as conn:
            script = command.revision(alembic_config(self.url, conn), message=message, autogenerate=True,
                                      rev_id=rev_id)
        return Path(script.path)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _unavailable(self, e: SQLAlchemyError, what: str = "cannot reach") -> DatabaseUnavailable:
        detail = (str(getattr(e, "orig", None) or e).strip().splitlines() or [""])[0]
        return DatabaseUnavailable(f"{what} the database at {safe_url(self.url)}: {type(e).__name__}: {detail}. "
                                   "Check DATABASE_URL and that the server is running")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """WAL lets readers and one writer work at once; writers wait instead of failing; foreign keys on."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
