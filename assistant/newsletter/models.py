"""Tables of the newsletter: subscribers with their consent proof, one-time tokens, the suppression list,
issues and the per-recipient send records.

The address is stored only encrypted (``services.cipher``) and found by its keyed hash
(``services.hasher.email_digest``). Unsubscribing, a hard bounce or a complaint wipes the address and
the consent proof from the subscriber row (kept as a tombstone: state and dates, for the counts) and
adds the keyed hash to ``newsletter_suppressions``, so that no later sign-up or import can add it back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, new_id, utcnow
from ..privacy.crypto import register_encrypted_column

STATES = ("pending", "confirmed", "unsubscribed", "bounced", "complained")
ENDED_STATES = ("unsubscribed", "bounced", "complained")
TOKEN_PURPOSES = ("confirm", "rights", "repermission")
SEND_STATES = ("pending", "claimed", "sending", "sent", "failed")


class Subscriber(Base):
    """One sign-up: the encrypted address, its state, and the proof of the consent given."""

    __tablename__ = "newsletter_subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)  # in unsubscribe links
    email_encrypted: Mapped[str | None] = mapped_column(Text)  # Fernet token; wiped when the subscription ends
    email_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # keyed hash; NULL once ended
    state: Mapped[str] = mapped_column(String(16), index=True)  # STATES
    language: Mapped[str] = mapped_column(String(2))  # fr | en
    topics: Mapped[str] = mapped_column(String(200), default="")  # comma-separated TOPICS keys
    # Consent proof (CNIL: who, when, how, what they were told)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)  # sign-up
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    form_version: Mapped[str | None] = mapped_column(String(32))
    consent_text_sha256: Mapped[str | None] = mapped_column(String(64))
    source_page: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(45))  # only with NEWSLETTER_STORE_IP
    # Life cycle
    last_confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # sign-up cooldown
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    repermission_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # unsubscribed, bounced or complained


register_encrypted_column(Subscriber, "email_encrypted")  # re-encrypted by `gdpr-assistant keys rotate`


class SubscriberToken(Base):
    """A single-use, expiring token mailed to a subscriber: only its SHA-256 is stored."""

    __tablename__ = "newsletter_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("newsletter_subscribers.id", ondelete="CASCADE"),
                                               index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # TOKEN_PURPOSES
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Suppression(Base):
    """An address that must never be mailed again: only its keyed hash, and why."""

    __tablename__ = "newsletter_suppressions"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))  # unsubscribed | bounced | complained | erased
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Issue(Base):
    """One newsletter issue: composed from Markdown or generated as a digest, then sent."""

    __tablename__ = "newsletter_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2))
    topics: Mapped[str] = mapped_column(String(200), default="")  # empty: every subscriber of the language
    kind: Mapped[str] = mapped_column(String(16), default="composed")  # composed | digest
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | sending | sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Send(Base):
    """One issue to one subscriber: created once (unique pair), claimed, sent, so a restart never sends twice."""

    __tablename__ = "newsletter_sends"
    __table_args__ = (UniqueConstraint("issue_id", "subscriber_id", name="uq_newsletter_sends_issue_subscriber"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("newsletter_issues.id", ondelete="CASCADE"), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("newsletter_subscribers.id", ondelete="SET NULL"),
                                                      index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # SEND_STATES
    # pending -> claimed (a batch job took it) -> sending (SMTP under way) -> sent | pending again | failed
    claim: Mapped[str | None] = mapped_column(String(32))  # the batch job that claimed it
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)  # re-enqueued if still pending then
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
