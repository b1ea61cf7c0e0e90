"""Stored exchanges and feedback: redacted before storage, each with a retention date."""

from __future__ import annotations

from .db import Database, Exchange, Feedback, retention_until
from .errors import InputError
from .privacy.redact import redact


class ExchangeLog:
    """Records answers (redacted) and the feedback visitors give on them."""

    def __init__(self, db: Database, retention_days: int, max_comment_chars: int):
        self.db = db
        self.retention_days = retention_days
        self.max_comment_chars = max_comment_chars

    def record(self, question: str, answer: dict) -> str:
        """Store one exchange (the answer in its JSON form); returns its id, the ``answer_id``."""
        q, _ = redact(question)
        a, _ = redact(answer["answer"])
        row = Exchange(conversation_id=answer.get("conversation_id"), question=q, answer=a,
                       status=answer["status"], language=answer["language"],
                       citations=[c["ref"] for c in answer["citations"]],
                       expires_at=retention_until(self.retention_days))
        with self.db.Session.begin() as s:
            s.add(row)
        return row.id

    def add_feedback(self, answer_id, rating, comment=None) -> int:
        """Store a thumbs up (+1) or down (-1) on an answer; InputError names what is wrong."""
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
            comment = comment.strip()
            if len(comment) > self.max_comment_chars:
                raise InputError(f"the comment is {len(comment)} characters long; the limit is "
                                 f"{self.max_comment_chars}", code="comment_too_long", http_status=413)
            comment = redact(comment)[0] or None
        with self.db.Session.begin() as s:
            exchange = s.get(Exchange, answer_id)
            if exchange is None:
                raise InputError("unknown or expired answer_id", code="unknown_answer", http_status=404)
            fb = Feedback(exchange_id=answer_id, rating=value, comment=comment, expires_at=exchange.expires_at)
            s.add(fb)
            s.flush()
            return fb.id
