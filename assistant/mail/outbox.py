"""The Mailer (``services.mailer``): queue e-mails in the outbox, deliver them with retries, or send at once.

    mailer.queue(Email(to, subject, text, html, category="matching.lead"), session=s)  # in your transaction
    mailer.send_direct(Email(...))   # now, no outbox row (bulk senders that keep their own records)

``queue`` stores the message (recipient encrypted, with its keyed hash) in the caller's transaction,
and once that commits, queues the ``mail.deliver`` job. ``deliver`` claims the row (one deliverer
wins), sends it, and marks it ``sent``; a temporary failure puts it back to ``pending`` with a
backoff (1, 2, 4, 8 minutes) until ``MAX_ATTEMPTS``, a permanent one (5xx) marks it ``failed`` at
once. ``deliver_pending`` (a periodic job, every minute) sends what is due, including messages
whose job was never queued (Redis down) and those left ``sending`` by a crash (after
``STALE_SENDING``: they are sent again with the same Message-ID, so receivers can tell).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from ..config import Settings
from ..db import Database, utcnow
from ..errors import InputError, JobError, MailError
from ..privacy.crypto import FieldCipher, KeyedHasher
from .models import OutboxMessage
from .smtp import FileTransport, SmtpTransport, Transport, build_message, check_headers, new_message_id

log = logging.getLogger("assistant.mail")
MAX_ATTEMPTS = 5
STALE_SENDING = timedelta(minutes=15)


def backoff(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: 1, 2, 4, 8... minutes."""
    return timedelta(minutes=2 ** max(attempts - 1, 0))


@dataclass
class Email:
    """One e-mail to one recipient: plain text always, HTML as an alternative when given."""

    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    category: str = "transactional"

    def __post_init__(self):
        from email.utils import parseaddr

        name, address = parseaddr(self.to or "")
        local, _, domain = address.partition("@")
        if not local or "." not in domain or address != (self.to or "").strip() or len(address) > 254:
            raise InputError(f"{self.to!r} is not one e-mail address (give the bare address, e.g. jo@example.fr)",
                             code="invalid_email", http_status=422)
        self.to = address
        if not isinstance(self.subject, str) or not self.subject.strip() or "\n" in self.subject \
                or "\r" in self.subject:
            raise InputError("an e-mail needs a subject on one line", code="invalid_email", http_status=422)
        if not isinstance(self.text, str) or not self.text.strip():
            raise InputError("an e-mail needs a plain-text body", code="invalid_email", http_status=422)
        if not self.category or len(self.category) > 64:
            raise InputError("an e-mail's category is a short name like 'matching.lead'", code="invalid_email",
                             http_status=422)
        try:
            check_headers(self.headers)
        except ValueError as e:
            raise InputError(str(e), code="invalid_email", http_status=422) from None


class Mailer:
    """Outbox and delivery over one database, cipher, hasher, job queue and transport; shared by threads."""

    def __init__(self, settings: Settings, database: Database, cipher: FieldCipher, hasher: KeyedHasher, jobs,
                 transport: Transport | None = None):
        self.settings = settings
        self.database = database
        self.cipher = cipher
        self.hasher = hasher
        self.jobs = jobs
        if transport is None:
            smtp = settings.smtp
            transport = SmtpTransport(smtp) if smtp is not None else FileTransport(settings.mail_dir)
        self.transport = transport

    # -- queueing ---------------------------------------------------------------------------------
    def queue(self, email: Email, session: Session | None = None) -> int:
        """Store ``email`` in the outbox (in ``session``'s transaction when given); deliver once committed."""
        row = OutboxMessage(category=email.category, recipient=self.cipher.encrypt(email.to),
                            recipient_hash=self.hasher.email_digest(email.to), subject=email.subject,
                            text=email.text, html=email.html, headers=dict(email.headers), status="pending",
                            attempts=0, created_at=utcnow(), message_id=new_message_id(self.settings.mail_from))
        if session is None:
            with self.database.transaction() as own:
                own.add(row)
                own.flush()
            self._enqueue(row.id)
        else:
            session.add(row)
            session.flush()  # the id, now; the job only once the caller's transaction commits
            outbox_id = row.id
            event.listen(session, "after_commit", lambda _s: self._enqueue(outbox_id), once=True)
        return row.id

    def _enqueue(self, outbox_id: int) -> None:
        try:
            self.jobs.enqueue("mail.deliver", outbox_id=outbox_id)
        except JobError as e:  # the periodic deliver_pending sends it later
            log.warning("outbox message %s stays pending: %s", outbox_id, e.message)

    # -- delivery ---------------------------------------------------------------------------------
    def deliver(self, outbox_id: int, now: datetime | None = None) -> bool:
        """Send one outbox message if it is pending and due; True when sent now. Never sends a message twice."""
        now = now or utcnow()
        with self.database.transaction() as s:
            claimed = s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == outbox_id, OutboxMessage.status == "pending",
                       or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
                .values(status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1)).rowcount
            row = s.get(OutboxMessage, outbox_id) if claimed else None
        if row is None:
            return False  # sent already, being sent, not due, or gone
        try:
            msg = build_message(self.settings.mail_from, self.cipher.decrypt(row.recipient), row.subject, row.text,
                                row.html, row.headers or {}, row.message_id)
            self.transport.send(msg)
        except MailError as e:
            final = e.permanent or row.attempts >= MAX_ATTEMPTS
            values = {"status": "failed" if final else "pending", "last_error": e.message[:1000],
                      "next_attempt_at": None if final else now + backoff(row.attempts)}
            log.log(logging.ERROR if final else logging.WARNING, "outbox message %s (%s), attempt %s: %s%s",
                    row.id, row.category, row.attempts, e.message, "; given up" if final else "; will retry")
            self._finish(row.id, values)
            return False
        except Exception as e:  # a message that cannot be built (e.g. a key gone): not worth retrying
            self._finish(row.id, {"status": "failed", "last_error": f"{type(e).__name__}: {e}"[:1000]})
            raise
        self._finish(row.id, {"status": "sent", "sent_at": utcnow(), "last_error": None, "next_attempt_at": None})
        return True

    def deliver_pending(self, limit: int = 100, now: datetime | None = None) -> int:
        """Send up to ``limit`` pending messages that are due (and those stuck in `sending`); how many were sent."""
        now = now or utcnow()
        with self.database.transaction() as s:
            s.execute(update(OutboxMessage)
                      .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at <= now - STALE_SENDING)
                      .values(status="pending"))
            ids = list(s.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending",
                       or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
                .order_by(OutboxMessage.id).limit(limit)))
        return sum(self.deliver(i, now=now) for i in ids)

    def send_direct(self, email: Email) -> str:
        """Send now, without an outbox row; returns the Message-ID. MailError when the relay refuses or is down."""
        message_id = new_message_id(self.settings.mail_from)
        self.transport.send(build_message(self.settings.mail_from, email.to, email.subject, email.text, email.html,
                                          email.headers, message_id))
        return message_id

    def _finish(self, outbox_id: int, values: dict) -> None:
        with self.database.transaction() as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(**values))
