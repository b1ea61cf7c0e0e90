"""How long the chat feature keeps what it stores; `gdpr-assistant purge` applies these rules."""

from __future__ import annotations

from sqlalchemy import delete

from ..privacy.retention import RetentionRule
from .models import Exchange, Feedback


def retention_rules(retention_days: int) -> list[RetentionRule]:
    """The chat's rules: feedback first, then the exchanges it is about (rows carry their own expiry)."""
    keep = f"{retention_days} days after the question (ASSISTANT_RETENTION_DAYS, fixed when stored)"
    return [
        RetentionRule("chat.feedback", "feedback votes and their comments (redacted)", keep,
                      lambda now: delete(Feedback).where(Feedback.expires_at <= now)),
        RetentionRule("chat.exchanges", "questions and answers (redacted) with their retrieval diagnostics", keep,
                      lambda now: delete(Exchange).where(Exchange.expires_at <= now)),
    ]
