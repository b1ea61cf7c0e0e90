"""Queries the operator console reads: answers by status per day, the questions we could not answer, and
recent feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, desc, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from ..db import utcnow
from .models import Exchange, Feedback


class utc_day(FunctionElement):  # noqa: N801 - reads as the SQL function it renders
    """The UTC calendar day of a timestamp, on SQLite and PostgreSQL alike."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day_sqlite(element, compiler, **kw):
    # SQLite stores the UTC time as text; date() takes its day.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element, compiler, **kw):
    # The session's time zone must not move a late-evening answer to the next day.
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"


@dataclass(frozen=True)
class StatusCount:
    """How many answers had one status on one day."""

    day: date
    status: str
    count: int


@dataclass(frozen=True)
class UnansweredQuestion:
    """A (redacted) question that got ``no_answer``, how often, and when last."""

    question: str
    count: int
    last_asked: datetime


def answers_by_status_per_day(session: Session, days: int = 30, now: datetime | None = None) -> list[StatusCount]:
    """Answers per UTC day and status over the last ``days`` days, oldest day first."""
    since = (now or utcnow()) - timedelta(days=days)
    day = utc_day(Exchange.created_at)
    rows = session.execute(select(day, Exchange.status, func.count())
                           .where(Exchange.created_at >= since)
                           .group_by(day, Exchange.status)
                           .order_by(day, Exchange.status))
    return [StatusCount(d if isinstance(d, date) else date.fromisoformat(str(d)), status, n) for d, status, n in rows]


def frequent_unanswered_questions(session: Session, limit: int = 20, days: int = 30,
                                  now: datetime | None = None) -> list[UnansweredQuestion]:
    """The most frequent questions answered ``no_answer`` (the corpus's gaps), most frequent first.

    Questions are grouped by their exact redacted text.
    """
    since = (now or utcnow()) - timedelta(days=days)
    n = func.count().label("n")
    last = func.max(Exchange.created_at).label("last")
    rows = session.execute(select(Exchange.question, n, last)
                           .where(Exchange.status == "no_answer", Exchange.created_at >= since)
                           .group_by(Exchange.question)
                           .order_by(desc(n), desc(last), Exchange.question)
                           .limit(limit))
    return [UnansweredQuestion(q, count, last_asked) for q, count, last_asked in rows]


@dataclass(frozen=True)
class FeedbackItem:
    """A vote on an answer, with its (redacted) comment and the question it was about."""

    at: datetime
    rating: int
    comment: str | None
    question: str
    status: str
    language: str


def recent_feedback(session: Session, limit: int = 20) -> list[FeedbackItem]:
    """The latest votes, newest first."""
    rows = session.execute(select(Feedback.created_at, Feedback.rating, Feedback.comment, Exchange.question,
                                  Exchange.status, Exchange.language)
                           .join(Exchange, Feedback.exchange_id == Exchange.id)
                           .order_by(desc(Feedback.created_at), desc(Feedback.id))
                           .limit(limit))
    return [FeedbackItem(*row) for row in rows]
