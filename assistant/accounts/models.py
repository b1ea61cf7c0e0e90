"""Tables of the accounts feature: users, the sign-in audit, and server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow
from ..privacy.crypto import register_encrypted_column

ROLES = ("operator", "partner")


class User(Base):
    """An operator or partner user. Password: an argon2 hash; TOTP secret: encrypted with FIELD_KEYS."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower case
    role: Mapped[str] = mapped_column(String(16))  # operator | partner
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str] = mapped_column(Text)  # Fernet token of the base32 secret
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # the last code accepted: never twice
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # first code accepted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


register_encrypted_column(User, "totp_secret")  # re-encrypted by `gdpr-assistant keys rotate`


class SignInEvent(Base):
    """One sign-in step or sign-out: the security audit, and what lockouts count (``failure``).

    ``email_key`` is a keyed hash of the e-mail typed, so that failures on an address are counted the
    same whether or not it has an account (a lock must not reveal which addresses exist).
    """

    __tablename__ = "sign_in_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    email_key: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    ip: Mapped[str] = mapped_column(String(45), index=True)
    outcome: Mapped[str] = mapped_column(String(24))  # success, bad_password, bad_code, locked, ...
    failure: Mapped[bool] = mapped_column(Boolean, default=False)  # counted by the lockouts


class UserSession(Base):
    """A signed-in session: the cookie holds a random token, the table its SHA-256 (``id``).

    Server-side so that sign-out, disabling a user and the idle and absolute limits really end it.
    """

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    ip: Mapped[str] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # the absolute limit
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
