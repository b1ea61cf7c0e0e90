"""Accounts: credentials, lockouts, sessions, the sign-in pages, roles, the console, the `users` CLI."""

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from assistant.accounts import credentials
from assistant.accounts.models import SignInEvent, User, UserSession
from assistant.cli import cli
from assistant.db import utcnow
from assistant.errors import InputError, SignInError
from assistant.web import SERVICES_KEY

PASSWORD = "correct horse battery staple"
IP = "198.51.100.7"


# -- credentials (pure) -------------------------------------------------------------------------------

def test_password_hash_is_argon2id_and_verifies():
    h = credentials.hash_password(PASSWORD)
    assert h.startswith("$argon2id$") and PASSWORD not in h
    assert credentials.verify_password(h, PASSWORD)
    assert not credentials.verify_password(h, PASSWORD + "!")
    assert not credentials.verify_password(None, PASSWORD)  # unknown account: same work, never true
    assert not credentials.verify_password("not a hash", PASSWORD)


@pytest.mark.parametrize("password,ok", [("x" * 11, False), ("x" * 12, True), ("x" * 1025, False)])
def test_password_strength(password, ok):
    if ok:
        credentials.check_password_strength(password)
    else:
        with pytest.raises(InputError):
            credentials.check_password_strength(password)


@pytest.mark.parametrize("offset,last_step_offset,accepted", [
    (0, None, True),  # the current code
    (-30, None, True),  # the previous one (clock drift)
    (30, None, True),  # the next one
    (-90, None, False),  # too old
    (0, 0, False),  # already used
    (0, -1, True),  # the previous step was used, this one is new
])
def test_totp_steps(offset, last_step_offset, accepted):
    import pyotp

    secret = credentials.new_totp_secret()
    now = 1_800_000_000.0
    step = pyotp.TOTP(secret).timecode(now)
    code = credentials.totp_code(secret, now + offset)
    last = None if last_step_offset is None else step + last_step_offset
    assert (credentials.accepted_totp_step(secret, code, last, now=now) is not None) is accepted


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_refused(code):
    assert credentials.accepted_totp_step(credentials.new_totp_secret(), code, None) is None


# -- the service ----------------------------------------------------------------------------------------

@pytest.fixture
def app(make_app):
    return make_app(min_similarity=0.0)


@pytest.fixture
def accounts(app):
    return app.extensions[SERVICES_KEY].accounts


def rows(accounts, model, *where):
    with accounts.db.reading() as s:
        return s.scalars(select(model).where(*where)).all()


def sign_in(accounts, user, ip=IP, when=None):
    uid = accounts.check_password(user.email, PASSWORD, ip)
    return accounts.check_code(uid, credentials.totp_code(user.totp_secret, when), ip)


def test_create_stores_hash_and_encrypted_secret(accounts):
    user = accounts.create_user(" Op@Example.FR ", "operator", PASSWORD)
    assert user.email == "op@example.fr" and user.totp_uri.startswith("otpauth://totp/")
    stored = rows(accounts, User)[0]
    assert stored.password_hash.startswith("$argon2id$") and user.totp_secret not in stored.totp_secret
    assert accounts.cipher.decrypt(stored.totp_secret) == user.totp_secret
    with pytest.raises(InputError, match="already exists"):
        accounts.create_user("op@example.fr", "partner", PASSWORD)
    with pytest.raises(InputError, match="role"):
        accounts.create_user("x@example.fr", "admin", PASSWORD)
    with pytest.raises(InputError, match="e-mail"):
        accounts.create_user("not-an-email", "operator", PASSWORD)


def test_sign_in_in_two_steps_and_audit(accounts):
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    token, signed = sign_in(accounts, user)
    assert signed.role == "operator" and accounts.session_user(token) == signed
    assert [e.outcome for e in rows(accounts, SignInEvent)] == ["success"]
    assert rows(accounts, UserSession)[0].id != token  # only its hash is stored
    accounts.end_session(token, IP)
    assert accounts.session_user(token) is None
    assert [e.outcome for e in rows(accounts, SignInEvent)] == ["success", "signed_out"]


def test_a_code_is_never_accepted_twice(accounts):
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    uid = accounts.check_password(user.email, PASSWORD, IP)
    code = credentials.totp_code(user.totp_secret)
    accounts.check_code(uid, code, IP)
    with pytest.raises(SignInError) as e:
        accounts.check_code(uid, code, IP)
    assert e.value.code == "bad_code"


def test_account_locks_after_repeated_failures_then_unlocks(accounts, settings):
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    for _ in range(settings.signin_max_failures):
        with pytest.raises(SignInError, match="wrong"):
            accounts.check_password(user.email, "wrong password!", IP)
    with pytest.raises(SignInError) as e:  # even the right password, from another address
        accounts.check_password(user.email, PASSWORD, "203.0.113.1")
    assert e.value.code == "account_locked" and e.value.http_status == 429
    window = timedelta(minutes=settings.signin_lockout_minutes)
    assert utcnow() < e.value.retry_at <= utcnow() + window
    # The window passes: the failures no longer count.
    age(accounts, SignInEvent, "at", window)
    assert accounts.check_password(user.email, PASSWORD, IP) == user.id
    outcomes = [e.outcome for e in rows(accounts, SignInEvent)]
    assert outcomes.count("bad_password") == settings.signin_max_failures and "locked" in outcomes


def test_unknown_addresses_lock_the_same_way(accounts, settings):
    """A lock must not tell which addresses have an account."""
    for _ in range(settings.signin_max_failures):
        with pytest.raises(SignInError, match="wrong"):
            accounts.check_password("nobody@example.fr", PASSWORD, IP)
    with pytest.raises(SignInError) as e:
        accounts.check_password("nobody@example.fr", PASSWORD, IP)
    assert e.value.code == "account_locked"


def test_wrong_codes_count_towards_the_lock(accounts, settings):
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    uid = accounts.check_password(user.email, PASSWORD, IP)
    for _ in range(settings.signin_max_failures):
        with pytest.raises(SignInError):
            accounts.check_code(uid, "000000", IP)
    with pytest.raises(SignInError) as e:
        accounts.check_code(uid, credentials.totp_code(user.totp_secret), IP)
    assert e.value.code == "account_locked"


def test_an_address_is_blocked_after_failures_on_many_accounts(make_app):
    app = make_app(signin_max_failures_per_ip=3, signin_max_failures=5)
    accounts = app.extensions[SERVICES_KEY].accounts
    for i in range(3):
        with pytest.raises(SignInError):
            accounts.check_password(f"guess{i}@example.fr", PASSWORD, IP)
    with pytest.raises(SignInError) as e:
        accounts.check_password("another@example.fr", PASSWORD, IP)
    assert e.value.code == "address_blocked"
    with pytest.raises(SignInError) as e:  # another address is not blocked
        accounts.check_password("another@example.fr", PASSWORD, "203.0.113.9")
    assert e.value.code == "bad_credentials"


def test_success_clears_earlier_failures(accounts, settings):
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    for _ in range(settings.signin_max_failures - 1):
        with pytest.raises(SignInError):
            accounts.check_password(user.email, "wrong password!", IP)
    sign_in(accounts, user)
    with pytest.raises(SignInError) as e:
        accounts.check_password(user.email, "wrong password!", IP)
    assert e.value.code == "bad_credentials"  # not locked: the count restarted at the success


@pytest.mark.parametrize("field,age", [("last_seen_at", "idle"), ("expires_at", "absolute")])
def test_sessions_end_when_idle_or_too_old(accounts, settings, field, age):
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    token, _ = sign_in(accounts, user)
    with accounts.db.transaction() as s:
        row = s.scalars(select(UserSession)).one()
        if age == "idle":
            row.last_seen_at = utcnow() - timedelta(minutes=settings.session_idle_minutes, seconds=1)
        else:
            row.expires_at = utcnow() - timedelta(seconds=1)
    assert accounts.session_user(token) is None
    assert rows(accounts, UserSession)[0].ended_at is not None


def test_disabling_a_user_ends_their_sessions_and_refuses_sign_in(accounts):
    user = accounts.create_user("p@example.fr", "partner", PASSWORD)
    token, _ = sign_in(accounts, user)
    assert accounts.disable_user("P@example.fr") == 1
    assert accounts.session_user(token) is None
    with pytest.raises(SignInError) as e:
        accounts.check_password(user.email, PASSWORD, IP)
    assert e.value.code == "account_disabled" and e.value.http_status == 403


def test_old_sign_in_records_and_sessions_are_purged(app, accounts, settings):
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    sign_in(accounts, user)
    services = app.extensions[SERVICES_KEY]
    old = timedelta(days=settings.signin_record_days + 1)
    age(accounts, SignInEvent, "at", old)
    age(accounts, UserSession, "expires_at", old)
    sign_in(accounts, user, when=time.time() + 30)  # a recent one stays
    removed = {r.rule.name: r.removed for r in services.retention.purge(services.database)}
    assert removed["accounts.sign_in_events"] == 1 and removed["accounts.sessions"] == 1
    assert len(rows(accounts, SignInEvent)) == 1 and len(rows(accounts, UserSession)) == 1


# -- the web pages --------------------------------------------------------------------------------------

def csrf(html: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


def age(accounts, model, field, by):
    """Move every row's ``field`` back by ``by`` (as if written that long ago)."""
    with accounts.db.transaction() as s:
        for row in s.scalars(select(model)):
            setattr(row, field, getattr(row, field) - by)


def web_sign_in(client, user, password=PASSWORD, lang="en", code=None):
    """The two forms as a browser fills them; returns the last response."""
    page = client.get(f"/login?lang={lang}")
    resp = client.post("/login", data={"csrf_token": csrf(page.get_data(True)), "email": user.email,
                                       "password": password})
    if resp.status_code != 302:
        return resp
    page = client.get("/login/code")
    return client.post("/login/code", data={"csrf_token": csrf(page.get_data(True)),
                                            "code": code or credentials.totp_code(user.totp_secret)})


def test_operator_signs_in_and_sees_the_console(app, accounts):
    from assistant.chat.analytics import recent_feedback

    client = app.test_client()
    aid = client.post("/api/chat", json={"message": "How long do we have to notify a data breach?"}).get_json()[
        "answer_id"]
    client.post("/api/chat", json={"message": "Quelle est la recette des crêpes au sarrasin ?"})
    client.post("/api/feedback", json={"answer_id": aid, "rating": "down", "comment": "call me on 06 11 22 33 44"})
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    assert client.get("/admin/").status_code == 302  # not signed in: to the sign-in page
    resp = web_sign_in(client, user)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/")
    page = client.get("/admin/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Answers by status per day" in html and "<svg" in html and "<table" in html
    assert "[PHONE]" in html and "06 11 22 33 44" not in html  # feedback, as stored: redacted
    assert "How long do we have to notify a data breach?" in html
    with accounts.db.reading() as s:
        assert recent_feedback(s)[0].rating == -1
    assert "<script" not in html  # drawn by the server, no script at all


def test_partner_sees_the_empty_leads_page_and_not_the_console(app, accounts):
    client = app.test_client()
    user = accounts.create_user("dpo@example.fr", "partner", PASSWORD)
    resp = web_sign_in(client, user, lang="fr")
    assert resp.headers["Location"].endswith("/partner/")
    page = client.get("/partner/")
    assert page.status_code == 200 and "Aucun contact pour l’instant" in page.get_data(as_text=True)
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/", headers={"Accept": "application/json"}).get_json()["error"]["code"] == "forbidden"


def test_wrong_password_and_lock_messages(app, accounts, settings):
    client = app.test_client()
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    resp = web_sign_in(client, user, password="not the password")
    assert resp.status_code == 400 and "The e-mail address or the password is wrong." in resp.get_data(True)
    for _ in range(settings.signin_max_failures - 1):
        web_sign_in(client, user, password="not the password")
    resp = web_sign_in(client, user)  # the right one, too late
    body = resp.get_data(as_text=True)
    assert resp.status_code == 429 and "Try again after" in body and int(resp.headers["Retry-After"]) > 0
    assert client.get("/admin/").status_code == 302  # still not signed in


def test_wrong_code_is_refused_with_a_clear_message(app, accounts):
    client = app.test_client()
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    resp = web_sign_in(client, user, code="000000")
    assert resp.status_code == 400 and "The code is wrong or was already used" in resp.get_data(True)
    assert client.get("/admin/").status_code == 302


def test_sign_out_ends_the_session_on_the_server(app, accounts):
    client = app.test_client()
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    web_sign_in(client, user)
    stolen = client.get_cookie("session").value
    page = client.get("/admin/")
    token = csrf(page.get_data(True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/admin/").status_code == 302  # the old cookie opens nothing


def test_next_only_goes_back_to_this_site(app, accounts):
    client = app.test_client()
    user = accounts.create_user("op@example.fr", "operator", PASSWORD)
    page = client.get("/login?next=https://evil.example/x")
    resp = client.post("/login?next=https://evil.example/x", data={"csrf_token": csrf(page.get_data(True)),
                                                                  "email": user.email, "password": PASSWORD})
    page = client.get("/login/code")
    resp = client.post("/login/code", data={"csrf_token": csrf(page.get_data(True)),
                                            "code": credentials.totp_code(user.totp_secret)})
    assert resp.headers["Location"] == "/admin/"


# -- the CLI ----------------------------------------------------------------------------------------------

def test_users_cli(runner, settings):
    env = {"ASSISTANT_DATA_DIR": str(settings.data_dir)}
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    r = runner.invoke(cli, ["users", "create", "--email", "op@example.fr", "--role", "operator", "--password-stdin"],
                      input=PASSWORD + "\n", env=env)
    assert r.exit_code == 0, r.output
    secret = re.search(r"TOTP secret: ([A-Z2-7]+)", r.output).group(1)
    assert "otpauth://totp/" in r.output and PASSWORD not in r.output
    assert credentials.accepted_totp_step(secret, credentials.totp_code(secret), None) is not None
    r = runner.invoke(cli, ["users", "create", "--email", "p@example.fr", "--role", "partner"],
                      input=f"{PASSWORD}\n{PASSWORD}\n", env=env)  # prompted twice
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["users", "list"], env=env)
    assert "op@example.fr" in r.output and "operator" in r.output and "p@example.fr" in r.output
    assert secret not in r.output
    r = runner.invoke(cli, ["users", "disable", "--email", "p@example.fr"], env=env)
    assert r.exit_code == 0 and "disabled p@example.fr" in r.output
    assert "disabled" in runner.invoke(cli, ["users", "list"], env=env).output
    r = runner.invoke(cli, ["users", "create", "--email", "x@example.fr", "--role", "operator", "--password-stdin"],
                      input="short\n", env=env)
    assert r.exit_code == 2 and "at least 12 characters" in r.output
    r = runner.invoke(cli, ["users", "create", "--email", "x@example.fr", "--role", "admin", "--password-stdin"],
                      input=PASSWORD + "\n", env=env)
    assert r.exit_code == 2
