"""AccountService: users (create, list, disable), the two sign-in steps, lockouts and sessions.

Sign-in is two steps: ``check_password`` (e-mail and password) then ``check_code`` (the TOTP code),
which opens a server-side session. Every step is recorded in ``sign_in_events``; failures there are
what the lockouts count:

- per e-mail typed: ``signin_max_failures`` failures since the last success and within
  ``signin_lockout_minutes`` lock it until the oldest of them leaves that window (unknown addresses
  are counted the same way, so a lock reveals nothing about which addresses have accounts);
- per client address: ``signin_max_failures_per_ip`` failures within the window block it likewise.

A locked or blocked attempt is recorded but not counted (it would extend the lock forever).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..config import Settings
from ..db import Database, utcnow
from ..errors import InputError, SignInError
from ..privacy.crypto import FieldCipher, KeyedHasher, normalise_email
from . import credentials
from .models import ROLES, SignInEvent, User, UserSession

HOME_ENDPOINTS = {"operator": "admin.index", "partner": "partner.index"}
# last_seen_at is written at most this often: a page with many requests is one write, not many.
SEEN_RESOLUTION = timedelta(seconds=30)


@dataclass(frozen=True)
class SignedIn:
    """The user of a live session, as the web layer sees it."""

    id: int
    email: str
    role: str

    @property
    def home_endpoint(self) -> str:
        """The page this user lands on after signing in."""
        return HOME_ENDPOINTS[self.role]


@dataclass(frozen=True)
class NewUser:
    """A user just created, with the TOTP secret to show once."""

    id: int
    email: str
    role: str
    totp_secret: str
    totp_uri: str


@dataclass(frozen=True)
class UserSummary:
    """One line of `users list`."""

    email: str
    role: str
    created_at: datetime
    disabled: bool
    totp_confirmed: bool
    last_sign_in_at: datetime | None


def check_email(email: str) -> str:
    """The normalised e-mail, or InputError when it does not look like one."""
    email = normalise_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in email) or len(email) > 254:
        raise InputError(f"{email!r} is not an e-mail address", code="invalid_email", http_status=422)
    return email


def session_key(token: str) -> str:
    """What the table stores for a session token (a leaked table opens no session)."""
    return hashlib.sha256(token.encode()).hexdigest()


class AccountService:
    """Users, sign-in and sessions over the database; one per process, safe to share between threads."""

    def __init__(self, db: Database, settings: Settings, cipher: FieldCipher | None = None,
                 hasher: KeyedHasher | None = None):
        self.db = db
        self.settings = settings
        self.cipher = cipher or FieldCipher(settings.field_keys)  # TOTP secrets at rest
        self.hasher = hasher or KeyedHasher(settings.secret_key)

    # -- users ------------------------------------------------------------------------------------
    def create_user(self, email: str, role: str, password: str) -> NewUser:
        """A new user with a fresh TOTP secret (returned once, to show; stored encrypted)."""
        email = check_email(email)
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}, got {role!r}", code="invalid_role")
        credentials.check_password_strength(password)
        secret = credentials.new_totp_secret()
        user = User(email=email, role=role, password_hash=credentials.hash_password(password),
                    totp_secret=self.cipher.encrypt(secret))
        try:
            with self.db.transaction() as s:
                s.add(user)
        except IntegrityError:
            raise InputError(f"a user with e-mail {email} already exists", code="user_exists",
                             http_status=409) from None
        return NewUser(user.id, email, role, secret, credentials.totp_uri(email, secret))

    def list_users(self) -> list[UserSummary]:
        """Every user, by e-mail."""
        with self.db.reading() as s:
            users = s.scalars(select(User).order_by(User.email)).all()
        return [UserSummary(u.email, u.role, u.created_at, u.disabled_at is not None, u.totp_confirmed_at is not None,
                            u.last_sign_in_at) for u in users]

    def disable_user(self, email: str) -> int:
        """Disable a user and end their sessions; returns how many sessions were ended."""
        email = normalise_email(email)
        now = utcnow()
        with self.db.transaction() as s:
            user = s.scalars(select(User).where(User.email == email)).one_or_none()
            if user is None:
                raise InputError(f"no user with e-mail {email}", code="unknown_user", http_status=404)
            user.disabled_at = user.disabled_at or now
            ended = s.execute(update(UserSession).where(UserSession.user_id == user.id,
                                                        UserSession.ended_at.is_(None))
                              .values(ended_at=now)).rowcount
        return ended

    # -- sign-in ----------------------------------------------------------------------------------
    def email_key(self, email: str) -> str:
        """Keyed hash of a typed e-mail: failures are counted per address without storing addresses typed."""
        return self.hasher.digest(normalise_email(email), "sign-in email")

    def check_password(self, email: str, password: str, ip: str) -> int:
        """First step: the user's id when the password is right; SignInError (recorded) otherwise."""
        key = self.email_key(email)
        now = utcnow()
        with self.db.transaction() as s:
            user = s.scalars(select(User).where(User.email == normalise_email(email))).one_or_none()
            error = self._lock(s, key, ip, now, user.id if user else None)
            ok = error is None and credentials.verify_password(user.password_hash if user else None, password or "")
            if error is not None:
                pass  # recorded by _lock; the password is not even checked
            elif not ok:
                self._record(s, key, user.id if user else None, ip, "bad_password" if user else "unknown_account",
                             failure=True, at=now)
                error = SignInError("the e-mail or the password is wrong", "bad_credentials", 400)
            elif user.disabled_at is not None:
                self._record(s, key, user.id, ip, "disabled", failure=False, at=now)
                error = SignInError("this account is disabled; ask the operator", "account_disabled", 403)
            else:
                return user.id
        raise error  # after the transaction: the failure stays recorded

    def check_code(self, user_id: int, code: str, ip: str) -> tuple[str, SignedIn]:
        """Second step: a session token (for the cookie) and the user, when the TOTP code is right."""
        now = utcnow()
        with self.db.transaction() as s:
            user = s.get(User, user_id, with_for_update=True)
            if user is None or user.disabled_at is not None:
                raise SignInError("this account is disabled; ask the operator", "account_disabled", 403)
            key = self.email_key(user.email)
            error = self._lock(s, key, ip, now, user.id)
            step = None if error else credentials.accepted_totp_step(self.cipher.decrypt(user.totp_secret), code or "",
                                                                     user.totp_last_step)
            if error is not None:
                pass
            elif step is None:
                self._record(s, key, user.id, ip, "bad_code", failure=True, at=now)
                error = SignInError("the code is wrong or was already used", "bad_code", 400)
            else:
                user.totp_last_step = step
                user.totp_confirmed_at = user.totp_confirmed_at or now
                user.last_sign_in_at = now
                token = secrets.token_urlsafe(32)
                s.add(UserSession(id=session_key(token), user_id=user.id, ip=ip, created_at=now, last_seen_at=now,
                                  expires_at=now + timedelta(hours=self.settings.session_max_hours)))
                self._record(s, key, user.id, ip, "success", failure=False, at=now)
                return token, SignedIn(user.id, user.email, user.role)
        raise error

    def _lock(self, s, key: str, ip: str, now: datetime, user_id: int | None) -> SignInError | None:
        """The error to raise (recorded now) when the e-mail is locked or the address blocked, else None."""
        window = timedelta(minutes=self.settings.signin_lockout_minutes)
        last_success = s.scalar(select(func.max(SignInEvent.at)).where(SignInEvent.email_key == key,
                                                                        SignInEvent.outcome == "success"))
        since = max(now - window, last_success) if last_success else now - window
        until = self._lock_end(s, SignInEvent.email_key == key, since, self.settings.signin_max_failures, window)
        if until is not None:
            self._record(s, key, user_id, ip, "locked", failure=False, at=now)
            return SignInError("too many failed sign-ins on this account", "account_locked", 429, retry_at=until)
        until = self._lock_end(s, SignInEvent.ip == ip, now - window, self.settings.signin_max_failures_per_ip,
                               window)
        if until is not None:
            self._record(s, key, user_id, ip, "address_blocked", failure=False, at=now)
            return SignInError("too many failed sign-ins from this address", "address_blocked", 429, retry_at=until)
        return None

    @staticmethod
    def _lock_end(s, where, since: datetime, limit: int, window: timedelta) -> datetime | None:
        """When the lock ends (the limit-th latest failure leaves the window), or None when not locked."""
        times = s.scalars(select(SignInEvent.at).where(where, SignInEvent.failure.is_(True), SignInEvent.at > since)
                          .order_by(SignInEvent.at.desc()).limit(limit)).all()
        return times[limit - 1] + window if len(times) >= limit else None

    @staticmethod
    def _record(s, key: str, user_id: int | None, ip: str, outcome: str, failure: bool, at: datetime) -> None:
        s.add(SignInEvent(at=at, email_key=key, user_id=user_id, ip=ip[:45], outcome=outcome, failure=failure))

    # -- sessions ---------------------------------------------------------------------------------
    def session_user(self, token: str) -> SignedIn | None:
        """The user of a live session (and it is marked seen), or None: unknown, ended, idle or too old."""
        now = utcnow()
        idle = timedelta(minutes=self.settings.session_idle_minutes)
        with self.db.transaction() as s:
            row = s.get(UserSession, session_key(token))
            if row is None or row.ended_at is not None:
                return None
            if now >= row.expires_at or now - row.last_seen_at >= idle:
                row.ended_at = now
                return None
            user = s.get(User, row.user_id)
            if user is None or user.disabled_at is not None:
                row.ended_at = now
                return None
            if now - row.last_seen_at >= SEEN_RESOLUTION:
                row.last_seen_at = now
            return SignedIn(user.id, user.email, user.role)

    def end_session(self, token: str, ip: str) -> None:
        """Sign out: the session ends now (recorded in the audit)."""
        now = utcnow()
        with self.db.transaction() as s:
            row = s.get(UserSession, session_key(token))
            if row is None or row.ended_at is not None:
                return
            row.ended_at = now
            user = s.get(User, row.user_id)
            if user is not None:
                self._record(s, self.email_key(user.email), user.id, ip, "signed_out", failure=False, at=now)
