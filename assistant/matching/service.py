"""MatchingService: the partner directory, suggestions, referrals with consent, the partner's leads.

    suggest(need)                         -> [Match]        pure scoring over the directory's snapshot
    suggest_for_question(question, lang)  -> [dict]         the chat's ``partners`` ({id, name, score, why})
    create_referral(request, chosen, consent)               one transaction: referral, consent proof,
                                                            the first lead, its e-mail queued in the outbox
    open_lead / decide                                      the partner's side, every access logged
    expire_leads(now)                                       48 h without an answer: offered to the next firm

Consent names the firms the visitor chose, so a lead is only ever offered to one of them: the first
chosen first, the next one when a lead is declined or expires. A referral no chosen firm takes ends
``unplaced`` (the console lists it). E-mails to partners carry no personal data: a sign-in link only.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..db import Database, new_id, utcnow
from ..errors import InputError
from ..privacy.validate import valid_siren
from ..retrieval.text import fold
from ..texts import N_, translate
from . import scoring
from .models import OPEN_STATES, TRANSITIONS, ConsentRecord, Lead, LeadAccess, Partner, Referral
from .scoring import Match, Need, PartnerSnapshot

log = logging.getLogger(__name__)

LEAD_HOURS = 48
LINK_SALT = "matching.lead-link"
LINK_MAX_AGE = 7 * 24 * 3600  # the e-mail's link; the lead list makes fresh ones
MAX_CHOSEN = 3
CONSENT_VERSION = "2026-12-01"
CONSENT_TEXT = N_("I agree that the GDPR assistant sends my request (company, need, kinds of data, budget and "
                  "contact details) to %(firms)s, first to the first firm, then to the next one if it does not "
                  "answer within 48 hours, so that the firm contacts me about it. I can withdraw this consent at "
                  "any time by writing to the site operator; the request is deleted 3 years after its last event.")
FIELD_LIMITS = {"company": 200, "need": 2000, "contact_name": 120, "contact_email": 254, "contact_phone": 30}
EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                   r"[A-Za-z0-9])?)+$")
PHONE = re.compile(r"^\+?[0-9 .()-]{6,30}$")


class ReferralInvalid(InputError):
    """A referral form with bad fields: ``fields`` maps each field to what is wrong (in English)."""

    def __init__(self, fields: dict[str, str], codes: dict[str, str] | None = None):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()), code="invalid_referral",
                         http_status=422)
        self.fields = fields
        self.codes = codes or {}  # field -> required | too_long | invalid | unknown


@dataclass(frozen=True)
class ReferralRequest:
    """A visitor's validated request (what the /dpo form asks)."""

    company: str
    sector: str
    size: str
    region: str
    need: str
    contact_name: str
    contact_email: str
    language: str = "fr"
    siren: str | None = None
    data_kinds: tuple[str, ...] = ()
    budget: str | None = None
    on_site: bool = False
    certification_required: bool = False
    contact_phone: str | None = None
    source: str = "dpo"

    def as_need(self) -> Need:
        """The matching view of this request (no contact data)."""
        kinds = {scoring.DATA_KINDS[k] for k in self.data_kinds}
        return Need(sector=self.sector, size=self.size, region=self.region, language=self.language,
                    specialisms=frozenset(kinds) | scoring.specialisms_in(fold(self.need)), budget=self.budget,
                    on_site=self.on_site, certification_required=self.certification_required, text=self.need)

    def to_dict(self) -> dict:
        """A plain dict (for the signed draft the form carries between its steps)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def parse_request(data: dict, language: str = "fr") -> ReferralRequest:
    """A ReferralRequest from form fields (strings, lists for data_kinds); ReferralInvalid names every bad field."""
    errors: dict[str, str] = {}
    codes: dict[str, str] = {}

    def bad(name: str, code: str, message: str) -> None:
        errors[name], codes[name] = message, code

    def text(name: str, required: bool = True) -> str | None:
        v = data.get(name)
        v = v.strip() if isinstance(v, str) else ""
        if not v:
            if required:
                bad(name, "required", "this field is required")
            return None
        if len(v) > FIELD_LIMITS[name]:
            bad(name, "too_long", f"at most {FIELD_LIMITS[name]} characters (got {len(v)})")
        return v

    def choice(name: str, allowed: tuple[str, ...], required: bool = True) -> str | None:
        v = data.get(name)
        v = v.strip() if isinstance(v, str) else ""
        if not v:
            if required:
                bad(name, "required", "choose one")
            return None
        if v not in allowed:
            bad(name, "unknown", f"unknown value {v!r}; one of: {', '.join(allowed)}")
        return v

    company, need = text("company"), text("need")
    name, email, phone = text("contact_name"), text("contact_email"), text("contact_phone", required=False)
    if email and "contact_email" not in errors and not EMAIL.match(email):
        bad("contact_email", "invalid", f"{email!r} is not an e-mail address (like name@company.fr)")
    if phone and "contact_phone" not in errors and not PHONE.match(phone):
        bad("contact_phone", "invalid", "digits, spaces and + only, like +33 1 23 45 67 89")
    siren = data.get("siren")
    siren = siren.strip() if isinstance(siren, str) else ""
    if siren:
        try:
            siren = valid_siren(siren)
        except ValueError as e:
            bad("siren", "invalid", str(e))
    kinds = data.get("data_kinds") or []
    kinds = [kinds] if isinstance(kinds, str) else kinds
    unknown = [k for k in kinds if k not in scoring.DATA_KINDS]
    if unknown:
        bad("data_kinds", "unknown", f"unknown kind(s) {', '.join(map(repr, unknown))}; known: {', '.join(scoring.DATA_KINDS)}")
    req = dict(sector=choice("sector", scoring.SECTORS), size=choice("size", scoring.COMPANY_SIZES),
               region=choice("region", scoring.REGIONS), budget=choice("budget", scoring.BUDGETS, required=False))
    if language not in scoring.LANGUAGES:
        bad("language", "unknown", f"unknown language {language!r}")
    if errors:
        raise ReferralInvalid(errors, codes)
    return ReferralRequest(company=company, need=need, contact_name=name, contact_email=email.lower(),
                           contact_phone=phone, siren=siren or None, data_kinds=tuple(dict.fromkeys(kinds)),
                           on_site=_flag(data.get("on_site")), language=language,
                           certification_required=_flag(data.get("certification_required")),
                           source="chat" if data.get("source") == "chat" else "dpo", **req)


def _flag(v) -> bool:
    return v in (True, "1", "y", "yes", "on", "true")


def consent_text(lang: str, firm_names: list[str]) -> str:
    """The consent sentence shown next to the (unticked) box, naming each chosen firm."""
    quoted = [f"« {n} »" if lang == "fr" else f"“{n}”" for n in firm_names]
    joiner = " et " if lang == "fr" else " and "
    firms = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + joiner + quoted[-1]
    return translate(lang, CONSENT_TEXT, firms=firms)


def text_hash(text: str) -> str:
    """SHA-256 of a text shown to the visitor (the consent proof)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SentReferral:
    """What the visitor is told after sending: the referral and the firm offered first."""

    id: str
    first_partner: str
    outbox_id: int | None


@dataclass(frozen=True)
class LeadView:
    """What a partner sees of a lead: only what it needs to answer (and contact data once accepted)."""

    id: str
    state: str
    offered_at: datetime
    expires_at: datetime
    sector: str
    size: str
    region: str
    on_site: bool
    data_kinds: list[str]
    budget: str | None
    need: str
    language: str
    company: str | None = None  # once accepted
    siren: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    token: str = ""


@dataclass
class Funnel:
    """Counts of leads by state (offered counts every lead ever offered)."""

    offered: int = 0
    viewed: int = 0
    accepted: int = 0
    declined: int = 0
    expired: int = 0
    won: int = 0
    lost: int = 0
    referrals: int = 0
    unplaced: int = 0
    by_state: dict = field(default_factory=dict)


class PartnerInvalid(InputError):
    """A partner form with bad fields (``fields``: field -> what is wrong)."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()), code="invalid_partner", http_status=422)
        self.fields = fields


def parse_partner(data: dict) -> dict:
    """Column values from a partner form (lists as lists or comma-separated strings); PartnerInvalid otherwise."""
    errors: dict[str, str] = {}
    out: dict = {}

    def listed(name: str, allowed: tuple[str, ...], required: bool = True) -> None:
        v = data.get(name) or []
        items = [x.strip() for x in (v.split(",") if isinstance(v, str) else v) if str(x).strip()]
        bad = [x for x in items if x not in allowed]
        if bad:
            errors[name] = f"unknown {', '.join(map(repr, bad))}; known: {', '.join(allowed)}"
        elif required and not items:
            errors[name] = "choose at least one"
        out[name] = list(dict.fromkeys(items))

    def one(name: str, allowed: tuple[str, ...]) -> None:
        v = data.get(name)
        if v not in allowed:
            errors[name] = f"unknown value {v!r}; one of: {', '.join(allowed)}"
        out[name] = v

    name = (data.get("name") or "").strip()
    if not name or len(name) > 200:
        errors["name"] = "a name of 1 to 200 characters"
    out["name"] = name
    out["profile"] = (data.get("profile") or "").strip()[:2000]
    one("kind", scoring.PARTNER_KINDS)
    one("pricing_model", scoring.PRICING_MODELS)
    one("budget_band", scoring.BUDGETS)
    listed("sectors", scoring.SECTORS)
    listed("specialisms", scoring.SPECIALISMS)
    listed("regions", scoring.REGIONS, required=False)
    listed("languages", scoring.LANGUAGES)
    listed("sizes", scoring.COMPANY_SIZES)
    email = (data.get("email") or "").strip().lower()
    if not EMAIL.match(email):
        errors["email"] = f"{email!r} is not an e-mail address"
    out["email"] = email
    try:
        capacity = int(data.get("capacity", 10))
        if not 0 <= capacity <= 1000:
            raise ValueError
        out["capacity"] = capacity
    except (TypeError, ValueError):
        errors["capacity"] = "a whole number of leads a month, 0 to 1000"
    until = data.get("certified_until") or None
    if isinstance(until, str):
        try:
            until = date.fromisoformat(until.strip())
        except ValueError:
            errors["certified_until"] = f"{until!r} is not a date like 2027-06-30"
            until = None
    out["certified_until"] = until
    out["certification_body"] = (data.get("certification_body") or "").strip()[:100] or None
    out["certification_number"] = (data.get("certification_number") or "").strip()[:100] or None
    if until and not out["certification_body"]:
        errors["certification_body"] = "name the body that certified the DPO skills"
    out["active"] = _flag(data.get("active", True))
    if errors:
        raise PartnerInvalid(errors)
    return out


def partner_dict(p: Partner, email: str, load: int | None = None) -> dict:
    """A partner as the console shows and edits it."""
    return {"id": p.id, "name": p.name, "kind": p.kind, "profile": p.profile, "sectors": list(p.sectors),
            "specialisms": list(p.specialisms), "regions": list(p.regions), "languages": list(p.languages),
            "sizes": list(p.sizes), "pricing_model": p.pricing_model, "budget_band": p.budget_band,
            "certification_body": p.certification_body, "certification_number": p.certification_number,
            "certified_until": p.certified_until, "capacity": p.capacity, "active": p.active, "email": email,
            "demo": p.demo, "load": load}


class LeadLinkError(InputError):
    """A partner's lead link is forged, expired, or for a lead that is not theirs."""


class MatchingService:
    """Partners, matching and referrals over the database; one per process, safe to share between threads."""

    def __init__(self, database: Database, embedder, cipher, hasher, mailer, secret_key: str,
                 public_origin: str = "", clock=utcnow):
        self.db = database
        self.embedder = embedder
        self.cipher = cipher
        self.hasher = hasher
        self.mailer = mailer
        self.public_origin = public_origin.rstrip("/") or "http://127.0.0.1:8000"
        self.links = URLSafeTimedSerializer(secret_key, salt=LINK_SALT)
        self.clock = clock
        self._vectors: dict[str, tuple[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    # -- the directory --------------------------------------------------------------------------------
    def snapshots(self, session, now: datetime | None = None) -> list[PartnerSnapshot]:
        """Every partner as matching sees it, with its load (leads offered since the 1st of the month)."""
        now = now or self.clock()
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        loads = dict(session.execute(select(Lead.partner_id, func.count()).where(Lead.offered_at >= month)
                                     .group_by(Lead.partner_id)).all())
        return [snapshot(p, loads.get(p.id, 0)) for p in session.scalars(select(Partner).order_by(Partner.id))]

    def similarities(self, text: str, partners: list[Partner]) -> dict[str, float]:
        """Cosine similarity of ``text`` to each partner's profile (the answers' embedder; profiles cached)."""
        if self.embedder is None or not text.strip() or not partners:
            return {}
        with self._lock:
            missing = [p for p in partners if self._vectors.get(p.id, ("",))[0] != profile_key(p)]
            if missing:
                vecs = self.embedder.embed_documents([profile_text(p) for p in missing])
                for p, v in zip(missing, vecs, strict=False):
                    self._vectors[p.id] = (profile_key(p), np.asarray(v, dtype=np.float32))
            matrix = np.stack([self._vectors[p.id][1] for p in partners])
        q = np.asarray(self.embedder.embed_query(text), dtype=np.float32)
        return dict(zip((p.id for p in partners), (float(x) for x in matrix @ q), strict=False))

    def suggest(self, need: Need, limit: int = 3, exclude: set[str] | frozenset[str] = frozenset()) -> list[Match]:
        """The best partners for ``need`` (hard filters, weighted score, fairness)."""
        with self.db.reading() as s:
            partners = s.scalars(select(Partner).where(Partner.active.is_(True))).all()
            snaps = self.snapshots(s)
        sims = self.similarities(need.text, list(partners))
        return scoring.rank(need, snaps, sims, self.clock().date(), limit=limit, exclude=exclude)

    @staticmethod
    def dpo_link(question: str, code: str | None) -> str:
        """The /dpo form's address from a chat answer: the referral's reason and the kinds of data the question
        is about (categories only: the question itself never goes into a URL)."""
        from urllib.parse import urlencode

        wanted = scoring.specialisms_in(fold(question))
        kinds = [k for k, spec in scoring.DATA_KINDS.items() if spec in wanted]
        query = {"from": "chat", "topic": code or ""}
        if kinds:
            query["kinds"] = ",".join(kinds)
        return "/dpo?" + urlencode(query)

    def suggest_for_question(self, question: str, lang: str, limit: int = 3) -> list[dict]:
        """The chat's ``partners``: matches for a question alone (its words and language), as contract dicts."""
        need = Need(language=lang if lang in scoring.LANGUAGES else "fr", text=question,
                    specialisms=scoring.specialisms_in(fold(question)))
        return [m.to_dict(lang, need) for m in self.suggest(need, limit=limit)]

    def list_partners(self) -> list[dict]:
        """Every partner for the console (contact e-mail decrypted), by name."""
        with self.db.reading() as s:
            snaps = {p.id: p for p in self.snapshots(s)}
            rows = s.scalars(select(Partner).order_by(Partner.name)).all()
            return [partner_dict(p, self.cipher.decrypt(p.contact_email), snaps[p.id].load) for p in rows]

    def get_partner(self, partner_id: str) -> dict:
        """One partner for the console's edit form; InputError when unknown."""
        with self.db.reading() as s:
            p = s.get(Partner, partner_id)
            if p is None:
                raise InputError(f"no partner {partner_id!r}", code="unknown_partner", http_status=404)
            return partner_dict(p, self.cipher.decrypt(p.contact_email))

    def save_partner(self, data: dict, partner_id: str | None = None, if_absent: bool = False) -> str | None:
        """Create (or update ``partner_id``) from validated ``data``; PartnerInvalid names every bad field.

        ``if_absent``: a partner with the same contact e-mail already there is left alone (returns None).
        """
        values = parse_partner(data)
        email = values.pop("email")
        digest = self.hasher.email_digest(email)
        try:
            with self.db.transaction() as s:
                same = s.scalar(select(Partner.id).where(Partner.contact_email_hash == digest))
                if same is not None and same != partner_id:
                    if if_absent:
                        return None
                    raise PartnerInvalid({"email": "another partner already has this contact e-mail"})
                if partner_id is None:
                    p = Partner(id=new_id())
                    s.add(p)
                else:
                    p = s.get(Partner, partner_id, with_for_update=True)
                    if p is None:
                        raise InputError(f"no partner {partner_id!r}", code="unknown_partner", http_status=404)
                for k, v in values.items():
                    setattr(p, k, v)
                p.contact_email, p.contact_email_hash = self.cipher.encrypt(email), digest
                p.demo = bool(data.get("demo", p.demo or False))
                return p.id
        except IntegrityError:
            raise PartnerInvalid({"email": "another partner already has this contact e-mail"}) from None

    def delete_partner(self, partner_id: str) -> None:
        """Remove a partner that never received a lead; one with leads is kept (their history) and can be paused."""
        with self.db.transaction() as s:
            p = s.get(Partner, partner_id)
            if p is None:
                raise InputError(f"no partner {partner_id!r}", code="unknown_partner", http_status=404)
            leads = s.scalar(select(func.count()).select_from(Lead).where(Lead.partner_id == partner_id))
            if leads:
                raise InputError(f"{p.name} has received {leads} lead(s): their history is kept, pause the partner "
                                 "instead", code="partner_has_leads", http_status=409)
            s.delete(p)

    def partner_names(self, ids: list[str]) -> list[str]:
        """The names of these partners, in this order (unknown ids skipped)."""
        with self.db.reading() as s:
            names = dict(s.execute(select(Partner.id, Partner.name).where(Partner.id.in_(ids))).all())
        return [names[i] for i in ids if i in names]

    def set_active(self, partner_id: str, active: bool) -> None:
        """Pause or resume a partner (a paused one is never suggested)."""
        with self.db.transaction() as s:
            p = s.get(Partner, partner_id)
            if p is None:
                raise InputError(f"no partner {partner_id!r}", code="unknown_partner", http_status=404)
            p.active = active

    # -- the referral -------------------------------------------------------------------------------
    def create_referral(self, request: ReferralRequest, chosen: list[str], consent_given: bool, consent_version: str,
                        submission_key: str) -> SentReferral:
        """Store the referral, its consent proof and the first lead, and queue that lead's e-mail: all or nothing."""
        if not consent_given:
            raise InputError("tick the consent box naming the firms: nothing is sent without it",
                             code="consent_required", http_status=422)
        if consent_version != CONSENT_VERSION:
            raise InputError("the consent text has changed since the page was shown: read it again and confirm",
                             code="consent_outdated", http_status=409)
        chosen = list(dict.fromkeys(c for c in chosen if isinstance(c, str) and c))
        if not 1 <= len(chosen) <= MAX_CHOSEN:
            raise InputError(f"choose between 1 and {MAX_CHOSEN} firms (got {len(chosen)})", code="bad_choice",
                             http_status=422)
        if not submission_key or len(submission_key) > 64:
            raise InputError("the form has no submission key: reload the page", code="bad_submission")
        now = self.clock()
        need = request.as_need()
        from ..mail import Email  # the platform's outbox (services-9b)

        try:
            with self.db.transaction() as s:
                if s.scalar(select(Referral.id).where(Referral.submission_key == submission_key)) is not None:
                    raise InputError("this request was already sent (the form was submitted twice); "
                                     "nothing more was sent", code="duplicate_submission", http_status=409)
                rows = {p.id: p for p in s.scalars(select(Partner).where(Partner.id.in_(chosen))
                                                   .with_for_update())}
                snaps = {p.id: p for p in self.snapshots(s, now) if p.id in rows}
                for pid in chosen:
                    if pid not in rows:
                        raise InputError(f"unknown partner {pid!r}: choose from the suggestions", code="unknown_partner",
                                         http_status=422)
                    why = scoring.refusal(need, snaps[pid], now.date())
                    if why == "capacity":
                        raise InputError(f"{rows[pid].name} has no capacity left this month: choose another firm",
                                         code="partner_at_capacity", http_status=409)
                    if why is not None:
                        raise InputError(f"{rows[pid].name} cannot take this request ({why}): choose another firm",
                                         code="partner_unavailable", http_status=409)
                email_hash = self.hasher.email_digest(request.contact_email)
                enc = self.cipher.encrypt
                ref = Referral(id=new_id(), submission_key=submission_key, language=request.language, company=enc(request.company),
                               siren=request.siren, sector=request.sector, size=request.size, region=request.region,
                               on_site=request.on_site, data_kinds=list(request.data_kinds), budget=request.budget,
                               need=enc(request.need), contact_name=enc(request.contact_name),
                               contact_email=enc(request.contact_email), contact_email_hash=email_hash,
                               contact_phone=enc(request.contact_phone) if request.contact_phone else None,
                               chosen=chosen, source=request.source, status="open", created_at=now, last_event_at=now)
                s.add(ref)
                s.flush()  # the referral row first: the consent record refers to it
                names = [rows[pid].name for pid in chosen]
                shown = consent_text(request.language, names)
                s.add(ConsentRecord(referral_id=ref.id, contact_email_hash=email_hash, partner_ids=chosen,
                                    partner_names=names, text_version=consent_version, text_hash=text_hash(shown),
                                    language=request.language, given_at=now))
                s.flush()
                first = rows[chosen[0]]
                sims = self.similarities(request.need, [first])
                match = scoring.score_partner(need, snaps[first.id], sims.get(first.id, 0.0), now.date())
                lead = self._offer(s, ref, first, 0, match, now)
                outbox_id = self.mailer.queue(self._lead_email(first, lead, Email), session=s)
        except IntegrityError as e:
            if "submission_key" not in str(e.orig):
                raise
            raise InputError("this request was already sent (the form was submitted twice); nothing more was sent",
                             code="duplicate_submission", http_status=409) from None
        return SentReferral(ref.id, first.name, outbox_id)

    def _offer(self, s, ref: Referral, partner: Partner, rank: int, match: Match | None, now: datetime) -> Lead:
        lead = Lead(id=new_id(), referral=ref, partner=partner, rank=rank, score=match.score if match else 0.0,
                    reasons=list(match.reasons) if match else [], state="offered", offered_at=now,
                    expires_at=now + timedelta(hours=LEAD_HOURS))
        s.add(lead)
        partner.last_assigned_at = now
        ref.last_event_at = now
        s.flush()
        return lead

    def lead_link(self, lead_id: str) -> str:
        """The absolute sign-in link to a lead (signed; valid LINK_MAX_AGE)."""
        return f"{self.public_origin}/partner/leads/{self.links.dumps(lead_id)}"

    def _lead_email(self, partner: Partner, lead: Lead, Email):
        """The partner's notice: no personal data, a link to sign in, the deadline."""
        lang = "fr" if "fr" in (partner.languages or ["fr"]) else "en"
        deadline = lead.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        subject = translate(lang, N_("New referral waiting for your answer"))
        text = translate(lang, N_("Hello,\n\nA visitor of the GDPR assistant chose your firm and asked to be put in "
                                  "touch. Sign in to read the request and accept or decline it before %(deadline)s; "
                                  "after that it goes to the next firm the visitor chose.\n\n%(link)s\n\n"
                                  "This e-mail holds no personal data: the request is only shown once you are "
                                  "signed in.\n"), deadline=deadline, link=self.lead_link(lead.id))
        to = self.cipher.decrypt(partner.contact_email)
        return Email(to=to, subject=subject, text=text, category="matching.lead")

    # -- the partner's side ---------------------------------------------------------------------------
    def partner_of_user(self, s, user_email: str) -> Partner | None:
        """The partner whose contact e-mail is this user's (found by keyed hash)."""
        return s.scalars(select(Partner).where(Partner.contact_email_hash == self.hasher.email_digest(user_email))
                         ).one_or_none()

    def lead_id_of(self, token: str) -> str:
        """The lead id in a link; LeadLinkError when forged or expired."""
        try:
            return self.links.loads(token, max_age=LINK_MAX_AGE)
        except SignatureExpired:
            raise LeadLinkError("this link has expired: open your leads from the partner area", code="link_expired",
                                http_status=410) from None
        except BadSignature:
            raise LeadLinkError("this link is not valid: open your leads from the partner area", code="link_invalid",
                                http_status=404) from None

    def partner_leads(self, user_id: int, user_email: str) -> list[LeadView]:
        """The signed-in partner's own leads, newest first (no contact data in the list)."""
        with self.db.reading() as s:
            partner = self.partner_of_user(s, user_email)
            if partner is None:
                return []
            leads = s.scalars(select(Lead).where(Lead.partner_id == partner.id).order_by(Lead.offered_at.desc())).all()
            return [self._view(lead, contact=False) for lead in leads]

    def open_lead(self, token: str, user_id: int, user_email: str, action: str = "view") -> LeadView:
        """A lead for its partner (marked viewed, logged); another partner's is refused (logged too)."""
        lead_id = self.lead_id_of(token)
        now = self.clock()
        refused = None
        with self.db.transaction() as s:
            lead = s.get(Lead, lead_id, with_for_update=True)
            partner = self.partner_of_user(s, user_email)
            if lead is None or partner is None or lead.partner_id != partner.id:
                s.add(LeadAccess(at=now, lead_id=lead_id if lead else None, user_id=user_id, action=action,
                                 allowed=False))
                refused = LeadLinkError("this lead is not one of yours", code="not_your_lead", http_status=403)
            else:
                s.add(LeadAccess(at=now, lead_id=lead.id, user_id=user_id, action=action, allowed=True))
                if action == "view" and lead.state == "offered" and lead.expires_at > now:
                    lead.state, lead.viewed_at = "viewed", now
                    lead.referral.last_event_at = now
                elif action != "view":
                    self._transition(s, lead, action, now)
                return self._view(lead, contact=lead.state in ("accepted", "won", "lost"))
        raise refused  # after the transaction: the refusal stays logged

    def _transition(self, s, lead: Lead, action: str, now: datetime) -> None:
        target = {"accept": "accepted", "decline": "declined", "won": "won", "lost": "lost"}.get(action)
        if target is None:
            raise InputError(f"unknown action {action!r}", code="bad_action", http_status=422)
        if lead.state in OPEN_STATES and lead.expires_at <= now:
            raise InputError("this lead has expired (48 hours without an answer) and went to the next firm",
                             code="lead_expired", http_status=409)
        if target not in TRANSITIONS.get(lead.state, ()):
            raise InputError(f"a lead that is {lead.state} cannot become {target}", code="bad_transition",
                             http_status=409)
        lead.state = target
        lead.referral.last_event_at = now
        if target in ("accepted", "declined"):
            lead.decided_at = now
            lead.viewed_at = lead.viewed_at or now
        else:
            lead.closed_at = now
        if target == "accepted":
            lead.referral.status = "placed"
        elif target == "declined":
            self._offer_next(s, lead.referral, now)

    def _offer_next(self, s, ref: Referral, now: datetime) -> Lead | None:
        """Offer the referral to the next firm the visitor chose that can take it, or mark it unplaced."""
        from ..mail import Email

        offered = {lead.partner_id for lead in ref.leads}
        need = Need(sector=ref.sector, size=ref.size, region=ref.region, language=ref.language,
                    specialisms=frozenset(scoring.DATA_KINDS[k] for k in ref.data_kinds), budget=ref.budget,
                    on_site=ref.on_site)
        snaps = {p.id: p for p in self.snapshots(s, now)}
        for rank, pid in enumerate(ref.chosen):
            if pid in offered or pid not in snaps or scoring.refusal(need, snaps[pid], now.date()) is not None:
                continue
            partner = s.get(Partner, pid)
            match = scoring.score_partner(need, snaps[pid], 0.0, now.date())
            lead = self._offer(s, ref, partner, rank, match, now)
            self.mailer.queue(self._lead_email(partner, lead, Email), session=s)
            return lead
        ref.status = "unplaced"
        ref.last_event_at = now
        return None

    def expire_leads(self, now: datetime | None = None) -> int:
        """Leads unanswered for 48 hours become expired and go to the next chosen firm; returns how many."""
        now = now or self.clock()
        count = 0
        with self.db.transaction() as s:
            due = s.scalars(select(Lead).where(Lead.state.in_(OPEN_STATES), Lead.expires_at <= now)
                            .with_for_update(skip_locked=True)).all()
            for lead in due:
                lead.state, lead.closed_at = "expired", now
                self._offer_next(s, lead.referral, now)
                count += 1
        return count

    # -- the console ----------------------------------------------------------------------------------
    def funnel(self) -> Funnel:
        """Leads offered, viewed, accepted, won (each stage counts the leads that reached it), and by state."""
        with self.db.reading() as s:
            by_state = dict(s.execute(select(Lead.state, func.count()).group_by(Lead.state)).all())
            refs = dict(s.execute(select(Referral.status, func.count()).group_by(Referral.status)).all())
            viewed = s.scalar(select(func.count()).select_from(Lead).where(Lead.viewed_at.is_not(None))) or 0
        f = Funnel(by_state=by_state)
        f.offered = sum(by_state.values())
        f.viewed = viewed
        f.accepted = sum(by_state.get(k, 0) for k in ("accepted", "won", "lost"))
        for k in ("declined", "expired", "won", "lost"):
            setattr(f, k, by_state.get(k, 0))
        f.referrals, f.unplaced = sum(refs.values()), refs.get("unplaced", 0)
        return f

    def referral_rows(self, limit: int | None = 200) -> list[dict]:
        """Referrals newest first for the console and the CSV export: no contact data, one row per lead."""
        with self.db.reading() as s:
            q = select(Lead, Referral, Partner.name).join(Referral, Lead.referral_id == Referral.id) \
                .join(Partner, Lead.partner_id == Partner.id).order_by(Referral.created_at.desc(), Lead.rank)
            if limit:
                q = q.limit(limit)
            return [{"referral": r.id, "created_at": r.created_at, "source": r.source, "sector": r.sector,
                     "size": r.size, "region": r.region, "budget": r.budget or "", "status": r.status,
                     "partner": name, "rank": lead.rank + 1, "score": round(lead.score, 2), "state": lead.state,
                     "offered_at": lead.offered_at, "decided_at": lead.decided_at, "closed_at": lead.closed_at}
                    for lead, r, name in s.execute(q).all()]

    def log_access(self, user_id: int | None, action: str, lead_id: str | None = None) -> None:
        """Record an operator's access to referrals (the CSV export) in the access log."""
        with self.db.transaction() as s:
            s.add(LeadAccess(at=self.clock(), lead_id=lead_id, user_id=user_id, action=action, allowed=True))

    def _view(self, lead: Lead, contact: bool) -> LeadView:
        ref = lead.referral
        dec = self.cipher.decrypt
        extra = {}
        if contact:
            extra = dict(company=dec(ref.company), siren=ref.siren, contact_name=dec(ref.contact_name),
                         contact_email=dec(ref.contact_email),
                         contact_phone=dec(ref.contact_phone) if ref.contact_phone else None)
        return LeadView(id=lead.id, state=lead.state, offered_at=lead.offered_at, expires_at=lead.expires_at,
                        sector=ref.sector, size=ref.size, region=ref.region, on_site=ref.on_site,
                        data_kinds=list(ref.data_kinds), budget=ref.budget, need=dec(ref.need), language=ref.language,
                        token=self.links.dumps(lead.id), **extra)


def snapshot(p: Partner, load: int = 0) -> PartnerSnapshot:
    """The matching view of a partner row."""
    return PartnerSnapshot(id=p.id, name=p.name, kind=p.kind, sectors=frozenset(p.sectors or ()),
                           specialisms=frozenset(p.specialisms or ()), regions=frozenset(p.regions or ()),
                           languages=frozenset(p.languages or ()), sizes=frozenset(p.sizes or ()),
                           budget=p.budget_band, certification_body=p.certification_body,
                           certified_until=p.certified_until, capacity=p.capacity, active=p.active, load=load,
                           last_assigned_at=p.last_assigned_at)


def profile_text(p: Partner) -> str:
    """What the need's text is compared with: the partner's own description and its lists."""
    return " ".join([p.name, p.profile or "", " ".join(p.specialisms or ()), " ".join(p.sectors or ())])


def profile_key(p: Partner) -> str:
    """Changes when the profile text does (the cached vector is then recomputed)."""
    return hashlib.sha256(profile_text(p).encode()).hexdigest()[:16]


__all__ = ["CONSENT_VERSION", "LeadLinkError", "LeadView", "MatchingService", "ReferralInvalid", "ReferralRequest",
           "consent_text", "parse_request", "valid_siren"]
