"""Credentials: argon2 password hashes, TOTP codes (RFC 6238) and the encryption of TOTP secrets."""

from __future__ import annotations

import hmac
import time

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ..config import Secret
from ..errors import AssistantError, InputError

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


class SecretBox:
    """Encrypts TOTP secrets with FIELD_KEYS (Fernet, newest key first; older keys still decrypt)."""

    def __init__(self, keys: tuple[Secret, ...]):
        if not keys:
            raise ValueError("FIELD_KEYS is empty (development keys are filled in by build_services)")
        self._fernet = MultiFernet([Fernet(k.reveal().encode()) for k in keys])

    def seal(self, value: str) -> str:
        """The encrypted form to store."""
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, token: str) -> str:
        """The value back; a token no key opens is an error naming FIELD_KEYS."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise AssistantError("a stored TOTP secret cannot be decrypted with FIELD_KEYS: was the key it was "
                                 "encrypted with removed from the list?") from None
