"""Field encryption and keyed hashes: personal data at rest is encrypted, look-ups use keyed hashes.

    cipher = FieldCipher(settings.field_keys)     # services.cipher
    token = cipher.encrypt("jo@example.fr")       # store the token
    cipher.decrypt(token)                         # -> "jo@example.fr"; DecryptionError names FIELD_KEYS
    hasher = KeyedHasher(settings.secret_key)     # services.hasher
    hasher.email_digest(" Jo@Example.fr ")        # the same for every spelling of one address

Encryption is Fernet (AES-128-CBC + HMAC-SHA256) through ``MultiFernet`` over FIELD_KEYS, newest
first: new tokens use the first key, every key still decrypts. Hashes are HMAC-SHA256 with a key
derived from SECRET_KEY by HKDF, and a ``purpose`` mixed in, so a hash made for one use never
matches one made for another (and none can be recomputed without SECRET_KEY).

Key rotation: put a new key first in FIELD_KEYS, run ``gdpr-assistant keys rotate`` (it re-encrypts
every column registered in ``ENCRYPTED_COLUMNS`` with the new key, in one transaction), then drop
the old key. A feature registers its encrypted columns in its ``models.py``::

    ENCRYPTED_COLUMNS.append((Subscriber, "email"))
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..config import Secret
from ..errors import ConfigError, DecryptionError

HASH_INFO = b"gdpr-assistant keyed hash v1"

# (model class, attribute name) of every column holding FieldCipher tokens; `keys rotate` walks it.
ENCRYPTED_COLUMNS: list[tuple[type, str]] = []


def normalise_email(email: str) -> str:
    """The form e-mails are compared and hashed in: trimmed, lower case."""
    return (email or "").strip().lower()


class FieldCipher:
    """Encrypts text fields with FIELD_KEYS (newest first); older keys still decrypt during a rotation."""

    def __init__(self, keys: Sequence[Secret]):
        if not keys:
            raise ConfigError("FIELD_KEYS is empty: set it (production) or let build_services generate the "
                              "development key")
        self._fernet = MultiFernet([Fernet(k.reveal().encode()) for k in keys])

    def encrypt(self, text: str) -> str:
        """The token to store (with the newest key)."""
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The text back; DecryptionError (naming FIELD_KEYS) when no key opens the token."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, AttributeError):
            raise DecryptionError("a stored field cannot be decrypted with FIELD_KEYS: was the key it was encrypted "
                                  "with removed from the list? Put it back (after the new key) and run "
                                  "`gdpr-assistant keys rotate`") from None

    def rotate(self, token: str) -> str:
        """The same text encrypted with the newest key; DecryptionError when no key opens it."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError, AttributeError):
            raise DecryptionError("a stored field cannot be re-encrypted: no key in FIELD_KEYS opens it; put the "
                                  "key it was encrypted with back in FIELD_KEYS (after the new key)") from None


class KeyedHasher:
    """HMAC-SHA256 digests keyed by SECRET_KEY (through HKDF), for look-ups and de-duplication."""

    def __init__(self, secret: Secret):
        if secret is None or not secret.reveal():
            raise ConfigError("SECRET_KEY is empty: set it (production) or let build_services generate the "
                              "development key")
        self._key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                         info=HASH_INFO).derive(secret.reveal().encode("utf-8"))

    def digest(self, value: str, purpose: str) -> str:
        """Hex HMAC of ``value`` for ``purpose`` ("email", "sign-in"...): different purposes never match."""
        if not purpose or "\x00" in purpose:
            raise ValueError("purpose must be a non-empty name without NUL characters")
        message = purpose.encode("utf-8") + b"\x00" + value.encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def email_digest(self, email: str) -> str:
        """The digest of an e-mail address, the same for every spelling (case, spaces around)."""
        return self.digest(normalise_email(email), "email")


def register_encrypted_column(model: type, attribute: str) -> None:
    """Declare that ``model.attribute`` holds FieldCipher tokens (same as appending to ENCRYPTED_COLUMNS)."""
    if not hasattr(model, attribute):
        raise AttributeError(f"{model.__name__} has no column {attribute!r}")
    if (model, attribute) not in ENCRYPTED_COLUMNS:
        ENCRYPTED_COLUMNS.append((model, attribute))


def rotate_columns(database, cipher: FieldCipher, batch: int = 500) -> dict[str, int]:
    """Re-encrypt every registered column with the newest key, in one transaction; counts per "table.column".

    A value no key opens raises DecryptionError naming the table, column and row, and nothing is written.
    """
    from sqlalchemy import inspect, select, update

    from .. import models  # noqa: F401  (every feature's models, so every registration has run)

    counts: dict[str, int] = {}
    with database.transaction() as session:
        for model, attribute in list(ENCRYPTED_COLUMNS):
            (pk,) = inspect(model).primary_key
            column = getattr(model, attribute)
            label = f"{model.__tablename__}.{attribute}"
            done, last = 0, None
            while True:
                query = select(pk, column).where(column.is_not(None)).order_by(pk).limit(batch)
                if last is not None:
                    query = query.where(pk > last)
                rows = session.execute(query).all()
                if not rows:
                    break
                for key, token in rows:
                    try:
                        new = cipher.rotate(token)
                    except DecryptionError as e:
                        raise DecryptionError(f"{label} of row {key}: {e.message}") from None
                    session.execute(update(model).where(pk == key).values({attribute: new}))
                    done += 1
                last = rows[-1][0]
            counts[label] = done
    return counts
