"""Find a DPO (/dpo): the need, the suggested partners and why, the choice, the consent, sent.

Three posts, and nothing is stored before the last one: the validated form travels between the
steps as a signed and encrypted draft (a hidden field, valid an hour); the consent step names each chosen firm
next to an unticked box, and sending stores the referral, the consent proof and the first lead and
queues the partner's e-mail in one transaction (``MatchingService.create_referral``).
"""

from __future__ import annotations

import secrets

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..errors import DecryptionError, InputError
from ..matching import scoring
from ..matching.service import (
    CONSENT_VERSION,
    MAX_CHOSEN,
    ReferralInvalid,
    ReferralRequest,
    consent_text,
    parse_request,
)
from . import current_services
from .i18n import page_language
from .security import limited

bp = Blueprint("matching", __name__, url_prefix="/dpo")
DRAFT_SALT = "matching.draft"
DRAFT_MAX_AGE = 3600
# The chat's referral codes, and the kinds of data each one pre-ticks in the form.
TOPIC_KINDS = {"health": ["health"], "breach": ["security"], "transfer": ["abroad"], "dpia": [], "inspection": [],
               "intent": [], "designation": [], "low_confidence": []}


def labels() -> dict:
    """Every choice of the form, in the page language."""
    return {
        "sector": {"health": _("Health and care"), "retail": _("Retail and e-commerce"), "industry": _("Industry"),
                   "finance": _("Banking, insurance, finance"), "public": _("Public sector"),
                   "education": _("Education"), "tech": _("Software and digital services"),
                   "nonprofit": _("Associations and non-profits"), "hospitality": _("Hotels, restaurants, tourism"),
                   "construction": _("Construction and trades"), "transport": _("Transport and logistics"),
                   "services": _("Other services")},
        "size": {"1-9": _("1 to 9 people"), "10-49": _("10 to 49 people"), "50-249": _("50 to 249 people"),
                 "250+": _("250 people or more")},
        "region": {"ARA": "Auvergne-Rhône-Alpes", "BFC": "Bourgogne-Franche-Comté", "BRE": "Bretagne",
                   "CVL": "Centre-Val de Loire", "COR": "Corse", "GES": "Grand Est", "HDF": "Hauts-de-France",
                   "IDF": "Île-de-France", "NOR": "Normandie", "NAQ": "Nouvelle-Aquitaine", "OCC": "Occitanie",
                   "PDL": "Pays de la Loire", "PAC": "Provence-Alpes-Côte d'Azur", "DOM": _("Overseas")},
        "budget": {"low": _("Tight (under 2,000 € a year)"), "medium": _("Medium (2,000 to 8,000 € a year)"),
                   "high": _("Large (over 8,000 € a year)")},
        "data_kinds": {"health": _("Health data"), "employees": _("Employee data"),
                       "customers": _("Customers and prospects"), "video": _("Video surveillance"),
                       "children": _("Children's data"), "abroad": _("Data sent outside the EU"),
                       "security": _("A security incident or breach"), "ai": _("AI or automated decisions")},
        "kind": {"external_dpo": _("External DPO"), "consultant": _("Consultant"), "lawyer": _("Lawyer")},
    }


def field_errors(e: ReferralInvalid) -> dict[str, str]:
    """Each bad field's message in the page language, saying how to fix it."""
    out = {}
    for name, code in e.codes.items():
        if name == "siren":
            out[name] = _("This SIREN is not valid: it has 9 digits and a check digit. Copy it from your Kbis or "
                          "from annuaire-entreprises.data.gouv.fr, or leave the field empty.")
        elif name == "contact_email":
            out[name] = _("Enter an e-mail address like name@company.fr.")
        elif name == "contact_phone":
            out[name] = _("Enter a phone number with digits, spaces and + only, like +33 1 23 45 67 89.")
        elif code == "required":
            out[name] = _("This field is required.")
        elif code == "too_long":
            out[name] = _("This text is too long: shorten it.")
        else:
            out[name] = _("Choose one of the options in the list.")
    return out


def _drafts() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=DRAFT_SALT)


def _read_draft() -> tuple[ReferralRequest, str]:
    """The request carried by the form's signed draft, and its submission key; InputError when bad or old."""
    try:
        signed = current_services().cipher.decrypt(request.form.get("draft", ""))
        data = _drafts().loads(signed, max_age=DRAFT_MAX_AGE)
    except SignatureExpired:
        raise InputError(_("This form is more than an hour old: fill it in again, nothing was sent."),
                         code="draft_expired", http_status=400) from None
    except (BadSignature, DecryptionError):
        raise InputError(_("This form was altered or is incomplete: fill it in again, nothing was sent."),
                         code="draft_invalid", http_status=400) from None
    values = dict(data["request"])
    values["data_kinds"] = tuple(values.get("data_kinds") or ())
    return ReferralRequest(**values), data["key"]


def _suggestions(req: ReferralRequest):
    return current_services().matching.suggest(req.as_need(), limit=5)


@bp.get("")
def form():
    """The short form: company, sector, headcount, region, need, kinds of data, budget, contact."""
    topic = request.args.get("topic", "")
    asked = [k for k in request.args.get("kinds", "").split(",") if k in scoring.DATA_KINDS]
    kinds = list(dict.fromkeys([*TOPIC_KINDS.get(topic, []), *asked]))
    values = {"data_kinds": kinds, "source": "chat" if request.args.get("from") == "chat" else "dpo"}
    return render_template("dpo/form.html", values=values, errors={}, labels=labels())


@bp.post("")
@limited("referral_rate_limit", methods=["POST"])
def need():
    """Step 1 posted: validate, then show the matching partners and why."""
    data = request.form.to_dict()
    data["data_kinds"] = request.form.getlist("data_kinds")
    try:
        req = parse_request(data, page_language())
    except ReferralInvalid as e:
        return render_template("dpo/form.html", values=data, errors=field_errors(e), labels=labels()), 422
    # Signed (an hour) and encrypted: the contact details never sit in the page in clear.
    draft = current_services().cipher.encrypt(_drafts().dumps({"request": req.to_dict(),
                                                               "key": secrets.token_urlsafe(24)}))
    matches = _suggestions(req)
    return render_template("dpo/choose.html", draft=draft, matches=matches, need=req.as_need(), labels=labels(),
                           lang=page_language(), error=None, max_chosen=MAX_CHOSEN)


@bp.post("/choose")
@limited("referral_rate_limit", methods=["POST"])
def choose():
    """Step 2 posted: the visitor's 1 to 3 firms; show the consent naming each of them."""
    req, _key = _read_draft()
    chosen = list(dict.fromkeys(request.form.getlist("partner")))
    matches = _suggestions(req)
    by_id = {m.id: m for m in matches}
    if not 1 <= len(chosen) <= MAX_CHOSEN or any(c not in by_id for c in chosen):
        error = (_("Choose between 1 and %(n)s firms.", n=MAX_CHOSEN) if chosen else
                 _("Choose at least one firm."))
        if any(c not in by_id for c in chosen):
            error = _("A firm you chose is no longer available: choose again among these.")
        return render_template("dpo/choose.html", draft=request.form["draft"], matches=matches, need=req.as_need(),
                               labels=labels(), lang=page_language(), error=error, max_chosen=MAX_CHOSEN), 422
    names = [by_id[c].partner.name for c in chosen]
    return render_template("dpo/consent.html", draft=request.form["draft"], chosen=chosen, names=names,
                           consent=consent_text(req.language, names), version=CONSENT_VERSION, error=None)


@bp.post("/send")
@limited("referral_rate_limit", methods=["POST"])
def send():
    """Step 3 posted: with the box ticked, store and send (one transaction); else say what is missing."""
    req, key = _read_draft()
    chosen = request.form.getlist("partner")
    consent = request.form.get("consent") == "yes"
    services = current_services()
    try:
        sent = services.matching.create_referral(req, chosen, consent, request.form.get("consent_version", ""), key)
    except InputError as e:
        names = services.matching.partner_names(chosen)
        messages = {"consent_required": _("Tick the box to agree: nothing is sent without your consent."),
                    "duplicate_submission": _("This request was already sent: we did not send it a second time."),
                    "partner_at_capacity": _("A firm you chose has just reached its number of requests for this "
                                             "month: go back and choose another one."),
                    "consent_outdated": _("The consent text has changed: read it again and confirm.")}
        message = messages.get(e.code, _("This request cannot be sent: %(reason)s", reason=e.message))
        status = 409 if e.code == "duplicate_submission" else e.http_status
        return render_template("dpo/consent.html", draft=request.form.get("draft", ""), chosen=chosen, names=names,
                               consent=consent_text(req.language, names) if names else "", version=CONSENT_VERSION,
                               error=message, done=e.code == "duplicate_submission"), status
    session["dpo_sent"] = sent.first_partner
    return redirect(url_for("matching.sent"))


@bp.get("/sent")
def sent():
    """The confirmation: who gets the request first, and what happens next."""
    return render_template("dpo/sent.html", first=session.get("dpo_sent"))


def labels_for(name: str, values) -> list[str]:
    """Labels of a list of codes (for the templates)."""
    table = labels().get(name, {})
    return [table.get(v, v) for v in values]


@bp.app_template_global()
def choice_labels(name: str, values) -> list[str]:
    """Template helper: the labels of ``values`` in the ``name`` list."""
    return labels_for(name, values)


@bp.app_template_global()
def choice_label(name: str, value) -> str:
    """Template helper: the label of one value."""
    return labels().get(name, {}).get(value, value or "")


@bp.app_template_global()
def state_label(state: str) -> str:
    """A lead state in the page language."""
    return {"offered": _("Offered"), "viewed": _("Viewed"), "accepted": _("Accepted"), "declined": _("Declined"),
            "expired": _("Expired"), "won": _("Won"), "lost": _("Lost"), "open": _("Open"), "placed": _("Placed"),
            "unplaced": _("Not placed")}.get(state, state)


@bp.app_template_global()
def action_label(action: str) -> str:
    """A partner's action on a lead, as its button says it."""
    return {"accept": _("Accept"), "decline": _("Decline"), "won": _("Mark as won"),
            "lost": _("Mark as lost")}.get(action, action)


__all__ = ["bp", "labels", "scoring"]
