"""Credentials: argon2 password hashes and TOTP codes (RFC 6238); TOTP secrets are encrypted with FieldCipher."""

from __future__ import annotations

import hmac
import time

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import InputError

MIN_PASSWORD_CHARS = 12
ISSUER = "GDPR assistant"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the e-mail has no account, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def check_password_strength(password: str) -> None:
    """InputError unless the password is long enough (length beats composition rules)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"the password must have at least {MIN_PASSWORD_CHARS} characters",
                         code="weak_password", http_status=422)
    if len(password) > 1024:
        raise InputError("the password is over 1024 characters", code="weak_password", http_status=422)


def hash_password(password: str) -> str:
    """The argon2id hash to store."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with no hash (unknown account) the same work is done, then False."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def totp_uri(email: str, secret: str) -> str:
    """The otpauth:// URI authenticator apps read (from a QR code or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def totp_code(secret: str, for_time: float | None = None) -> str:
    """The current code of ``secret`` (tests and the CLI's check)."""
    return pyotp.TOTP(secret).at(for_time or time.time())


def accepted_totp_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (this one, or one either side for clock drift), if it is newer
    than ``last_step``: a code is never accepted twice. None otherwise."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(time.time() if now is None else now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (last_step is None or step > last_step):
            return step
    return None
