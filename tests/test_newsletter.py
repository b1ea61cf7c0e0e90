"""The newsletter end to end over the web app, a real SMTP server on loopback (aiosmtpd) and the database
(SQLite, and PostgreSQL with the same tests): double opt-in, consent proof, no enumeration, one-click
unsubscribe (RFC 8058), suppression, rights, bounces, retention with a frozen clock, restartable sending,
the operator's pages."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select, update

from assistant.accounts import credentials
from assistant.db import utcnow
from assistant.errors import InputError
from assistant.newsletter.models import Issue, Send, Subscriber, SubscriberToken, Suppression
from assistant.newsletter.service import FORM_VERSION, consent_hash
from assistant.web import SERVICES_KEY

PASSWORD = "correct horse battery staple"
ALICE = "alice.martin@example.fr"
SENT = "If this address can receive our newsletter"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """Each test on SQLite and on PostgreSQL."""
    return "" if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def app(make_app, smtp_sink, db_url):
    return make_app(smtp_url=smtp_sink.url, jobs_backend="inline", database_url=db_url,
                    public_origin="https://assistant.example.fr", newsletter_rate_limit="1000/minute")


def services_of(app):
    return app.extensions[SERVICES_KEY]


def nl(app):
    return services_of(app).newsletter


def rows(app, model, *where):
    with services_of(app).database.reading() as s:
        return list(s.scalars(select(model).where(*where)))


def count(app, model, *where):
    with services_of(app).database.reading() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def csrf(html: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


def body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body(preferencelist=(kind.split("/")[1],))
    assert part is not None, f"no {kind} part"
    return part.get_content()


def link(msg: EmailMessage, path: str) -> str:
    """The link to ``path`` in the text part (the same must be in the HTML part)."""
    url = re.search(rf"https://assistant\.example\.fr{re.escape(path)}[^\s<>\"]+", body(msg, "text/plain")).group(0)
    assert f'href="{url}"' in body(msg, "text/html")
    return url


def relative(url: str) -> str:
    return url.removeprefix("https://assistant.example.fr")


def to_of(msg) -> str:
    return msg["To"]


def signup(client, email=ALICE, lang="en", consent=True, topics=(), source="newsletter"):
    page = client.get(f"/newsletter?lang={lang}")
    data = {"csrf_token": csrf(page.get_data(True)), "email": email, "language": lang, "source": source,
            "topics": list(topics)}
    if consent:
        data["consent"] = "yes"
    return client.post("/newsletter", data=data)


def confirm(client, sink, email=ALICE):
    msg = [m for m in sink.messages if to_of(m) == email][-1]
    url = relative(link(msg, "/newsletter/confirm/"))
    page = client.get(url)
    return client.post(url, data={"csrf_token": csrf(page.get_data(True))})


def subscribed(app, client, sink, email=ALICE, **kw):
    assert signup(client, email, **kw).status_code == 200
    assert confirm(client, sink, email).status_code == 200


# -- sign-up and double opt-in ----------------------------------------------------------------------

def test_signup_mails_one_confirmation_and_a_get_never_confirms(app, smtp_sink):
    client = app.test_client()
    resp = signup(client, topics=["decisions", "security"])
    assert resp.status_code == 200 and SENT in resp.get_data(True)
    assert len(smtp_sink.messages) == 1
    msg = smtp_sink.messages[0]
    assert to_of(msg) == ALICE and "Confirm your subscription" in msg["Subject"]
    assert msg["Message-ID"] and msg["Date"] and msg["From"]
    assert msg.get_content_type() == "multipart/alternative"
    url = link(msg, "/newsletter/confirm/")
    sub = rows(app, Subscriber)[0]
    assert sub.state == "pending" and sub.topics == "decisions,security" and sub.language == "en"
    # Consent proof: when, which form, the hash of the text shown, where; no IP by default.
    assert sub.form_version == FORM_VERSION and sub.consent_text_sha256 == consent_hash("en")
    assert sub.source_page == "newsletter" and sub.ip is None and sub.created_at and sub.confirmed_at is None
    # A mail scanner opening the link: a page with a button, nothing confirmed.
    for _ in range(2):
        page = client.get(relative(url))
        assert page.status_code == 200 and "Confirm my subscription" in page.get_data(True)
    assert rows(app, Subscriber)[0].state == "pending"
    resp = client.post(relative(url), data={"csrf_token": csrf(page.get_data(True))})
    assert resp.status_code == 200 and "confirmed" in resp.get_data(True)
    sub = rows(app, Subscriber)[0]
    assert sub.state == "confirmed" and sub.confirmed_at >= sub.created_at
    # The token worked once.
    again = client.post(relative(url), data={"csrf_token": csrf(page.get_data(True))})
    assert again.status_code == 404 and "not valid or has expired" in again.get_data(True)
    assert client.get(relative(url)).status_code == 404


def test_french_signup_gets_french_mail_and_the_french_consent_hash(app, smtp_sink):
    client = app.test_client()
    signup(client, lang="fr")
    msg = smtp_sink.messages[0]
    assert "Confirmez" in msg["Subject"] and "Pour confirmer" in body(msg, "text/plain")
    assert rows(app, Subscriber)[0].consent_text_sha256 == consent_hash("fr")


def test_ip_is_stored_only_when_the_operator_turns_it_on(make_app, smtp_sink):
    app = make_app(smtp_url=smtp_sink.url, jobs_backend="inline", newsletter_store_ip=1)
    signup(app.test_client())
    assert rows(app, Subscriber)[0].ip == "127.0.0.1"


@pytest.mark.parametrize("email, consent, topics, message", [
    ("not-an-address", True, (), "This e-mail address is not valid"),
    ("", True, (), "Enter your e-mail address"),
    ("alice@example.fr\r\nBcc: eve@example.fr", True, (), "This e-mail address is not valid"),
    (ALICE, False, (), "Tick the consent box"),
    (ALICE, True, ("bitcoin",), "Choose topics from the list"),
])
def test_bad_signups_get_a_clear_message_and_nothing_is_written(app, smtp_sink, email, consent, topics, message):
    resp = signup(app.test_client(), email, consent=consent, topics=topics)
    assert resp.status_code == 422 and message in resp.get_data(True)
    assert count(app, Subscriber) == 0 and smtp_sink.messages == []


def test_repeated_signups_make_no_duplicate_and_no_second_mail_within_the_cooldown(app, smtp_sink):
    client = app.test_client()
    for _ in range(3):
        assert SENT in signup(client, ALICE.upper()).get_data(True)  # the same address, any case
    assert count(app, Subscriber) == 1 and len(smtp_sink.messages) == 1
    # After the cooldown a new link replaces the old one.
    later = utcnow() + timedelta(minutes=61)
    nl(app).signup(ALICE, consent=True, language="en", now=later)
    assert count(app, Subscriber) == 1 and len(smtp_sink.messages) == 2
    first, second = (relative(link(m, "/newsletter/confirm/")) for m in smtp_sink.messages)
    assert client.get(first).status_code == 404 and client.get(second).status_code == 200


def test_every_signup_answers_the_same_whatever_the_address_state(app, smtp_sink):
    client = app.test_client()
    subscribed(app, client, smtp_sink, "confirmed@example.fr")
    signup(client, "pending@example.fr")
    nl(app).record_delivery_problems([("bounced@example.fr", "bounce")])
    answers = set()
    for email in ("new@example.fr", "pending@example.fr", "confirmed@example.fr", "bounced@example.fr"):
        resp = signup(client, email)
        text = re.sub(r'value="[^"]+"', "", resp.get_data(True))  # CSRF tokens differ
        answers.add((resp.status_code, re.search(r'id="nl-form-notice"[^>]*>([^<]*)<', text).group(1)))
    assert len(answers) == 1
    mailed = [to_of(m) for m in smtp_sink.messages]
    assert mailed.count("confirmed@example.fr") == 1  # only its own confirmation, nothing new
    assert "bounced@example.fr" not in mailed and mailed.count("new@example.fr") == 1


def test_the_json_signup_of_the_chat_page_and_widget(app, smtp_sink):
    client = app.test_client()
    html = client.get("/embed?lang=fr").get_data(True)
    assert 'class="form newsletter-form"' in html and 'name="source" value="widget"' in html
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)
    browser = {"Sec-Fetch-Site": "same-origin", "Origin": "https://assistant.example.fr", "X-CSRF-Token": token}
    resp = client.post("/api/newsletter", json={"email": ALICE, "consent": True, "language": "fr", "source": "widget",
                                                "topics": ["faq"]}, headers=browser)
    assert resp.status_code == 200 and resp.get_json()["status"] == "sent"
    sub = rows(app, Subscriber)[0]
    assert (sub.source_page, sub.language, sub.topics) == ("widget", "fr", "faq")
    bad = client.post("/api/newsletter", json={"email": "nope", "consent": True}, headers=browser)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_email"
    no_consent = client.post("/api/newsletter", json={"email": "b@example.fr"}, headers=browser)
    assert no_consent.get_json()["error"]["code"] == "consent_required"
    forged = client.post("/api/newsletter", json={"email": "c@example.fr", "consent": True},
                         headers={**browser, "X-CSRF-Token": "forged"})
    assert forged.status_code == 400 and count(app, Subscriber) == 1
    assert 'name="source" value="chat"' in client.get("/").get_data(True)


def test_expired_confirmation_links_are_refused(app, smtp_sink):
    client = app.test_client()
    signup(client)
    token = link(smtp_sink.messages[0], "/newsletter/confirm/").rsplit("/", 1)[1]
    with pytest.raises(InputError, match="not valid or has expired"):
        nl(app).confirm(token, now=utcnow() + timedelta(days=7, minutes=1))
    with pytest.raises(InputError):
        nl(app).confirm("made-up-token")
    assert rows(app, Subscriber)[0].state == "pending"


# -- sending, one-click unsubscribe, suppression -----------------------------------------------------

def send_issue(app, subject="GDPR news", text="# Hello\n\nThe **CNIL** fined someone.", language="en", topics=()):
    issue_id = nl(app).create_issue(subject, text, language, topics)
    nl(app).start_sending(issue_id)  # inline jobs: prepared and sent before this returns
    return issue_id


def test_an_issue_reaches_the_matching_subscribers_with_both_parts_and_the_rfc8058_headers(app, smtp_sink):
    client = app.test_client()
    subscribed(app, client, smtp_sink, "all@example.fr")
    subscribed(app, client, smtp_sink, "security@example.fr", topics=["security"])
    subscribed(app, client, smtp_sink, "hr@example.fr", topics=["employment"])
    subscribed(app, client, smtp_sink, "french@example.fr", lang="fr")
    signup(client, "pending@example.fr")
    smtp_sink.messages.clear()
    issue_id = send_issue(app, topics=["security"])
    got = {to_of(m): m for m in smtp_sink.messages}
    assert set(got) == {"all@example.fr", "security@example.fr"}  # language and topics match; confirmed only
    msg = got["security@example.fr"]
    assert msg["Subject"] == "GDPR news"
    unsub = re.fullmatch(r"<(https://assistant\.example\.fr/newsletter/unsubscribe/[^>]+)>",
                         msg["List-Unsubscribe"]).group(1)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "The **CNIL** fined someone." in body(msg, "text/plain") and unsub in body(msg, "text/plain")
    assert "<strong>CNIL</strong>" in body(msg, "text/html") and f'href="{unsub}"' in body(msg, "text/html")
    assert unsub != re.search(r"<([^>]+)>", got["all@example.fr"]["List-Unsubscribe"]).group(1)  # per subscriber
    issue = rows(app, Issue)[0]
    assert issue.status == "sent" and issue.finished_at
    assert {s.status for s in rows(app, Send, Send.issue_id == issue_id)} == {"sent"}
    assert count(app, Send) == 2
    with pytest.raises(InputError, match="never sent twice"):
        nl(app).start_sending(issue_id)
    assert len(smtp_sink.messages) == 2


def test_one_click_unsubscribe_needs_no_session_and_keeps_only_a_keyed_hash(app, smtp_sink):
    client = app.test_client()
    subscribed(app, client, smtp_sink)
    smtp_sink.messages.clear()
    send_issue(app)
    unsub = re.search(r"<([^>]+)>", smtp_sink.messages[0]["List-Unsubscribe"]).group(1)
    provider = app.test_client()  # a mail provider: no cookie, no CSRF token
    resp = provider.post(relative(unsub), data={"List-Unsubscribe": "One-Click"})
    assert resp.status_code == 200
    sub = rows(app, Subscriber)[0]
    assert sub.state == "unsubscribed" and sub.email_encrypted is None and sub.email_hash is None
    supp = rows(app, Suppression)
    assert len(supp) == 1 and supp[0].reason == "unsubscribed"
    assert supp[0].email_hash == services_of(app).hasher.email_digest(ALICE)
    assert nl(app).is_suppressed(ALICE)
    assert provider.post(relative(unsub), data={"List-Unsubscribe": "One-Click"}).status_code == 200  # idempotent
    # The visible link: a page with a button.
    page = client.get(relative(unsub))
    assert page.status_code == 200 and "Unsubscribe" in page.get_data(True)
    smtp_sink.messages.clear()
    send_issue(app, subject="Second")
    assert smtp_sink.messages == []


def test_forged_unsubscribe_links_are_refused_and_change_nothing(app, smtp_sink):
    client = app.test_client()
    subscribed(app, client, smtp_sink)
    public_id = rows(app, Subscriber)[0].public_id
    for token in (f"{public_id}.{'0' * 32}", public_id, "x.y", f"{'a' * 40}.{'b' * 32}"):
        resp = client.post(f"/newsletter/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert resp.status_code == 404, token
        page = client.get(f"/newsletter/unsubscribe/{token}?lang=en")
        assert page.status_code == 404 and "not valid" in page.get_data(True) and "<form" not in page.get_data(True)
    assert rows(app, Subscriber)[0].state == "confirmed" and count(app, Suppression) == 0


def test_an_unsubscribed_address_can_come_back_only_through_double_opt_in(app, smtp_sink):
    client = app.test_client()
    subscribed(app, client, smtp_sink)
    nl(app).unsubscribe(nl(app).unsubscribe_token(rows(app, Subscriber)[0].public_id))
    smtp_sink.messages.clear()
    assert SENT in signup(client).get_data(True)
    assert len(smtp_sink.messages) == 1 and nl(app).is_suppressed(ALICE)  # still suppressed until confirmed
    assert confirm(client, smtp_sink).status_code == 200
    assert not nl(app).is_suppressed(ALICE)
    assert count(app, Subscriber, Subscriber.state == "confirmed") == 1


def test_bounces_and_complaints_end_the_subscription_and_bad_reports_change_nothing(app, smtp_sink):
    client = app.test_client()
    subscribed(app, client, smtp_sink, "b@example.fr")
    subscribed(app, client, smtp_sink, "c@example.fr")
    with pytest.raises(InputError, match="line 2"):
        nl(app).record_delivery_problems([("b@example.fr", "bounce"), ("c@example.fr", "spam")])
    assert count(app, Subscriber, Subscriber.state == "confirmed") == 2
    counts = nl(app).record_delivery_problems([("b@example.fr", "bounce"), ("c@example.fr", "complaint"),
                                               ("stranger@example.fr", "bounce")])
    assert counts == {"bounced": 1, "complained": 1, "unknown": 1}
    assert {s.state for s in rows(app, Subscriber)} == {"bounced", "complained"}
    assert count(app, Suppression) == 3
    smtp_sink.messages.clear()
    signup(client, "c@example.fr")
    assert smtp_sink.messages == []  # a complaint is final


# -- rights -------------------------------------------------------------------------------------------

def test_rights_link_shows_exports_and_erases(app, smtp_sink):
    client = app.test_client()
    subscribed(app, client, smtp_sink, topics=["faq"])
    smtp_sink.messages.clear()
    page = client.get("/newsletter?lang=en")
    resp = client.post("/newsletter/rights", data={"csrf_token": csrf(page.get_data(True)), "email": ALICE})
    unknown = client.post("/newsletter/rights", data={"csrf_token": csrf(page.get_data(True)),
                                                      "email": "nobody@example.fr"})
    assert resp.get_data(True).count("If this address is subscribed") == 1
    assert "If this address is subscribed" in unknown.get_data(True)  # the same answer
    assert [to_of(m) for m in smtp_sink.messages] == [ALICE]
    url = relative(link(smtp_sink.messages[0], "/newsletter/rights/"))
    view = client.get(url)
    html = view.get_data(True)
    assert view.status_code == 200 and ALICE in html and consent_hash("en") in html and FORM_VERSION in html
    export = client.post(url + "/export", data={"csrf_token": csrf(html)})
    data = export.get_json(force=True)
    assert export.headers["Content-Disposition"].startswith("attachment")
    assert data["email"] == ALICE and data["topics"] == ["faq"] and data["state"] == "confirmed"
    erased = client.post(url + "/erase", data={"csrf_token": csrf(html)})
    assert erased.status_code == 200 and count(app, Subscriber) == 0
    assert rows(app, Suppression)[0].reason == "erased"
    assert client.get(url).status_code == 404


def test_rights_links_expire_after_an_hour(app, smtp_sink):
    client = app.test_client()
    subscribed(app, client, smtp_sink)
    nl(app).request_rights_link(ALICE)
    token = link(smtp_sink.messages[-1], "/newsletter/rights/").rsplit("/", 1)[1]
    with pytest.raises(InputError):
        nl(app).data_of(token, now=utcnow() + timedelta(minutes=61))


# -- privacy at rest ----------------------------------------------------------------------------------

def test_the_sqlite_file_holds_no_plaintext_address(make_app, smtp_sink, settings):
    app = make_app(smtp_url=smtp_sink.url, jobs_backend="inline", public_origin="https://assistant.example.fr")
    client = app.test_client()
    addresses = ["alice.plaintext@example.fr", "bob.plaintext@example.org"]
    for a in addresses:
        subscribed(app, client, smtp_sink, a)
    signup(client, "carol.plaintext@example.net")
    send_issue(app)
    services_of(app).database.dispose()  # flush the WAL into the file
    files = [p for p in settings.data_dir.glob("assistant.db*")]
    assert files
    blob = b"".join(p.read_bytes() for p in files)
    assert count(app, Subscriber) == 3
    for a in [*addresses, "carol.plaintext@example.net"]:
        for form in (a, a.upper(), a.split("@")[0]):
            assert form.encode() not in blob, form


# -- retention with a frozen clock --------------------------------------------------------------------

def purge(app, now):
    return {r.rule.name: r.removed for r in services_of(app).retention.purge(services_of(app).database, now=now)}


def test_retention_unconfirmed_tokens_and_inactive_subscribers(app, smtp_sink):
    t0 = utcnow()
    service = nl(app)
    service.signup("pending@example.fr", consent=True, language="en", now=t0)
    service.signup("active@example.fr", consent=True, language="en", now=t0)
    service.signup("silent@example.fr", consent=True, language="fr", now=t0)
    for m in smtp_sink.messages:
        if to_of(m) != "pending@example.fr":
            service.confirm(link(m, "/newsletter/confirm/").rsplit("/", 1)[1], now=t0)
    removed = purge(app, t0 + timedelta(days=6))
    assert removed["newsletter.unconfirmed"] == 0 and removed["newsletter.tokens"] == 2  # the used ones
    removed = purge(app, t0 + timedelta(days=7, seconds=1))
    assert removed["newsletter.unconfirmed"] == 1 and removed["newsletter.tokens"] == 1  # expired
    assert count(app, Subscriber) == 2 and count(app, SubscriberToken) == 0
    # Three years later: a re-permission e-mail to each, with a keep link and the one-click headers.
    smtp_sink.messages.clear()
    t3 = t0 + timedelta(days=3 * 365 + 1)
    assert service.ask_repermission(now=t0 + timedelta(days=3 * 365 - 1)) == 0
    assert service.ask_repermission(now=t3) == 2 and service.ask_repermission(now=t3) == 0  # once
    mails = {to_of(m): m for m in smtp_sink.messages}
    assert set(mails) == {"active@example.fr", "silent@example.fr"}
    assert mails["silent@example.fr"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    keep = link(mails["active@example.fr"], "/newsletter/keep/").rsplit("/", 1)[1]
    service.keep(keep, now=t3 + timedelta(days=2))
    assert purge(app, t3 + timedelta(days=29))["newsletter.inactive"] == 0
    assert purge(app, t3 + timedelta(days=30, seconds=1))["newsletter.inactive"] == 1
    left = rows(app, Subscriber)
    assert [s.state for s in left] == ["confirmed"]
    assert services_of(app).cipher.decrypt(left[0].email_encrypted) == "active@example.fr"


def test_purge_lists_the_newsletter_rules(app):
    names = [r.name for r in services_of(app).retention.rules]
    assert {"newsletter.unconfirmed", "newsletter.tokens", "newsletter.inactive", "newsletter.sends",
            "newsletter.ended"} <= set(names)
    assert names.index("newsletter.tokens") < names.index("newsletter.unconfirmed")  # children first


# -- restartable sending, retries ------------------------------------------------------------------------

def test_sends_left_by_a_killed_worker_are_sent_once_by_resume(app, smtp_sink):
    client = app.test_client()
    for i in range(6):
        subscribed(app, client, smtp_sink, f"r{i}@example.fr")
    issue_id = nl(app).create_issue("Resume", "Text", "en")
    with services_of(app).database.transaction() as s:  # what start_sending does before its job runs
        s.execute(update(Issue).where(Issue.id == issue_id).values(status="sending", send_started_at=utcnow()))
    smtp_sink.messages.clear()
    jobs = services_of(app).jobs
    real_enqueue = jobs.enqueue
    jobs.enqueue = lambda name, **kw: "dropped"  # the worker dies before running any batch
    try:
        assert nl(app).prepare_sends(issue_id) == 6
    finally:
        jobs.enqueue = real_enqueue
    assert nl(app).prepare_sends(issue_id) == 0  # the pairs are unique: never written twice
    ids = [s.id for s in rows(app, Send)]
    old = utcnow() - timedelta(hours=1)
    with services_of(app).database.transaction() as s:  # a batch claimed two rows, one was mid-SMTP
        s.execute(update(Send).where(Send.id == ids[0]).values(status="claimed", claimed_at=old, claim="dead"))
        s.execute(update(Send).where(Send.id == ids[1]).values(status="sending", claimed_at=old, claim="dead"))
    assert smtp_sink.messages == []
    nl(app).resume(now=utcnow() + timedelta(hours=1))
    recipients = [to_of(m) for m in smtp_sink.messages]
    assert sorted(recipients) == [f"r{i}@example.fr" for i in range(6)]
    assert {s.status for s in rows(app, Send)} == {"sent"} and rows(app, Issue)[0].status == "sent"
    nl(app).resume(now=utcnow() + timedelta(hours=2))
    assert len(smtp_sink.messages) == 6


def test_a_relay_that_is_down_is_retried_with_backoff_then_the_send_fails(app, smtp_sink):
    client = app.test_client()
    subscribed(app, client, smtp_sink, "a@example.fr")
    subscribed(app, client, smtp_sink, "b@example.fr")
    smtp_sink.messages.clear()
    smtp_sink.stop()  # the relay is down
    first = send_issue(app, subject="First")
    sends = rows(app, Send, Send.issue_id == first)
    assert {(s.status, s.attempts) for s in sends} == {("pending", 1)}
    assert all(s.last_error and "@" not in s.last_error for s in sends)  # the error, never the address
    assert rows(app, Issue, Issue.id == first)[0].status == "sending"
    nl(app).resume()  # not due yet (backoff): nothing tried
    assert {s.attempts for s in rows(app, Send, Send.issue_id == first)} == {1}
    smtp_sink.start()
    nl(app).resume(now=utcnow() + timedelta(minutes=5))
    assert sorted(to_of(m) for m in smtp_sink.messages) == ["a@example.fr", "b@example.fr"]
    assert rows(app, Issue, Issue.id == first)[0].status == "sent"
    # Down for good: after 5 attempts the sends are failed and the issue is finished.
    smtp_sink.stop()
    second = send_issue(app, subject="Second")
    later = utcnow()
    for _ in range(6):
        later += timedelta(hours=2)
        nl(app).resume(now=later)
    assert {(s.status, s.attempts) for s in rows(app, Send, Send.issue_id == second)} == {("failed", 5)}
    assert rows(app, Issue, Issue.id == second)[0].status == "sent"
    smtp_sink.start()


# -- the operator's pages -------------------------------------------------------------------------------

@pytest.fixture
def operator(app):
    client = app.test_client()
    user = services_of(app).accounts.create_user("op@example.fr", "operator", PASSWORD)
    page = client.get("/login?lang=en")
    client.post("/login", data={"csrf_token": csrf(page.get_data(True)), "email": user.email, "password": PASSWORD})
    page = client.get("/login/code")
    resp = client.post("/login/code", data={"csrf_token": csrf(page.get_data(True)),
                                            "code": credentials.totp_code(user.totp_secret)})
    assert resp.status_code == 302
    return client


def test_admin_pages_need_an_operator(app):
    client = app.test_client()
    for url in ("/admin/newsletter/", "/admin/newsletter/export.csv"):
        assert client.get(url).status_code == 302


def test_admin_counts_growth_export_compose_digest_and_history(app, smtp_sink, operator):
    visitor = app.test_client()
    subscribed(app, visitor, smtp_sink, "one@example.fr")
    subscribed(app, visitor, smtp_sink, "=cmd@example.fr")
    signup(visitor, "two@example.fr")
    html = operator.get("/admin/newsletter/").get_data(True)
    assert "<svg" in html and "<polyline" in html and "<script" not in html
    assert re.search(r"<td>2</td><td>0</td><td>0</td>", html) or "Confirmed" in html
    counts = nl(app).counts_by_state()
    assert counts["confirmed"] == 2 and counts["pending"] == 1
    export = operator.get("/admin/newsletter/export.csv")
    assert export.headers["Cache-Control"] == "no-store" and export.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(export.get_data(True))))
    assert sorted(r["email"] for r in table) == ["'=cmd@example.fr", "one@example.fr"]  # no formula injection
    assert all(r["consent_text_sha256"] == consent_hash("en") for r in table)
    # The digest fills the compose form; saving it makes a draft; sending it goes out.
    digest = operator.post("/admin/newsletter/digest", data={"csrf_token": csrf(html), "language": "en"})
    dhtml = digest.get_data(True)
    assert digest.status_code == 200 and "CNIL decisions" in dhtml
    bad = operator.post("/admin/newsletter/issues", data={"csrf_token": csrf(html), "subject": "", "body": "x",
                                                          "language": "en"})
    assert bad.status_code == 422 and "subject" in bad.get_data(True) and count(app, Issue) == 0
    made = operator.post("/admin/newsletter/issues", data={"csrf_token": csrf(html), "subject": "Hello",
                                                           "body": "**Hi** all", "language": "en"})
    assert made.status_code == 302
    issue_page = operator.get(made.headers["Location"])
    assert "<strong>Hi</strong>" in issue_page.get_data(True)
    smtp_sink.messages.clear()
    sent = operator.post(made.headers["Location"] + "/send", data={"csrf_token": csrf(issue_page.get_data(True))})
    assert sent.status_code == 302 and len(smtp_sink.messages) == 2
    again = operator.post(made.headers["Location"] + "/send", data={"csrf_token": csrf(issue_page.get_data(True))})
    assert again.status_code == 409 and "never sent twice" in again.get_data(True) and len(smtp_sink.messages) == 2
    history = operator.get("/admin/newsletter/").get_data(True)
    assert "Hello" in history
    bounce = operator.post("/admin/newsletter/bounces", data={"csrf_token": csrf(html),
                                                              "reports": "one@example.fr,bounce\n"})
    assert bounce.status_code == 200 and "1 bounced" in bounce.get_data(True)
    bad_report = operator.post("/admin/newsletter/bounces", data={"csrf_token": csrf(html), "reports": "x,spam\n"})
    assert bad_report.status_code == 422 and "Nothing recorded" in bad_report.get_data(True)
    assert nl(app).counts_by_state()["bounced"] == 1


def test_bounces_command_reads_reports_and_refuses_a_bad_line(make_app, smtp_sink, settings, runner):
    from assistant.cli import cli

    app = make_app(smtp_url=smtp_sink.url, jobs_backend="inline", public_origin="https://assistant.example.fr")
    subscribed(app, app.test_client(), smtp_sink, "gone@example.fr")
    env = {"ASSISTANT_DATA_DIR": str(settings.data_dir), "DATABASE_URL": "", "JOBS_BACKEND": "inline"}
    bad = runner.invoke(cli, ["newsletter", "bounces", "-"], input="gone@example.fr,bounce\nnot-an-address,bounce\n",
                        env=env)
    assert bad.exit_code != 0 and "line 2" in bad.output
    assert count(app, Subscriber, Subscriber.state == "confirmed") == 1  # nothing changed
    ok = runner.invoke(cli, ["newsletter", "bounces", "-"], input="gone@example.fr,bounce\n", env=env)
    assert ok.exit_code == 0, ok.output
    assert "recorded 1 bounce(s)" in ok.output and nl(app).counts_by_state()["bounced"] == 1


def test_a_subscriber_removed_while_an_issue_is_queued_is_skipped_and_the_issue_finishes(app, smtp_sink):
    client = app.test_client()
    subscribed(app, client, smtp_sink, "stays@example.fr")
    subscribed(app, client, smtp_sink, "leaves@example.fr")
    issue_id = nl(app).create_issue("Queued", "Text", "en")
    with services_of(app).database.transaction() as s:
        s.execute(update(Issue).where(Issue.id == issue_id).values(status="sending", send_started_at=utcnow()))
    jobs = services_of(app).jobs
    real_enqueue = jobs.enqueue
    jobs.enqueue = lambda name, **kw: "queued"  # the batches wait in the queue...
    try:
        nl(app).prepare_sends(issue_id)
    finally:
        jobs.enqueue = real_enqueue
    gone = [s for s in rows(app, Subscriber) if nl(app).cipher.decrypt(s.email_encrypted) == "leaves@example.fr"][0]
    with services_of(app).database.transaction() as s:  # ...while the inactive-subscriber rule removes one
        s.execute(Subscriber.__table__.delete().where(Subscriber.id == gone.id))
    smtp_sink.messages.clear()
    nl(app).resume(now=utcnow() + timedelta(hours=1))
    assert [to_of(m) for m in smtp_sink.messages] == ["stays@example.fr"]
    assert rows(app, Issue)[0].status == "sent" and count(app, Send) == 1
