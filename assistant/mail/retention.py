"""How long the outbox keeps messages; `gdpr-assistant purge` applies it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, delete, or_

from ..privacy.retention import RetentionRule
from .models import OutboxMessage

KEEP_DAYS = 30


def retention_rules(keep_days: int = KEEP_DAYS) -> list[RetentionRule]:
    """Sent and failed messages go ``keep_days`` after sending (or queueing); nothing is kept pending longer."""
    def overdue(now):
        cutoff = now - timedelta(days=keep_days)
        return delete(OutboxMessage).where(or_(
            and_(OutboxMessage.status == "sent", OutboxMessage.sent_at <= cutoff),
            and_(OutboxMessage.status != "sent", OutboxMessage.created_at <= cutoff)))

    return [RetentionRule("mail.outbox", "e-mails sent or to send (encrypted recipient, subject, body)",
                          f"{keep_days} days after sending (or queueing, when never sent)", overdue)]
