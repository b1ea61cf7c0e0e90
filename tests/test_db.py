"""Storage on SQLite (default) and PostgreSQL (CI): migrations, redaction at rest, retention purge."""

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select

from assistant.db import Database, Exchange, Feedback, utcnow
from assistant.errors import AssistantError, InputError
from assistant.exchanges import ExchangeLog

ANSWER = {"answer": "Within 72 hours [1]. Contact dpo@example.com.", "status": "answered", "language": "en",
          "conversation_id": "abcdefgh12", "citations": [{"ref": "GDPR Art. 33(1)"}]}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    d = Database(url)
    d.upgrade()
    d.upgrade()  # idempotent
    yield d
    d.dispose()


def test_migrations_create_tables(db):
    names = set(inspect(db.engine).get_table_names())
    assert {"exchanges", "feedback", "alembic_version"} <= names


def test_record_and_feedback_are_redacted(db):
    log = ExchangeLog(db, retention_days=30, max_comment_chars=100)
    aid = log.record("My phone is 06 12 34 56 78, breach?", ANSWER)
    log.add_feedback(aid, "up", "write to me at jo@example.org")
    with db.Session() as s:
        ex = s.get(Exchange, aid)
        fb = s.scalars(select(Feedback)).one()
    assert ex.question == "My phone is [PHONE], breach?" and "[EMAIL]" in ex.answer
    assert ex.citations == ["GDPR Art. 33(1)"]
    assert fb.comment == "write to me at [EMAIL]" and fb.rating == 1
    assert fb.expires_at == ex.expires_at
    assert timedelta(days=29) < ex.expires_at - utcnow() <= timedelta(days=30)


def test_purge_deletes_only_expired_rows(db):
    log = ExchangeLog(db, retention_days=1, max_comment_chars=100)
    old = log.record("old question", ANSWER)
    log.add_feedback(old, "down")
    keep = log.record("new question", ANSWER)
    with db.Session.begin() as s:
        s.get(Exchange, old).expires_at = utcnow() - timedelta(minutes=1)
    counts = db.purge_expired()
    assert counts["exchanges"] == 1
    with db.Session() as s:
        assert s.get(Exchange, old) is None and s.get(Exchange, keep) is not None
        assert s.scalars(select(Feedback)).all() == []


def test_feedback_on_unknown_answer_writes_nothing(db):
    log = ExchangeLog(db, retention_days=1, max_comment_chars=100)
    with pytest.raises(InputError, match="unknown or expired answer_id"):
        log.add_feedback("0" * 32, "up")
    with db.Session() as s:
        assert s.scalars(select(Feedback)).all() == []


def test_unreachable_database_says_what_to_check(tmp_path):
    d = Database("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(AssistantError, match="Check DATABASE_URL"):
        d.upgrade()
    d.dispose()
