"""The exchange log: answers and feedback votes, cleaned and redacted before storage, each with a retention date."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from ..db import Database, retention_until, utcnow
from ..errors import InputError
from ..privacy.redact import redact
from .models import Exchange, Feedback

# Lone UTF-16 surrogates (a broken emoji from a client, "\ud800" in JSON) cannot be encoded in UTF-8:
# the database driver and the embedding model's tokenizer both fail on them.
SURROGATES = re.compile(r"[\ud800-\udfff]")
# NUL cannot be stored in a PostgreSQL text column; other C0 controls are never meant in a comment.
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def without_surrogates(text: str) -> str:
    """The text without lone surrogates (a str holds none that are paired: JSON decoding joins pairs)."""
    return SURROGATES.sub("", text)


def storable_text(text: str) -> str:
    """Text that every database stores as typed: no lone surrogates, no NUL or other control characters."""
    return CONTROLS.sub("", without_surrogates(text))


@dataclass(frozen=True)
class Diagnostics:
    """How an answer was reached, for the operator console (nothing personal in it)."""

    scope: str | None
    retrieved: list[dict]
    writer: str | None
    total_ms: float | None

    @classmethod
    def of(cls, question: str, answer: dict, verification: dict | None = None) -> Diagnostics:
        """Diagnostics of an answer in its JSON form and the Answer's ``verification`` (scope, retrieved)."""
        v = verification or {}
        retrieved = [{"ref": r.get("ref"), "kind": r.get("kind"), "score": r.get("score")}
                     for r in v.get("retrieved", answer.get("citations", []))]
        total = (answer.get("timings_ms") or {}).get("total")
        return cls(scope=v.get("scope"), retrieved=retrieved, writer=v.get("writer"),
                   total_ms=float(total) if total is not None else None)


class ExchangeLog:
    """Records answers (redacted) and the votes visitors give on them."""

    def __init__(self, db: Database, retention_days: int, max_comment_chars: int):
        self.db = db
        self.retention_days = retention_days
        self.max_comment_chars = max_comment_chars

    def record(self, question: str, answer: dict, diagnostics: Diagnostics | None = None) -> str:
        """Store one exchange (the answer in its JSON form); returns its id, the ``answer_id``."""
        q, _ = redact(storable_text(question).strip())
        a, _ = redact(storable_text(answer["answer"]))
        d = diagnostics or Diagnostics.of(question, answer)
        row = Exchange(conversation_id=answer.get("conversation_id"), question=q, answer=a,
                       status=answer["status"], language=answer["language"],
                       citations=[c["ref"] for c in answer["citations"]],
                       expires_at=retention_until(self.retention_days),
                       scope=d.scope, retrieved=d.retrieved, writer=d.writer, total_ms=d.total_ms)
        with self.db.transaction() as s:
            s.add(row)
        return row.id

    def add_feedback(self, answer_id, rating, comment=None) -> tuple[int, bool]:
        """Store a thumbs up (+1) or down (-1) on an answer; returns (id, replaced an earlier vote).

        One vote per answer: a visitor who clicks again changes their vote (rating and comment both
        replaced). InputError names what is wrong with the request.
        """
        if not isinstance(answer_id, str) or not answer_id:
            raise InputError("field 'answer_id' is required (the answer_id returned with the answer)",
                             code="missing_field", http_status=422)
        if rating in ("up", 1, True):
            value = 1
        elif rating in ("down", -1):
            value = -1
        else:
            raise InputError("field 'rating' must be \"up\" or \"down\"", code="invalid_rating", http_status=422)
        if comment is not None:
            if not isinstance(comment, str):
                raise InputError("field 'comment' must be a string", code="invalid_type", http_status=422)
            comment = storable_text(comment).strip()
            if len(comment) > self.max_comment_chars:
                raise InputError(f"the comment is {len(comment)} characters long; the limit is "
                                 f"{self.max_comment_chars}", code="comment_too_long", http_status=413)
            comment = redact(comment)[0] or None
        try:
            return self._vote(answer_id, value, comment)
        except (IntegrityError, OperationalError):
            # Two clicks at once on SQLite: the later transaction's snapshot is stale (or its insert hits
            # the unique index); once more, it sees the first vote and replaces it.
            return self._vote(answer_id, value, comment)

    def _vote(self, answer_id: str, value: int, comment: str | None) -> tuple[int, bool]:
        with self.db.transaction() as s:
            # Lock the answer's row: on PostgreSQL, two votes arriving at once then replace each other in
            # order instead of one failing on the unique index.
            exchange = s.get(Exchange, answer_id, with_for_update=True)
            if exchange is None:
                raise InputError("unknown or expired answer_id", code="unknown_answer", http_status=404)
            fb = s.scalars(select(Feedback).where(Feedback.exchange_id == answer_id)).one_or_none()
            replaced = fb is not None
            if fb is None:
                fb = Feedback(exchange_id=answer_id, expires_at=exchange.expires_at)
                s.add(fb)
            fb.rating, fb.comment, fb.created_at = value, comment, utcnow()
            s.flush()
            return fb.id, replaced
