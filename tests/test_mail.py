"""Mail: the outbox and its delivery against a real SMTP server on loopback (aiosmtpd), on SQLite and PostgreSQL;
development .eml files; retention; delivery by a real `gdpr-assistant worker` on Redis."""

import logging
import os
import re
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from assistant.container import build_retention, build_services
from assistant.db import utcnow
from assistant.errors import InputError, MailError
from assistant.jobs import JobQueue
from assistant.mail import Email
from assistant.mail.models import OutboxMessage
from assistant.mail.outbox import MAX_ATTEMPTS

from conftest import SmtpSink

BIN = Path(sys.executable).parent
UNSUBSCRIBE = {"List-Unsubscribe": "<https://assistant.example.fr/u/abc>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def letter(**kw) -> Email:
    values = {"to": "marie.curie@example.org", "subject": "Votre demande / Your request",
              "text": "Bonjour,\nvoici le lien.", "html": "<p>Bonjour,<br>voici le <a href='https://x.fr'>lien</a>.</p>",
              "category": "matching.lead"}
    return Email(**{**values, **kw})


class HeldQueue(JobQueue):
    """A job queue that only remembers what was queued (to drive delivery by hand)."""

    backend = "held"

    def __init__(self):
        super().__init__()
        self.queued = []

    def enqueue(self, name, **kwargs):
        self.queued.append((name, kwargs))
        return str(len(self.queued))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    return "" if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def make_services(settings):
    built = []

    def make(jobs=None, **changes):
        services = build_services(settings.with_(**changes), engine=False, **({"jobs": jobs} if jobs else {}))
        services.database.upgrade()
        built.append(services)
        return services

    yield make
    for services in built:
        services.close()


def row(services, outbox_id) -> OutboxMessage:
    with services.database.reading() as s:
        return s.get(OutboxMessage, outbox_id)


# -- delivery -------------------------------------------------------------------------------------
def test_queued_message_is_delivered_with_both_parts(make_services, smtp_sink, db_url):
    services = make_services(smtp_url=smtp_sink.url, database_url=db_url, mail_from="Assistant RGPD <rgpd@example.fr>")
    outbox_id = services.mailer.queue(letter(headers=UNSUBSCRIBE, category="newsletter.issue"))
    (msg,) = smtp_sink.messages
    assert smtp_sink.envelopes == [("rgpd@example.fr", ["marie.curie@example.org"])]
    assert msg["From"] == "Assistant RGPD <rgpd@example.fr>" and msg["To"] == "marie.curie@example.org"
    assert msg["Subject"] == "Votre demande / Your request" and msg["Date"]
    assert msg["List-Unsubscribe"] == UNSUBSCRIBE["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == "Bonjour,\nvoici le lien."
    assert "<a href='https://x.fr'>lien</a>" in msg.get_body(("html",)).get_content()
    stored = row(services, outbox_id)
    assert msg["Message-ID"] == stored.message_id and stored.message_id.endswith("@example.fr>")
    assert (stored.status, stored.attempts, stored.category) == ("sent", 1, "newsletter.issue")
    assert stored.sent_at is not None and stored.last_error is None
    assert "marie.curie" not in stored.recipient  # encrypted at rest
    assert services.cipher.decrypt(stored.recipient) == "marie.curie@example.org"
    assert stored.recipient_hash == services.hasher.email_digest("Marie.Curie@example.org ")
    assert services.mailer.deliver(outbox_id) is False and len(smtp_sink.messages) == 1  # never twice


def test_text_only_message_is_one_part(make_services, smtp_sink):
    services = make_services(smtp_url=smtp_sink.url)
    services.mailer.queue(letter(html=None))
    (msg,) = smtp_sink.messages
    assert msg.get_content_type() == "text/plain" and msg["From"] == "GDPR Assistant <no-reply@localhost>"


def test_queue_joins_the_callers_transaction(make_services, smtp_sink, db_url):
    services = make_services(smtp_url=smtp_sink.url, database_url=db_url)
    with pytest.raises(RuntimeError):
        with services.database.transaction() as s:
            services.mailer.queue(letter(), session=s)
            raise RuntimeError("the lead could not be stored")
    with services.database.reading() as s:
        assert s.scalars(select(OutboxMessage)).all() == []  # nothing half-written
    assert smtp_sink.messages == []
    with services.database.transaction() as s:
        outbox_id = services.mailer.queue(letter(), session=s)
        assert smtp_sink.messages == []  # not before the commit
    assert len(smtp_sink.messages) == 1 and row(services, outbox_id).status == "sent"


def test_retries_while_the_relay_is_down_then_sends_once(make_services, smtp_sink, db_url):
    services = make_services(smtp_url=smtp_sink.url, database_url=db_url)
    smtp_sink.stop()
    outbox_id = services.mailer.queue(letter())
    first = row(services, outbox_id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "cannot reach the SMTP relay 127.0.0.1" in first.last_error and "marie.curie" not in first.last_error
    assert first.next_attempt_at > utcnow()
    assert services.mailer.deliver_pending() == 0  # not due yet: no second attempt
    assert row(services, outbox_id).attempts == 1
    smtp_sink.start()
    assert services.mailer.deliver_pending(now=first.next_attempt_at) == 1
    sent = row(services, outbox_id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, None)
    assert services.mailer.deliver_pending(now=first.next_attempt_at + timedelta(hours=1)) == 0
    assert services.mailer.deliver(outbox_id) is False
    assert len(smtp_sink.messages) == 1 and smtp_sink.messages[0]["Message-ID"] == sent.message_id


def test_gives_up_after_the_last_attempt(make_services, smtp_sink, caplog):
    services = make_services(smtp_url=smtp_sink.url)
    smtp_sink.stop()
    outbox_id = services.mailer.queue(letter())
    later = utcnow()
    with caplog.at_level(logging.WARNING, logger="assistant.mail"):
        for _ in range(MAX_ATTEMPTS + 2):
            later += timedelta(hours=1)
            services.mailer.deliver_pending(now=later)
    failed = row(services, outbox_id)
    assert (failed.status, failed.attempts) == ("failed", MAX_ATTEMPTS)
    assert "given up" in caplog.text and "marie.curie" not in caplog.text
    smtp_sink.start()
    assert services.mailer.deliver_pending(now=later + timedelta(days=1)) == 0 and smtp_sink.messages == []


class RefusingSink(SmtpSink):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such mailbox"


def test_permanent_refusal_is_not_retried(make_services):
    sink = RefusingSink()
    sink.start()
    try:
        services = make_services(smtp_url=sink.url)
        outbox_id = services.mailer.queue(letter())
        failed = row(services, outbox_id)
        assert (failed.status, failed.attempts) == ("failed", 1)
        assert "refused the recipient (SMTP 550)" in failed.last_error
        assert services.mailer.deliver_pending(now=utcnow() + timedelta(days=1)) == 0
    finally:
        sink.stop()
    assert sink.messages == []


def test_concurrent_deliveries_send_once(make_services, smtp_sink, db_url):
    held = HeldQueue()
    services = make_services(jobs=held, smtp_url=smtp_sink.url, database_url=db_url)
    outbox_id = services.mailer.queue(letter())
    assert held.queued == [("mail.deliver", {"outbox_id": outbox_id})] and smtp_sink.messages == []
    results, start = [], threading.Barrier(4)

    def deliver():
        start.wait()
        results.append(services.mailer.deliver(outbox_id))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True] and len(smtp_sink.messages) == 1


def test_login_to_the_relay():
    sink = SmtpSink(login=("relay-user", "s3cret"))
    sink.start()
    try:
        services = build_services(_settings(sink.url), engine=False)
        services.database.upgrade()
        assert services.mailer.send_direct(letter()) == sink.messages[0]["Message-ID"]
        wrong = build_services(_settings(sink.url.replace("s3cret", "wrong")), engine=False)
        with pytest.raises(MailError, match=r"refused the login \(SMTP 535\): check the user and password in SMTP_URL"):
            wrong.mailer.send_direct(letter())
        assert "s3cret" not in repr(services.settings)
    finally:
        sink.stop()
    assert len(sink.messages) == 1


def self_signed(tmp_path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, as files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "relay.pem", tmp_path / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.mark.parametrize("tls", ["starttls", "smtps"])
def test_tls_to_the_relay(tmp_path, monkeypatch, tls):
    """smtps:// and ?starttls=1 speak TLS and check the relay's certificate (trusted here through SSL_CERT_FILE)."""
    cert = self_signed(tmp_path)
    sink = SmtpSink(login=("relay-user", "s3cret"), tls=tls, cert=cert)
    sink.start()
    try:
        services = build_services(_settings(sink.url), engine=False)
        with pytest.raises(MailError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            services.mailer.send_direct(letter())  # an unknown certificate is refused
        monkeypatch.setenv("SSL_CERT_FILE", cert[0])
        message_id = services.mailer.send_direct(letter())
        plain = build_services(_settings(sink.url.replace("smtps://", "smtp://").replace("?starttls=1", "")),
                               engine=False)
        if tls == "starttls":  # the relay requires STARTTLS: a plain session is refused, permanently
            with pytest.raises(MailError) as e:
                plain.mailer.send_direct(letter())
            assert e.value.permanent and "530" in e.value.message
    finally:
        sink.stop()
    assert [m["Message-ID"] for m in sink.messages] == [message_id]


def _settings(smtp_url):
    import tempfile

    from conftest import make_settings

    return make_settings(Path(tempfile.mkdtemp(prefix="mail-")) / "data", smtp_url=smtp_url)


def test_send_direct(make_services, smtp_sink):
    services = make_services(smtp_url=smtp_sink.url)
    message_id = services.mailer.send_direct(letter(headers=UNSUBSCRIBE))
    (msg,) = smtp_sink.messages
    assert msg["Message-ID"] == message_id and msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with services.database.reading() as s:
        assert s.scalars(select(OutboxMessage)).all() == []  # no outbox row
    smtp_sink.stop()
    with pytest.raises(MailError, match="cannot reach the SMTP relay"):
        services.mailer.send_direct(letter())


def test_development_writes_eml_files(make_services, settings, caplog):
    services = make_services()  # no SMTP_URL
    with caplog.at_level(logging.INFO, logger="assistant.mail"):
        outbox_id = services.mailer.queue(letter(headers=UNSUBSCRIBE))
    (path,) = (settings.data_dir / "mail").glob("*.eml")
    assert str(path) in caplog.text and "marie.curie" not in caplog.text
    import email
    import email.policy

    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "marie.curie@example.org" and msg["Message-ID"] == row(services, outbox_id).message_id
    assert msg.get_body(("html",)) is not None and path.stat().st_mode & 0o077 == 0
    assert row(services, outbox_id).status == "sent"


def test_development_defaults_deliver_from_the_worker_thread(make_services, settings):
    """What `make run` does: the thread backend and no SMTP_URL."""
    services = make_services(jobs_backend="thread")
    outbox_id = services.mailer.queue(letter())
    assert services.jobs.backend == "thread" and services.jobs.wait_idle()
    assert row(services, outbox_id).status == "sent" and len(list((settings.data_dir / "mail").glob("*.eml"))) == 1


@pytest.mark.parametrize("kw,message", [
    ({"to": "not an address"}, "is not one e-mail address"),
    ({"to": "a@b.fr, c@d.fr"}, "is not one e-mail address"),
    ({"to": "Marie <marie@example.org>"}, "give the bare address"),
    ({"subject": "hi\r\nBcc: everyone@example.org"}, "a subject on one line"),
    ({"subject": " "}, "a subject on one line"),
    ({"text": ""}, "a plain-text body"),
    ({"headers": {"Bcc": "x@y.fr"}}, "header Bcc is written by the mailer"),
    ({"headers": {"X-Tag": "a\nBcc: x@y.fr"}}, "header X-Tag must be one line"),
    ({"headers": {"Bad Name": "x"}}, "is not a header name"),
    ({"category": ""}, "category is a short name"),
])
def test_bad_emails_are_refused(kw, message):
    with pytest.raises(InputError, match=message) as e:
        letter(**kw)
    assert e.value.http_status == 422


# -- retention and key rotation --------------------------------------------------------------------
def test_retention_removes_old_messages(make_services, smtp_sink, db_url):
    services = make_services(smtp_url=smtp_sink.url, database_url=db_url)
    recent, old_sent = services.mailer.queue(letter()), services.mailer.queue(letter())
    smtp_sink.stop()
    old_failed = services.mailer.queue(letter())
    with services.database.transaction() as s:
        s.get(OutboxMessage, old_sent).sent_at = utcnow() - timedelta(days=31)
        s.get(OutboxMessage, old_failed).created_at = utcnow() - timedelta(days=31)
    results = {r.rule.name: r for r in build_retention(services.settings).purge(services.database)}
    assert results["mail.outbox"].removed == 2 and results["mail.outbox"].error is None
    with services.database.reading() as s:
        assert list(s.scalars(select(OutboxMessage.id))) == [recent]


def test_keys_rotate_covers_the_outbox(make_services, smtp_sink, runner, settings):
    from cryptography.fernet import Fernet

    from assistant.cli import cli
    from assistant.config import Secret
    from assistant.privacy.crypto import FieldCipher

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    services = make_services(smtp_url=smtp_sink.url, field_keys=(Secret(old),))
    outbox_id = services.mailer.queue(letter())
    result = runner.invoke(cli, ["keys", "rotate"], env={"ASSISTANT_DATA_DIR": str(settings.data_dir),
                                                        "FIELD_KEYS": f"{new},{old}"})
    assert result.exit_code == 0 and re.search(r"^mail_outbox\.recipient +re-encrypted +1$", result.output, re.M)
    assert FieldCipher([Secret(new)]).decrypt(row(services, outbox_id).recipient) == "marie.curie@example.org"


# -- the real worker on Redis ---------------------------------------------------------------------
def test_worker_process_delivers_from_redis(make_services, smtp_sink, redis_url, settings):
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    services = make_services(smtp_url=smtp_sink.url, jobs_backend="rq", redis_url=redis_url, jobs_queue=queue_name)
    try:
        outbox_id = services.mailer.queue(letter())
        assert row(services, outbox_id).status == "pending" and smtp_sink.messages == []  # waits for the worker
        env = {**os.environ, "ASSISTANT_DATA_DIR": str(settings.data_dir), "JOBS_BACKEND": "rq",
               "REDIS_URL": redis_url, "JOBS_QUEUE": queue_name, "SMTP_URL": smtp_sink.url}
        done = subprocess.run([str(BIN / "gdpr-assistant"), "worker", "--burst"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"worker on queue '{queue_name}'" in done.stderr and "mail.deliver_pending" in done.stderr
        (msg,) = smtp_sink.messages
        assert msg["Message-ID"] == row(services, outbox_id).message_id and row(services, outbox_id).status == "sent"
        assert "marie.curie" not in done.stderr  # the worker's log never names the recipient
    finally:
        services.jobs.queue.delete(delete_jobs=True)
        for key in services.jobs.redis.scan_iter(f"{queue_name}:*"):
            services.jobs.redis.delete(key)
