"""The newsletter's life cycle: sign-up, double opt-in, unsubscribe, rights, re-permission, issues and sending.

Privacy by construction:
- the address is only stored encrypted (``cipher``) and looked up by its keyed hash (``hasher``);
- a sign-up answers the same whatever the address's state (new, pending, confirmed, suppressed), and
  sends at most one e-mail per address within NEWSLETTER_COOLDOWN_MINUTES;
- confirmation, rights and re-permission tokens are random, stored as SHA-256, expiring; confirmation
  and re-permission tokens work once. Unsubscribe links carry ``<public_id>.<keyed signature>``:
  nothing to store, valid for as long as the subscription, impossible to forge without SECRET_KEY;
- ending a subscription (unsubscribe, hard bounce, complaint) wipes the address and the consent proof
  and keeps only the keyed hash in the suppression list.

Sending is restartable: ``prepare_sends`` writes one ``Send`` row per recipient (unique per issue and
subscriber), batch jobs claim rows atomically, mark each ``sending`` before SMTP and ``sent`` after it,
and ``resume`` re-queues what a killed worker left. A message interrupted between the SMTP server's
acceptance and our commit is sent again with the same Message-ID (receivers deduplicate on it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlparse

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import Database, utcnow
from ..errors import InputError
from .emails import (
    MailContent,
    confirmation_email,
    issue_email,
    repermission_email,
    rights_email,
    translations,
)
from .models import ENDED_STATES, Issue, Send, Subscriber, SubscriberToken, Suppression

FORM_VERSION = "2026-12-v1"  # change when the sign-up form or its consent text changes
TOPICS = ("decisions", "faq", "employment", "marketing", "security")
LANGUAGES = ("fr", "en")
CONFIRM_TTL = timedelta(days=7)
RIGHTS_TTL = timedelta(hours=1)
REPERMISSION_TTL = timedelta(days=30)
INACTIVE_AFTER = timedelta(days=3 * 365)
MAX_ATTEMPTS = 5
MAX_SUBJECT = 200
MAX_BODY = 100_000
UNSUBSCRIBE_PURPOSE = "newsletter.unsubscribe"


def consent_text(language: str) -> str:
    """The consent sentence shown next to the box, in ``language``; its SHA-256 is the proof of what was shown."""
    _ = translations(language).gettext
    return _("I agree to receive the GDPR assistant's newsletter at this address (at most two e-mails a month: "
             "CNIL decisions, answers to common questions). I can unsubscribe at any time with the link in "
             "every e-mail. My address is used for nothing else and shared with no one.")


def consent_hash(language: str) -> str:
    """SHA-256 (hex) of the consent text shown in ``language``."""
    return hashlib.sha256(consent_text(language).encode("utf-8")).hexdigest()


def token_hash(token: str) -> str:
    """What is stored of a mailed token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def validate_email(email: str) -> str:
    """The address normalised by email-validator (no DNS lookup), or InputError saying what is wrong."""
    from email_validator import EmailNotValidError
    from email_validator import validate_email as check

    if not isinstance(email, str) or not email.strip():
        raise InputError("Enter your e-mail address.", code="email_required", http_status=422)
    if len(email) > 254:
        raise InputError("This e-mail address is too long (254 characters at most).", code="invalid_email",
                         http_status=422)
    try:
        return check(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as e:
        raise InputError(f"This e-mail address is not valid: {e}", code="invalid_email", http_status=422) from None


def parse_topics(values: Iterable[str]) -> tuple[str, ...]:
    """The topics asked for (known keys only, in TOPICS order), or InputError naming the unknown one."""
    values = [v.strip() for v in values if v and v.strip()]
    unknown = [v for v in values if v not in TOPICS]
    if unknown:
        raise InputError(f"Unknown topic {unknown[0]!r}; choose among {', '.join(TOPICS)}.", code="invalid_topic",
                         http_status=422)
    return tuple(t for t in TOPICS if t in values)


def _language(language: str) -> str:
    if language not in LANGUAGES:
        raise InputError(f"Language must be one of {', '.join(LANGUAGES)}, got {language!r}.",
                         code="invalid_language", http_status=422)
    return language


INVALID_LINK = "This link is not valid or has expired. Sign up again or ask for a new link on the newsletter page."


@dataclass(frozen=True)
class SubscriberData:
    """What we hold about one subscriber (the right of access, and the export)."""

    email: str
    state: str
    language: str
    topics: tuple[str, ...]
    signed_up_at: datetime
    confirmed_at: datetime | None
    form_version: str | None
    consent_text_sha256: str | None
    source_page: str | None
    ip: str | None
    last_activity_at: datetime
    issues_received: int

    def as_json(self) -> dict:
        """The data as JSON-ready values."""
        out = {}
        for k, v in self.__dict__.items():
            out[k] = v.isoformat() if isinstance(v, datetime) else list(v) if isinstance(v, tuple) else v
        return out


@dataclass(frozen=True)
class SendReport:
    """One issue's sending: how many rows in each state."""

    issue_id: int
    subject: str
    language: str
    status: str
    created_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]


class NewsletterService:
    """Every newsletter operation, over the database, the field cipher, the keyed hasher, the mailer and the queue."""

    def __init__(self, database: Database, settings, cipher, hasher, mailer, jobs=None):
        self.database = database
        self.settings = settings
        self.cipher = cipher
        self.hasher = hasher
        self.mailer = mailer
        self.jobs = jobs

    # -- links -------------------------------------------------------------------------------------
    def origin(self, request_origin: str = "") -> str:
        """Where links point: PUBLIC_ORIGIN, else the request's origin, else HOST:PORT (development)."""
        return (self.settings.public_origin or request_origin or
                f"http://{self.settings.host}:{self.settings.port}").rstrip("/")

    def unsubscribe_token(self, public_id: str) -> str:
        """The subscriber's unsubscribe token: their public id and its keyed signature."""
        return f"{public_id}.{self.hasher.digest(public_id, UNSUBSCRIBE_PURPOSE)[:32]}"

    def unsubscribe_url(self, public_id: str, origin: str = "") -> str:
        """The one-click unsubscribe link of a subscriber (https with PUBLIC_ORIGIN)."""
        return f"{self.origin(origin)}/newsletter/unsubscribe/{self.unsubscribe_token(public_id)}"

    def _public_id_of(self, token: str) -> str:
        """The public id an unsubscribe token names, or InputError when its signature is wrong."""
        public_id, _, signature = (token or "").partition(".")
        if not public_id or len(public_id) > 32 or not signature or \
                not hmac.compare_digest(self.unsubscribe_token(public_id), token):
            raise InputError("This unsubscribe link is not valid. Use the link of a recent e-mail, or write to us.",
                             code="invalid_link", http_status=404)
        return public_id

    def check_unsubscribe(self, token: str) -> None:
        """InputError (404) when an unsubscribe link's signature is wrong (the page says so before any button)."""
        self._public_id_of(token)

    def _new_token(self, session: Session, subscriber: Subscriber, purpose: str, ttl: timedelta,
                   now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        session.add(SubscriberToken(token_hash=token_hash(token), subscriber_id=subscriber.id, purpose=purpose,
                                    created_at=now, expires_at=now + ttl))
        return token

    def _token_row(self, session: Session, token: str, purpose: str, now: datetime,
                   lock: bool = False) -> tuple[SubscriberToken, Subscriber]:
        if not token or len(token) > 100:
            raise InputError(INVALID_LINK, code="invalid_link", http_status=404)
        query = select(SubscriberToken).where(SubscriberToken.token_hash == token_hash(token),
                                              SubscriberToken.purpose == purpose)
        if lock:
            query = query.with_for_update()
        row = session.scalars(query).first()
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise InputError(INVALID_LINK, code="invalid_link", http_status=404)
        subscriber = session.get(Subscriber, row.subscriber_id)
        if subscriber is None or subscriber.state in ENDED_STATES:
            raise InputError(INVALID_LINK, code="invalid_link", http_status=404)
        return row, subscriber

    def _queue(self, session: Session, to: str, content: MailContent, category: str) -> None:
        from ..mail import Email

        self.mailer.queue(Email(to=to, subject=content.subject, text=content.text, html=content.html,
                                headers=dict(content.headers), category=category), session=session)

    # -- sign-up and double opt-in -----------------------------------------------------------------
    def signup(self, email: str, *, consent: bool, language: str, topics: Iterable[str] = (),
               source_page: str = "", ip: str | None = None, origin: str = "", now: datetime | None = None) -> None:
        """Record a sign-up and mail the confirmation link; answers the same whatever the address's state.

        Bad input (address, consent box, language, topics) raises InputError before anything is written.
        """
        address = validate_email(email)
        if consent is not True:
            raise InputError("Tick the consent box to subscribe: we only write to people who asked.",
                             code="consent_required", http_status=422)
        language = _language(language)
        chosen = parse_topics(topics)
        now = now or utcnow()
        key = self.hasher.email_digest(address)
        try:
            self._signup(address, key, language, chosen, source_page, ip, origin, now)
        except IntegrityError:
            return  # the same address signed up at the same moment in another request: that one mails

    def _signup(self, address, key, language, chosen, source_page, ip, origin, now) -> None:
        cooldown = timedelta(minutes=self.settings.newsletter_cooldown_minutes)
        with self.database.transaction() as s:
            suppressed = s.get(Suppression, key)
            if suppressed is not None and suppressed.reason in ("bounced", "complained"):
                return  # never mail an address that bounced or complained; same answer as any sign-up
            subscriber = s.scalars(select(Subscriber).where(Subscriber.email_hash == key).with_for_update()).first()
            if subscriber is not None and subscriber.state == "confirmed":
                return  # already subscribed: nothing to do, nothing revealed
            if subscriber is not None:  # pending: a new link, unless one left within the cooldown
                if subscriber.last_confirmation_sent_at and subscriber.last_confirmation_sent_at > now - cooldown:
                    return
                s.execute(delete(SubscriberToken).where(SubscriberToken.subscriber_id == subscriber.id,
                                                        SubscriberToken.purpose == "confirm"))
            else:
                subscriber = Subscriber(email_encrypted=self.cipher.encrypt(address), email_hash=key, state="pending",
                                        created_at=now, last_activity_at=now)
                s.add(subscriber)
            subscriber.language = language
            subscriber.topics = ",".join(chosen)
            subscriber.form_version = FORM_VERSION
            subscriber.consent_text_sha256 = consent_hash(language)
            subscriber.source_page = (source_page or "")[:200] or None
            subscriber.ip = ip if (ip and self.settings.newsletter_store_ip) else None
            subscriber.last_confirmation_sent_at = now
            s.flush()
            token = self._new_token(s, subscriber, "confirm", CONFIRM_TTL, now)
            url = f"{self.origin(origin)}/newsletter/confirm/{token}"
            self._queue(s, address, confirmation_email(language, url), "newsletter.confirm")

    def check_token(self, token: str, purpose: str, now: datetime | None = None) -> str:
        """The language of a valid, unused token's subscriber (the page before the button); InputError otherwise."""
        with self.database.reading() as s:
            _row, subscriber = self._token_row(s, token, purpose, now or utcnow())
            return subscriber.language

    def confirm(self, token: str, now: datetime | None = None) -> str:
        """Confirm a sign-up with its token (once); lifts a suppression from an earlier unsubscribe. The language."""
        now = now or utcnow()
        with self.database.transaction() as s:
            row, subscriber = self._token_row(s, token, "confirm", now, lock=True)
            row.used_at = now
            subscriber.state = "confirmed"
            subscriber.confirmed_at = now
            subscriber.last_activity_at = now
            s.execute(delete(Suppression).where(Suppression.email_hash == subscriber.email_hash))
            return subscriber.language

    def keep(self, token: str, now: datetime | None = None) -> str:
        """Answer a re-permission request: the subscription goes on, the inactivity clock restarts."""
        now = now or utcnow()
        with self.database.transaction() as s:
            row, subscriber = self._token_row(s, token, "repermission", now, lock=True)
            row.used_at = now
            subscriber.last_activity_at = now
            subscriber.repermission_sent_at = None
            return subscriber.language

    # -- unsubscribe, bounces, complaints ------------------------------------------------------------
    def unsubscribe(self, token: str, now: datetime | None = None) -> None:
        """One-click unsubscribe (idempotent): wipe the address, keep its keyed hash in the suppression list."""
        public_id = self._public_id_of(token)
        with self.database.transaction() as s:
            subscriber = s.scalars(select(Subscriber).where(Subscriber.public_id == public_id)
                                   .with_for_update()).first()
            if subscriber is not None and subscriber.state not in ENDED_STATES:
                self._end(s, subscriber, "unsubscribed", now or utcnow())

    def _end(self, s: Session, subscriber: Subscriber, state: str, now: datetime) -> None:
        """End a subscription: tombstone row (state, dates), suppression by keyed hash, tokens and pending sends gone."""
        if subscriber.email_hash and s.get(Suppression, subscriber.email_hash) is None:
            s.add(Suppression(email_hash=subscriber.email_hash, reason=state, created_at=now))
        subscriber.state = state
        subscriber.ended_at = now
        subscriber.email_encrypted = None
        subscriber.email_hash = None
        subscriber.ip = None
        subscriber.source_page = None
        s.execute(delete(SubscriberToken).where(SubscriberToken.subscriber_id == subscriber.id))
        s.execute(delete(Send).where(Send.subscriber_id == subscriber.id, Send.status == "pending"))

    def record_delivery_problems(self, reports: Iterable[tuple[str, str]], now: datetime | None = None) -> Counter:
        """Mark subscribers from (address, "bounce"|"complaint") reports; every line is checked before any change.

        A hard bounce or a complaint ends the subscription (suppressed). Returns counts: bounced,
        complained, unknown (addresses we do not hold: they are suppressed too, so no import adds them).
        """
        checked = []
        for n, (address, kind) in enumerate(reports, start=1):
            if kind not in ("bounce", "complaint"):
                raise InputError(f"line {n}: the kind must be bounce or complaint, got {kind!r}", code="invalid_report")
            try:
                checked.append((validate_email(address), kind))
            except InputError as e:
                raise InputError(f"line {n}: {e.message}", code="invalid_report") from None
        now = now or utcnow()
        counts: Counter = Counter()
        with self.database.transaction() as s:
            for address, kind in checked:
                key = self.hasher.email_digest(address)
                state = "bounced" if kind == "bounce" else "complained"
                subscriber = s.scalars(select(Subscriber).where(Subscriber.email_hash == key)).first()
                if subscriber is None:
                    if s.get(Suppression, key) is None:
                        s.add(Suppression(email_hash=key, reason=state, created_at=now))
                    counts["unknown"] += 1
                    continue
                self._end(s, subscriber, state, now)
                counts[state] += 1
        return counts

    def is_suppressed(self, email: str) -> bool:
        """True when the address must never be mailed (imports check this)."""
        with self.database.reading() as s:
            return s.get(Suppression, self.hasher.email_digest(validate_email(email))) is not None

    # -- rights: access, export, erasure -------------------------------------------------------------
    def request_rights_link(self, email: str, origin: str = "", now: datetime | None = None) -> None:
        """Mail a link to see, download or erase one's data; the same answer whether the address is known or not."""
        address = validate_email(email)
        now = now or utcnow()
        cooldown = timedelta(minutes=self.settings.newsletter_cooldown_minutes)
        with self.database.transaction() as s:
            subscriber = s.scalars(select(Subscriber).where(
                Subscriber.email_hash == self.hasher.email_digest(address)).with_for_update()).first()
            if subscriber is None or subscriber.state in ENDED_STATES:
                return
            recent = s.scalar(select(func.count()).select_from(SubscriberToken).where(
                SubscriberToken.subscriber_id == subscriber.id, SubscriberToken.purpose == "rights",
                SubscriberToken.created_at > now - cooldown))
            if recent:
                return
            token = self._new_token(s, subscriber, "rights", RIGHTS_TTL, now)
            url = f"{self.origin(origin)}/newsletter/rights/{token}"
            self._queue(s, address, rights_email(subscriber.language, url), "newsletter.rights")

    def data_of(self, token: str, now: datetime | None = None) -> SubscriberData:
        """Everything held about the token's subscriber (the link works until it expires or the data is erased)."""
        now = now or utcnow()
        with self.database.transaction() as s:
            _row, sub = self._token_row(s, token, "rights", now)
            sub.last_activity_at = now
            received = s.scalar(select(func.count()).select_from(Send).where(
                Send.subscriber_id == sub.id, Send.status == "sent"))
            return SubscriberData(
                email=self.cipher.decrypt(sub.email_encrypted), state=sub.state, language=sub.language,
                topics=tuple(t for t in sub.topics.split(",") if t), signed_up_at=sub.created_at,
                confirmed_at=sub.confirmed_at, form_version=sub.form_version,
                consent_text_sha256=sub.consent_text_sha256, source_page=sub.source_page, ip=sub.ip,
                last_activity_at=sub.last_activity_at, issues_received=received or 0)

    def erase(self, token: str, now: datetime | None = None) -> None:
        """Erase the token's subscriber entirely (sends too); only the keyed hash stays, so no import adds it back."""
        now = now or utcnow()
        with self.database.transaction() as s:
            _row, sub = self._token_row(s, token, "rights", now, lock=True)
            if sub.email_hash and s.get(Suppression, sub.email_hash) is None:
                s.add(Suppression(email_hash=sub.email_hash, reason="erased", created_at=now))
            s.execute(delete(Send).where(Send.subscriber_id == sub.id))
            s.execute(delete(SubscriberToken).where(SubscriberToken.subscriber_id == sub.id))
            s.delete(sub)

    # -- re-permission after 3 years of inactivity ---------------------------------------------------
    def ask_repermission(self, now: datetime | None = None, limit: int = 500) -> int:
        """Mail confirmed subscribers inactive for 3 years a "keep me" link; unanswered ones are removed 30 days later."""
        now = now or utcnow()
        sent = 0
        with self.database.transaction() as s:
            due = s.scalars(select(Subscriber).where(
                Subscriber.state == "confirmed", Subscriber.repermission_sent_at.is_(None),
                Subscriber.last_activity_at <= now - INACTIVE_AFTER).limit(limit)).all()
            for sub in due:
                token = self._new_token(s, sub, "repermission", REPERMISSION_TTL, now)
                origin = self.origin()
                content = repermission_email(sub.language, f"{origin}/newsletter/keep/{token}",
                                             self.unsubscribe_url(sub.public_id), self.settings.newsletter_mailto)
                self._queue(s, self.cipher.decrypt(sub.email_encrypted), content, "newsletter.repermission")
                sub.repermission_sent_at = now
                sent += 1
        return sent

    # -- issues ---------------------------------------------------------------------------------------
    def create_issue(self, subject: str, body_markdown: str, language: str, topics: Iterable[str] = (),
                     kind: str = "composed", now: datetime | None = None) -> int:
        """Store a draft issue (Markdown), checked: a subject, a body, a language, known topics."""
        subject = " ".join((subject or "").split())
        if not subject:
            raise InputError("Give the issue a subject.", code="subject_required", http_status=422)
        if len(subject) > MAX_SUBJECT:
            raise InputError(f"The subject is too long ({len(subject)} characters, {MAX_SUBJECT} at most).",
                             code="subject_too_long", http_status=422)
        if not (body_markdown or "").strip():
            raise InputError("Write the issue's text (Markdown).", code="body_required", http_status=422)
        if len(body_markdown) > MAX_BODY:
            raise InputError(f"The text is too long ({len(body_markdown)} characters, {MAX_BODY} at most).",
                             code="body_too_long", http_status=422)
        language = _language(language)
        chosen = parse_topics(topics)
        with self.database.transaction() as s:
            issue = Issue(subject=subject, body_markdown=body_markdown, language=language, topics=",".join(chosen),
                          kind=kind, status="draft", created_at=now or utcnow())
            s.add(issue)
            s.flush()
            return issue.id

    def digest(self, docs, language: str) -> tuple[str, str]:
        """(subject, Markdown) of a digest of the newest CNIL decisions and FAQ items in ``language``."""
        from .digest import build_digest

        return build_digest(docs, _language(language), origin=self.origin())

    def issue(self, issue_id: int) -> Issue:
        """One issue, or InputError (404) naming it."""
        with self.database.reading() as s:
            issue = s.get(Issue, issue_id)
            if issue is None:
                raise InputError(f"There is no issue {issue_id}.", code="not_found", http_status=404)
            return issue

    def start_sending(self, issue_id: int) -> None:
        """Queue the sending of a draft issue (a job writes the send records, then batches go out)."""
        now = utcnow()
        if self.settings.is_production and not self.settings.public_origin:
            raise InputError("Set PUBLIC_ORIGIN (https://...) before sending: every e-mail needs an absolute "
                             "unsubscribe link.", code="public_origin_required", http_status=409)
        with self.database.transaction() as s:
            issue = s.get(Issue, issue_id, with_for_update=True)
            if issue is None:
                raise InputError(f"There is no issue {issue_id}.", code="not_found", http_status=404)
            if issue.status != "draft":
                raise InputError("This issue has already been sent (or is being sent): it is never sent twice.",
                                 code="already_sent", http_status=409)
            issue.status = "sending"
            issue.send_started_at = now
        self.jobs.enqueue("newsletter.prepare_sends", issue_id=issue_id)

    def prepare_sends(self, issue_id: int, now: datetime | None = None) -> int:
        """Write one pending send per matching confirmed subscriber (once: the pair is unique), queue the batches."""
        now = now or utcnow()
        stale = timedelta(seconds=self.settings.newsletter_stale_seconds)
        with self.database.transaction() as s:
            issue = s.get(Issue, issue_id)
            if issue is None or issue.status != "sending":
                return 0
            wanted = {t for t in issue.topics.split(",") if t}
            have = set(s.scalars(select(Send.subscriber_id).where(Send.issue_id == issue_id)))
            rows = s.execute(select(Subscriber.id, Subscriber.topics).where(
                Subscriber.state == "confirmed", Subscriber.language == issue.language)).all()
            new = [sid for sid, topics in rows if sid not in have and (
                not wanted or not topics or wanted & set(topics.split(",")))]
            ids = []
            if new:
                s.execute(Send.__table__.insert(), [
                    {"issue_id": issue_id, "subscriber_id": sid, "status": "pending", "attempts": 0,
                     "created_at": now, "due_at": now + stale} for sid in new])
                for i in range(0, len(new), 500):
                    ids += s.scalars(select(Send.id).where(Send.issue_id == issue_id,
                                                           Send.subscriber_id.in_(new[i:i + 500])))
        # Only the rows written now: rows of an earlier, interrupted run are re-queued by `resume` when due.
        size = self.settings.newsletter_batch_size
        ids.sort()
        for i in range(0, len(ids), size):
            self.jobs.enqueue("newsletter.send_batch", issue_id=issue_id, send_ids=ids[i:i + size])
        self._finish_if_done(issue_id, now)
        return len(new)

    def _enqueue_pending(self, issue_id: int, now: datetime, only_due: bool = False) -> int:
        """Queue batch jobs for an issue's pending sends (all, or only those due again); their due time moves on."""
        stale = timedelta(seconds=self.settings.newsletter_stale_seconds)
        size = self.settings.newsletter_batch_size
        with self.database.transaction() as s:
            query = select(Send.id).where(Send.issue_id == issue_id, Send.status == "pending").order_by(Send.id)
            if only_due:
                query = query.where(Send.due_at <= now)
            ids = list(s.scalars(query))
            if ids and only_due:
                for i in range(0, len(ids), 500):
                    s.execute(update(Send).where(Send.id.in_(ids[i:i + 500])).values(due_at=now + stale))
        for i in range(0, len(ids), size):
            self.jobs.enqueue("newsletter.send_batch", issue_id=issue_id, send_ids=ids[i:i + size])
        return len(ids)

    def send_batch(self, issue_id: int, send_ids: list[int]) -> Counter:
        """Send one batch: claim the pending rows, then for each: ``sending``, SMTP, ``sent`` (or retry later)."""
        from ..web.markdown import render_markdown

        counts: Counter = Counter()
        claim = secrets.token_hex(16)
        now = utcnow()
        with self.database.transaction() as s:
            s.execute(update(Send).where(Send.id.in_(send_ids), Send.issue_id == issue_id, Send.status == "pending")
                      .values(status="claimed", claim=claim, claimed_at=now))
        with self.database.reading() as s:
            issue = s.get(Issue, issue_id)
            # Outer join: a subscriber removed since (erased, inactive) leaves a row to drop, not one to retry.
            rows = s.execute(select(Send.id, Subscriber.public_id, Subscriber.email_encrypted, Subscriber.state)
                             .select_from(Send).outerjoin(Subscriber, Subscriber.id == Send.subscriber_id)
                             .where(Send.claim == claim, Send.status == "claimed").order_by(Send.id)).all()
        if issue is None:
            return counts
        body_html = str(render_markdown(issue.body_markdown))
        domain = urlparse(self.origin()).hostname or "localhost"
        for send_id, public_id, encrypted, state in rows:
            if state != "confirmed" or not encrypted:  # unsubscribed or removed since the rows were written
                with self.database.transaction() as s:
                    s.execute(delete(Send).where(Send.id == send_id))
                counts["skipped"] += 1
                continue
            with self.database.transaction() as s:
                s.execute(update(Send).where(Send.id == send_id).values(status="sending", attempts=Send.attempts + 1))
            content = issue_email(issue.language, issue.subject, issue.body_markdown, body_html,
                                  self.unsubscribe_url(public_id), self.settings.newsletter_mailto)
            message_id = f"<newsletter.{issue_id}.{send_id}.{public_id[:12]}@{domain}>"
            try:
                returned = self._send_now(self.cipher.decrypt(encrypted), content, message_id)
            except Exception as e:  # noqa: BLE001 - any delivery failure is recorded and retried
                error = f"{type(e).__name__}: {str(e)[:200]}"
                with self.database.transaction() as s:
                    attempts = s.scalar(select(Send.attempts).where(Send.id == send_id))
                    final = attempts >= MAX_ATTEMPTS
                    s.execute(update(Send).where(Send.id == send_id).values(
                        status="failed" if final else "pending", claim=None, last_error=error,
                        due_at=utcnow() + timedelta(seconds=30 * 2 ** attempts)))
                counts["failed" if final else "retry"] += 1
                continue
            with self.database.transaction() as s:
                s.execute(update(Send).where(Send.id == send_id).values(
                    status="sent", sent_at=utcnow(), message_id=str(returned or message_id)[:200]))
            counts["sent"] += 1
        self._finish_if_done(issue_id, utcnow())
        return counts

    def _send_now(self, to: str, content: MailContent, message_id: str) -> str:
        """Send one issue e-mail with its own stable Message-ID (a resend after a crash keeps it); the id."""
        from ..mail import Email
        from ..mail.smtp import build_message

        email = Email(to=to, subject=content.subject, text=content.text, html=content.html,
                      headers=dict(content.headers), category="newsletter.issue")  # checks address and headers
        transport = getattr(self.mailer, "transport", None)
        if transport is None:  # a mailer without a transport of its own: its Message-ID
            return self.mailer.send_direct(email)
        transport.send(build_message(self.settings.mail_from, email.to, email.subject, email.text, email.html,
                                     email.headers, message_id))
        return message_id

    def _finish_if_done(self, issue_id: int, now: datetime) -> None:
        with self.database.transaction() as s:
            open_rows = s.scalar(select(func.count()).select_from(Send).where(
                Send.issue_id == issue_id, Send.status.in_(("pending", "claimed", "sending"))))
            if not open_rows:
                s.execute(update(Issue).where(Issue.id == issue_id, Issue.status == "sending")
                          .values(status="sent", finished_at=now))

    def resume(self, now: datetime | None = None) -> int:
        """Re-queue what a killed worker or a failed attempt left: stale claims back to pending, due rows queued."""
        now = now or utcnow()
        stale = now - timedelta(seconds=self.settings.newsletter_stale_seconds)
        with self.database.transaction() as s:
            s.execute(update(Send).where(Send.status.in_(("claimed", "sending")), Send.claimed_at <= stale)
                      .values(status="pending", claim=None, due_at=now))
            issues = list(s.scalars(select(Issue.id).where(Issue.status == "sending")))
            unprepared = [i for i in issues if not s.scalar(select(func.count()).select_from(Send)
                                                            .where(Send.issue_id == i))]
        queued = 0
        for issue_id in issues:
            if issue_id in unprepared:
                self.jobs.enqueue("newsletter.prepare_sends", issue_id=issue_id)
                continue
            queued += self._enqueue_pending(issue_id, now, only_due=True)
            self._finish_if_done(issue_id, now)
        return queued

    # -- the console's figures -------------------------------------------------------------------------
    def counts_by_state(self) -> dict[str, int]:
        """Subscribers per state (every state, zeros included)."""
        from .models import STATES

        with self.database.reading() as s:
            got = dict(s.execute(select(Subscriber.state, func.count()).group_by(Subscriber.state)).all())
        return {state: got.get(state, 0) for state in STATES}

    def growth(self, days: int = 90, now: datetime | None = None) -> list[tuple[date, int, int]]:
        """Per day of the last ``days``: (day, new confirmations, subscriptions ended)."""
        now = now or utcnow()
        since = now - timedelta(days=days)
        with self.database.reading() as s:
            confirmed = s.scalars(select(Subscriber.confirmed_at).where(Subscriber.confirmed_at > since)).all()
            ended = s.scalars(select(Subscriber.ended_at).where(Subscriber.ended_at > since)).all()
        c, e = Counter(d.date() for d in confirmed), Counter(d.date() for d in ended)
        today = now.date()
        span = [today - timedelta(days=days - 1 - i) for i in range(days)]
        return [(d, c.get(d, 0), e.get(d, 0)) for d in span]

    def confirmed_subscribers(self) -> list[dict]:
        """Confirmed subscribers with their consent proof (the CSV export)."""
        with self.database.reading() as s:
            subs = s.scalars(select(Subscriber).where(Subscriber.state == "confirmed").order_by(Subscriber.id)).all()
            return [{"email": self.cipher.decrypt(x.email_encrypted), "language": x.language, "topics": x.topics,
                     "signed_up_at": x.created_at.isoformat(), "confirmed_at": x.confirmed_at.isoformat(),
                     "form_version": x.form_version or "", "consent_text_sha256": x.consent_text_sha256 or "",
                     "source_page": x.source_page or ""} for x in subs]

    def send_history(self, limit: int = 50) -> list[SendReport]:
        """The latest issues with their sends counted by state."""
        with self.database.reading() as s:
            issues = s.scalars(select(Issue).order_by(Issue.id.desc()).limit(limit)).all()
            counts = s.execute(select(Send.issue_id, Send.status, func.count()).where(
                Send.issue_id.in_([i.id for i in issues])).group_by(Send.issue_id, Send.status)).all()
        by_issue: dict[int, dict[str, int]] = {}
        for issue_id, status, n in counts:
            by_issue.setdefault(issue_id, {})[status] = n
        return [SendReport(i.id, i.subject, i.language, i.status, i.created_at, i.finished_at,
                           by_issue.get(i.id, {})) for i in issues]
