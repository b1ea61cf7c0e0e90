"""Tables of partner matching: partners, referrals (a visitor's request), leads (one partner's offer),
consent records and the log of every access to a lead.

Personal data is encrypted with FIELD_KEYS (``services.cipher``): the partners' contact e-mails and
every contact field of a referral. E-mails are found again by a keyed hash (``services.hasher``),
never by their plaintext. Consent records outlive the referral they prove (see ``retention.py``):
they hold no contact data, only the keyed hash of the visitor's e-mail.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, new_id, utcnow
from ..privacy.crypto import register_encrypted_column

LEAD_STATES = ("offered", "viewed", "accepted", "declined", "expired", "won", "lost")
# What a partner may do from each state.
TRANSITIONS = {"offered": ("viewed", "accepted", "declined", "expired"), "viewed": ("accepted", "declined", "expired"),
               "accepted": ("won", "lost")}
OPEN_STATES = ("offered", "viewed")


class Partner(Base):
    """A partner DPO firm or person in the directory."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # external_dpo | consultant | lawyer
    profile: Mapped[str] = mapped_column(Text, default="")  # what the firm does, in its words (public)
    sectors: Mapped[list] = mapped_column(JSON, default=list)
    specialisms: Mapped[list] = mapped_column(JSON, default=list)
    regions: Mapped[list] = mapped_column(JSON, default=list)  # on-site coverage
    languages: Mapped[list] = mapped_column(JSON, default=list)
    sizes: Mapped[list] = mapped_column(JSON, default=list)
    pricing_model: Mapped[str] = mapped_column(String(20))
    budget_band: Mapped[str] = mapped_column(String(10))
    certification_body: Mapped[str | None] = mapped_column(String(100))
    certification_number: Mapped[str | None] = mapped_column(String(100))
    certified_until: Mapped[date | None] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(Integer, default=10)  # leads a month
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    contact_email: Mapped[str] = mapped_column(Text)  # FieldCipher token
    contact_email_hash: Mapped[str] = mapped_column(String(64), unique=True)  # keyed hash: the partner's user
    demo: Mapped[bool] = mapped_column(Boolean, default=False)  # loaded by `partners load-demo`
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Referral(Base):
    """A visitor's request to be put in touch, with the partners they chose (in order) and consented to."""

    __tablename__ = "referrals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    submission_key: Mapped[str] = mapped_column(String(64), unique=True)  # one form, one referral
    language: Mapped[str] = mapped_column(String(2))
    company: Mapped[str] = mapped_column(Text)  # encrypted: a sole trader's name is a person's name
    siren: Mapped[str | None] = mapped_column(String(9))
    sector: Mapped[str] = mapped_column(String(20))
    size: Mapped[str] = mapped_column(String(10))
    region: Mapped[str] = mapped_column(String(3))
    on_site: Mapped[bool] = mapped_column(Boolean, default=False)
    data_kinds: Mapped[list] = mapped_column(JSON, default=list)
    budget: Mapped[str | None] = mapped_column(String(10))
    need: Mapped[str] = mapped_column(Text)  # encrypted
    contact_name: Mapped[str] = mapped_column(Text)  # encrypted
    contact_email: Mapped[str] = mapped_column(Text)  # encrypted
    contact_email_hash: Mapped[str] = mapped_column(String(64), index=True)
    contact_phone: Mapped[str | None] = mapped_column(Text)  # encrypted
    chosen: Mapped[list] = mapped_column(JSON)  # partner ids, in the visitor's order
    source: Mapped[str] = mapped_column(String(10), default="dpo")  # dpo (the page) | chat (an answer)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | placed | unplaced
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    leads: Mapped[list[Lead]] = relationship(back_populates="referral", cascade="all, delete-orphan",
                                             passive_deletes=True, order_by="Lead.rank")


class Lead(Base):
    """The offer of one referral to one partner: offered → viewed → accepted | declined | expired → won | lost."""

    __tablename__ = "leads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="RESTRICT"), index=True)
    rank: Mapped[int] = mapped_column(Integer)  # the visitor's order (0 first)
    score: Mapped[float] = mapped_column(default=0.0)
    reasons: Mapped[list] = mapped_column(JSON, default=list)  # component names shown to the visitor
    state: Mapped[str] = mapped_column(String(10), default="offered", index=True)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    viewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    referral: Mapped[Referral] = relationship(back_populates="leads")
    partner: Mapped[Partner] = relationship()


class ConsentRecord(Base):
    """Proof of the visitor's consent to send their request to the named firms.

    Kept after the referral itself is deleted (``referral_id`` is then null): the proof names the
    firms, the time, the version and SHA-256 of the exact text shown, and the keyed hash of the e-mail.
    """

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    referral_id: Mapped[str | None] = mapped_column(ForeignKey("referrals.id", ondelete="SET NULL"), index=True)
    contact_email_hash: Mapped[str] = mapped_column(String(64), index=True)
    partner_ids: Mapped[list] = mapped_column(JSON)
    partner_names: Mapped[list] = mapped_column(JSON)
    text_version: Mapped[str] = mapped_column(String(20))
    text_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(2))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class LeadAccess(Base):
    """One access of a partner user (or an operator) to a lead, allowed or refused: the access log."""

    __tablename__ = "lead_access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    lead_id: Mapped[str | None] = mapped_column(String(32), index=True)  # no FK: the log outlives the lead
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # view | accept | decline | won | lost | denied | export
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)


# `gdpr-assistant keys rotate` re-encrypts these with the newest FIELD_KEYS key.
for _model, _column in ((Partner, "contact_email"), (Referral, "company"), (Referral, "need"),
                        (Referral, "contact_name"), (Referral, "contact_email"), (Referral, "contact_phone")):
    register_encrypted_column(_model, _column)
