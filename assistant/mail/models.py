"""The mail outbox: every transactional e-mail is stored here first, then delivered by a job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow
from ..privacy.crypto import register_encrypted_column

STATUSES = ("pending", "sending", "sent", "failed")


class OutboxMessage(Base):
    """One e-mail to send. The recipient is encrypted (FieldCipher) and found by its keyed hash.

    ``pending`` -> ``sending`` (claimed by one deliverer) -> ``sent``, or back to ``pending`` with
    ``next_attempt_at`` after a temporary failure, or ``failed`` after the last attempt.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category: Mapped[str] = mapped_column(String(64))  # "matching.lead", "newsletter.confirm"...
    recipient: Mapped[str] = mapped_column(Text)  # FieldCipher token of the address
    recipient_hash: Mapped[str] = mapped_column(String(64), index=True)  # hasher.email_digest(address)
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)  # extra headers (List-Unsubscribe...)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)  # the relay's verdict, never the address
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # after a temporary failure
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when `sending` began
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_id: Mapped[str] = mapped_column(String(255))  # fixed when queued: a retry resends the same id


register_encrypted_column(OutboxMessage, "recipient")  # re-encrypted by `gdpr-assistant keys rotate`
