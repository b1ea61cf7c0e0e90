"""Privacy services: field encryption and rotation, keyed hashes, SIREN/SIRET validation, redaction with checksums."""

import re

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import settings as settings_h
from hypothesis import strategies as st
from sqlalchemy import select

from assistant.cli import cli
from assistant.config import Secret
from assistant.errors import ConfigError, DecryptionError
from assistant.privacy.crypto import ENCRYPTED_COLUMNS, FieldCipher, KeyedHasher, normalise_email
from assistant.privacy.redact import redact
from assistant.privacy.validate import valid_siren, valid_siret


def key() -> Secret:
    return Secret(Fernet.generate_key().decode())


# -- FieldCipher -----------------------------------------------------------------------------------
def test_cipher_round_trip_and_tokens_differ():
    cipher = FieldCipher([key()])
    a, b = cipher.encrypt("jo@example.fr"), cipher.encrypt("jo@example.fr")
    assert a != b and "jo@example" not in a  # random IV: equal texts give different tokens
    assert cipher.decrypt(a) == cipher.decrypt(b) == "jo@example.fr"
    assert cipher.decrypt(cipher.encrypt("é 😀")) == "é 😀"


def test_old_key_still_decrypts_and_rotate_moves_to_the_newest():
    old, new = key(), key()
    token = FieldCipher([old]).encrypt("secret")
    both = FieldCipher([new, old])
    assert both.decrypt(token) == "secret"
    rotated = both.rotate(token)
    assert FieldCipher([new]).decrypt(rotated) == "secret"
    with pytest.raises(DecryptionError):
        FieldCipher([new]).decrypt(token)


@pytest.mark.parametrize("token", ["not a token", "", "gAAAAAB" + "x" * 80])
def test_a_token_no_key_opens_names_field_keys(token):
    with pytest.raises(DecryptionError, match="FIELD_KEYS"):
        FieldCipher([key()]).decrypt(token)
    with pytest.raises(DecryptionError, match="FIELD_KEYS"):
        FieldCipher([key()]).rotate(token)


def test_cipher_needs_a_key():
    with pytest.raises(ConfigError, match="FIELD_KEYS is empty"):
        FieldCipher([])


# -- KeyedHasher ----------------------------------------------------------------------------------
def test_keyed_hashes():
    h = KeyedHasher(Secret("k" * 40))
    assert h.email_digest(" Jo@Example.FR ") == h.email_digest("jo@example.fr") == h.digest("jo@example.fr", "email")
    assert h.digest("jo@example.fr", "email") != h.digest("jo@example.fr", "newsletter")  # purposes never match
    assert h.digest("x", "email") != KeyedHasher(Secret("j" * 40)).digest("x", "email")  # keyed by SECRET_KEY
    assert len(h.digest("x", "email")) == 64 and int(h.digest("x", "email"), 16) >= 0
    with pytest.raises(ValueError, match="purpose"):
        h.digest("x", "")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        KeyedHasher(Secret(""))


def test_normalise_email():
    assert normalise_email("  Marie.Curie@Example.ORG\n") == "marie.curie@example.org"


# -- key rotation over the database ---------------------------------------------------------------
def test_accounts_totp_secrets_are_registered():
    from assistant.accounts.models import User

    assert (User, "totp_secret") in ENCRYPTED_COLUMNS


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    return "" if request.param == "sqlite" else request.getfixturevalue("pg_url")


def test_keys_rotate_reencrypts_totp_secrets(settings, runner, db_url, request):
    from assistant.accounts.models import User
    from assistant.container import build_accounts, build_database

    old, new = key(), key()
    s = settings.with_(field_keys=(old,), database_url=db_url)
    database = build_database(s)
    request.addfinalizer(database.dispose)
    database.upgrade()
    accounts = build_accounts(s, database)
    created = [accounts.create_user(f"op{i}@example.fr", "operator", "a long enough password") for i in range(3)]
    env = {"ASSISTANT_DATA_DIR": str(s.data_dir), "DATABASE_URL": db_url,
           "FIELD_KEYS": f"{new.reveal()},{old.reveal()}", "SECRET_KEY": "s" * 40}
    result = runner.invoke(cli, ["keys", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    assert re.search(r"^users\.totp_secret +re-encrypted +3$", result.output, re.M)
    assert re.search(r"^mail_outbox\.recipient +re-encrypted +0$", result.output, re.M)
    with database.reading() as session:
        tokens = dict(session.execute(select(User.email, User.totp_secret)).all())
    only_new = FieldCipher([new])  # the old key can go: every value opens with the new one alone
    assert {e: only_new.decrypt(t) for e, t in tokens.items()} == {u.email: u.totp_secret for u in created}

    # A value no key opens: the command says which row, and nothing is rewritten.
    with database.transaction() as session:
        session.get(User, created[0].id).totp_secret = FieldCipher([key()]).encrypt("lost")
    with database.reading() as session:
        before = dict(session.execute(select(User.email, User.totp_secret)).all())
    result = runner.invoke(cli, ["keys", "rotate"], env=env)
    assert result.exit_code == 1
    assert f"users.totp_secret of row {created[0].id}" in result.output and "FIELD_KEYS" in result.output
    with database.reading() as session:
        assert dict(session.execute(select(User.email, User.totp_secret)).all()) == before


def test_keys_generate_prints_a_fernet_key(runner):
    result = runner.invoke(cli, ["keys", "generate"], env={"ASSISTANT_DATA_DIR": "/nonexistent"})
    assert result.exit_code == 0
    Fernet(result.output.strip().encode())


# -- SIREN / SIRET ------------------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [("732 829 320", "732829320"), ("732829320", "732829320"),
                                            (" 732.829.320 ", "732829320")])
def test_valid_siren(value, expected):
    assert valid_siren(value) == expected


@pytest.mark.parametrize("value,message", [
    ("73282932", r"a SIREN has 9 digits, got 8"),
    ("732829321", r"not a valid SIREN: its check digit is wrong"),
    ("73282932A", r"digits only"),
    ("", r"a SIREN has 9 digits, got none"),
])
def test_invalid_siren(value, message):
    with pytest.raises(ValueError, match=message):
        valid_siren(value)


def test_siret():
    assert valid_siret("732 829 320 00074") == "73282932000074"
    with pytest.raises(ValueError, match="not a valid SIRET"):
        valid_siret("732 829 320 00075")
    with pytest.raises(ValueError, match="a SIRET has 14 digits, got 9"):
        valid_siret("732829320")
    with pytest.raises(ValueError, match="text of 14 digits"):
        valid_siret(73282932000074)


# -- redaction ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("mail jean.dupont@example.fr now", "mail [EMAIL] now"),
    ("IBAN FR76 3000 6000 0112 3456 7890 189.", "IBAN [IBAN]."),
    ("iban fr76.3000.6000.0112.3456.7890.189", "iban [IBAN]"),
    ("DE89-3704-0044-0532-0130-00 please", "[IBAN] please"),
    ("NIR 2 95 10 99 126 111 93", "NIR [NIR]"),
    ("né en Corse: 1 85 05 2A 123 456 33", "né en Corse: [NIR]"),
    ("outre-mer 2.85.12.971.23.456.26", "outre-mer [NIR]"),
    ("carte 4111 1111 1111 1111", "carte [CARD]"),
    ("carte 4111-1111-1111-1111", "carte [CARD]"),
    ("card 4970101234567890127 (19 digits)", "card [CARD] (19 digits)"),
    ("SIRET 732 829 320 00074", "SIRET [SIRET]"),
    ("SIREN 732 829 320", "SIREN [SIREN]"),
    ("appelez le 06 12 34 56 78", "appelez le [PHONE]"),
    ("call +33 (0)6 12 34 56 78", "call [PHONE]"),
    ("ou 0033 6 12 34 56 78", "ou [PHONE]"),
    ("from 192.168.1.20 yesterday", "from [IP] yesterday"),
    ("from 2001:db8::8a2e:370:7334 yesterday", "from [IP] yesterday"),
    ("from FE80::1 too", "from [IP] too"),
    # no-break and narrow no-break spaces (Word, the web)
    ("tel 06\u00a012\u00a034\u00a056\u00a078", "tel [PHONE]"),
    ("IBAN FR76\u202f3000\u202f6000\u202f0112\u202f3456\u202f7890\u202f189", "IBAN [IBAN]"),
    # fallback: long digit runs with no valid checksum are still masked
    ("compte 123456789012 stp", "compte [NUMBER] stp"),
    ("carte 4111 1111 1111 1112", "carte [NUMBER]"),
    ("IBAN FR76 3000 6000 0112 3456 7890 180", "IBAN FR76 [NUMBER] 180"),  # a typo: not an IBAN, still masked
])
def test_redacted(text, expected):
    out, n = redact(text)
    assert out == expected and n == expected.count("[")


@pytest.mark.parametrize("text", [
    "Article 33(1) GDPR: notify within 72 hours.",
    "Fines up to 20 000 000 EUR or 4 % of turnover (Regulation 2016/679).",
    "Deliberation SAN-2022-021 of 24 November 2022, file 123456789.",  # 9 digits, SIREN checksum fails
    "SIREN 732 829 321 is mistyped",  # wrong check digit: an ordinary number
    "meeting at 10:30:15, see :: below",
    "version 1.2.3.4.5 of the form",
])
def test_ordinary_text_is_kept(text):
    assert redact(text) == (text, 0)


def test_counts_every_identifier():
    text, n = redact("jo@example.fr, 06 12 34 56 78 and 4111 1111 1111 1111")
    assert text == "[EMAIL], [PHONE] and [CARD]" and n == 3


@settings_h(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 .-+:@abcfrAB()\u00a0\u202f\n", max_size=80))
def test_redaction_never_fails_and_is_stable(text):
    once, _ = redact(text)
    assert redact(once) == (once, 0)  # nothing left to mask, and masks are not masked again
