"""Database: SQLAlchemy engine and session, the models, and Alembic migrations (assistant/migrations).

SQLite file in the data dir by default, PostgreSQL (or any SQLAlchemy URL) through DATABASE_URL.
Only redacted text is stored, each row with the date after which the purge job deletes it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    create_engine,
    delete,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from .errors import AssistantError

MIGRATIONS = Path(__file__).parent / "migrations"


def utcnow() -> datetime:
    """Timezone-aware now (UTC)."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random public identifier."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite returns naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base of every model."""


class Exchange(Base):
    """One question and its answer, stored after PII redaction, until ``expires_at``."""

    __tablename__ = "exchanges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    question: Mapped[str] = mapped_column(Text)  # redacted
    answer: Mapped[str] = mapped_column(Text)  # redacted
    status: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2))
    citations: Mapped[list] = mapped_column(JSON, default=list)  # refs only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Feedback(Base):
    """A visitor's thumbs up or down on one answer, with an optional (redacted) comment."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange_id: Mapped[str] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column(Integer)  # +1 or -1
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Database:
    """Engine, sessions and migrations for one database URL."""

    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"connect_args": {"check_same_thread": False}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            from sqlalchemy import event

            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _record):
                # WAL lets readers and one writer work at once; writers wait instead of failing.
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=10000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        """Apply the Alembic migrations up to head (idempotent)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except Exception as e:
            detail = (str(getattr(e, "orig", None) or e).strip().splitlines() or [""])[0]
            raise AssistantError(f"cannot migrate the database at {_safe(self.url)}: {type(e).__name__}: {detail}. "
                                 "Check DATABASE_URL and that the server is running") from None

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def purge_expired(self, now: datetime | None = None) -> dict:
        """Delete every stored row past its retention date; returns counts per table."""
        now = now or utcnow()
        with self.Session.begin() as s:
            f = s.execute(delete(Feedback).where(Feedback.expires_at <= now)).rowcount
            x_ids = [r[0] for r in s.execute(select(Exchange.id).where(Exchange.expires_at <= now))]
            if x_ids:
                s.execute(delete(Feedback).where(Feedback.exchange_id.in_(x_ids)))
                s.execute(delete(Exchange).where(Exchange.id.in_(x_ids)))
        return {"exchanges": len(x_ids), "feedback": f}


def retention_until(days: int) -> datetime:
    """The expiry date of a row stored now."""
    return utcnow() + timedelta(days=days)


def _safe(url: str) -> str:
    """A URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid url>"
