"""The newsletter's pages: /newsletter (sign-up, data-access link), the confirmation, unsubscribe, re-permission
and rights pages, the JSON sign-up the chat page and the widget use, and the operator's pages (/admin/newsletter).

A GET never changes anything: the links in e-mails open a page whose button confirms, keeps, unsubscribes
or erases (mail scanners follow links). The one exception to CSRF is the RFC 8058 one-click unsubscribe
POST, which mail providers send without a session: the signed token in its URL is its authority.
Whatever the address's state, a sign-up and a data-access request answer the same.
"""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..errors import InputError
from ..newsletter.service import FORM_VERSION, TOPICS, consent_text
from . import current_services
from .accounts import require_role
from .i18n import page_language
from .security import check_api_request, client_address, cors_headers, limited

bp = Blueprint("newsletter", __name__, url_prefix="/newsletter")
api_bp = Blueprint("newsletter_api", __name__, url_prefix="/api/newsletter")
admin_bp = Blueprint("newsletter_admin", __name__, url_prefix="/admin/newsletter")
require_role(admin_bp, "operator")

SOURCES = ("newsletter", "chat", "widget")
TOPIC_LABELS = {"decisions": _l("CNIL decisions and sanctions"), "faq": _l("Answers to common questions"),
                "employment": _l("Employees and HR"), "marketing": _l("Marketing and prospecting"),
                "security": _l("Security and data breaches")}
STATE_LABELS = {"pending": _l("Awaiting confirmation"), "confirmed": _l("Confirmed"),
                "unsubscribed": _l("Unsubscribed"), "bounced": _l("Bounced"), "complained": _l("Complained")}


def signup_sent_message() -> str:
    """The one answer to every acceptable sign-up (it never tells whether the address was known)."""
    return _("Thank you. If this address can receive our newsletter, a confirmation e-mail is on its way: open "
             "the link it contains to confirm. Nothing is sent without that confirmation.")


def rights_sent_message() -> str:
    """The one answer to every acceptable data-access request."""
    return _("If this address is subscribed, we have sent it a link to see, download or erase its data. "
             "The link expires in one hour.")


def input_message(e: InputError) -> str:
    """A bad input's message in the page language."""
    return {
        "email_required": _("Enter your e-mail address."),
        "invalid_email": _("This e-mail address is not valid. Check it has the form name@example.fr."),
        "consent_required": _("Tick the consent box to subscribe: we only write to people who asked."),
        "invalid_topic": _("Choose topics from the list."),
        "invalid_language": _("Choose French or English."),
        "invalid_link": _("This link is not valid or has expired. Sign up again or ask for a new link below."),
    }.get(e.code, e.message)


def admin_message(e: InputError) -> str:
    """An operator's bad input, in the page language."""
    from ..newsletter.service import MAX_BODY, MAX_SUBJECT

    return {
        "subject_required": _("Give the issue a subject."),
        "subject_too_long": _("The subject is too long (%(n)s characters at most).", n=MAX_SUBJECT),
        "body_required": _("Write the issue's text (Markdown)."),
        "body_too_long": _("The text is too long (%(n)s characters at most).", n=MAX_BODY),
        "invalid_language": _("Choose French or English."),
        "invalid_topic": _("Choose topics from the list."),
        "already_sent": _("This issue has already been sent (or is being sent): it is never sent twice."),
        "public_origin_required": _("Set PUBLIC_ORIGIN (https://...) before sending: every e-mail needs an absolute "
                                    "unsubscribe link."),
    }.get(e.code, e.message)


def _origin() -> str:
    return request.host_url.rstrip("/")


def _form_context(**extra) -> dict:
    lang = page_language()
    return {"topics": [(t, TOPIC_LABELS[t]) for t in TOPICS], "consent": consent_text(lang),
            "form_version": FORM_VERSION, **extra}


def _signup(values, topics: list[str], consent: bool) -> None:
    source = values.get("source", "newsletter")
    current_services().newsletter.signup(
        values.get("email", ""), consent=consent, language=values.get("language") or page_language(),
        topics=topics, source_page=source if source in SOURCES else "newsletter", ip=client_address(),
        origin=_origin())


# -- visitors ---------------------------------------------------------------------------------------

@bp.get("")
def index():
    """The newsletter page: what it is, the sign-up form, the data-access form."""
    return render_template("newsletter/index.html", **_form_context())


@bp.post("")
@limited("newsletter_rate_limit")
def subscribe():
    """A sign-up from the form (this page or the chat page without script)."""
    form = request.form
    try:
        _signup(form, form.getlist("topics"), form.get("consent") == "yes")
    except InputError as e:
        return render_template("newsletter/index.html", error=input_message(e), values=form,
                               **_form_context()), 422
    return render_template("newsletter/index.html", notice=signup_sent_message(), **_form_context())


@bp.post("/rights")
@limited("newsletter_rate_limit")
def rights_request():
    """Mail a data-access link (same answer whether or not the address is subscribed)."""
    try:
        current_services().newsletter.request_rights_link(request.form.get("email", ""), origin=_origin())
    except InputError as e:
        return render_template("newsletter/index.html", rights_error=input_message(e), **_form_context()), 422
    return render_template("newsletter/index.html", rights_notice=rights_sent_message(), **_form_context())


def _invalid_link(e: InputError):
    """The page for an expired, used or forged e-mailed link (404: it names nothing that exists)."""
    return render_template("newsletter/message.html", title=_("Link not valid"), message=input_message(e),
                           error=True), 404


def _link_page(template: str, token: str, purpose: str, endpoint: str):
    """The page an e-mailed link opens: a button that posts (a GET alone never acts)."""
    try:
        current_services().newsletter.check_token(token, purpose)
    except InputError as e:
        return _invalid_link(e)
    return render_template(template, action=url_for(endpoint, token=token))


@bp.get("/confirm/<token>")
def confirm_page(token: str):
    """The confirmation page: a button, because a GET never confirms (mail scanners open links)."""
    return _link_page("newsletter/confirm.html", token, "confirm", "newsletter.confirm")


@bp.post("/confirm/<token>")
def confirm(token: str):
    """Confirm the sign-up (the token works once)."""
    try:
        current_services().newsletter.confirm(token)
    except InputError as e:
        return _invalid_link(e)
    return render_template("newsletter/message.html", title=_("Subscription confirmed"),
                           message=_("Thank you: your subscription is confirmed. Every e-mail has a link to "
                                     "unsubscribe in one click."))


@bp.get("/keep/<token>")
def keep_page(token: str):
    """The re-permission page: a button to keep the subscription."""
    return _link_page("newsletter/keep.html", token, "repermission", "newsletter.keep")


@bp.post("/keep/<token>")
def keep(token: str):
    """Keep the subscription after the 3-year re-permission e-mail."""
    try:
        current_services().newsletter.keep(token)
    except InputError as e:
        return _invalid_link(e)
    return render_template("newsletter/message.html", title=_("Subscription kept"),
                           message=_("Thank you: you will keep receiving the newsletter."))


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):
    """The visible unsubscribe link's page: one button (a forged link says so at once)."""
    try:
        current_services().newsletter.check_unsubscribe(token)
    except InputError:
        return render_template("newsletter/message.html", title=_("Link not valid"),
                               message=_("This unsubscribe link is not valid. Use the link of a recent e-mail."),
                               error=True), 404
    return render_template("newsletter/unsubscribe.html", action=url_for("newsletter.unsubscribe", token=token))


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str):
    """Unsubscribe: the page's button, or the RFC 8058 one-click POST from a mail provider (no session)."""
    try:
        current_services().newsletter.unsubscribe(token)
    except InputError as e:
        if "List-Unsubscribe" in request.form:
            return jsonify(error={"code": e.code, "message": e.message}), 404
        return render_template("newsletter/message.html", title=_("Link not valid"),
                               message=_("This unsubscribe link is not valid. Use the link of a recent e-mail."),
                               error=True), 404
    if request.form.get("List-Unsubscribe") == "One-Click":
        return Response("unsubscribed\n", mimetype="text/plain")
    return render_template("newsletter/message.html", title=_("Unsubscribed"),
                           message=_("You are unsubscribed: you will receive no more newsletters. We keep only a "
                                     "keyed fingerprint of your address so that it is never added back."))


@bp.get("/rights/<token>")
def rights(token: str):
    """The subscriber's data, with buttons to download it or erase it."""
    try:
        data = current_services().newsletter.data_of(token)
    except InputError as e:
        return _invalid_link(e)
    return render_template("newsletter/rights.html", data=data, token=token, topic_labels=TOPIC_LABELS,
                           state_labels=STATE_LABELS)


@bp.post("/rights/<token>/export")
def export(token: str):
    """The subscriber's data as a JSON file."""
    try:
        data = current_services().newsletter.data_of(token)
    except InputError as e:
        return _invalid_link(e)
    resp = Response(json.dumps(data.as_json(), ensure_ascii=False, indent=2), mimetype="application/json")
    resp.headers["Content-Disposition"] = 'attachment; filename="newsletter-data.json"'
    return resp


@bp.post("/rights/<token>/erase")
def erase(token: str):
    """Erase the subscriber's data (their keyed hash stays in the suppression list)."""
    try:
        current_services().newsletter.erase(token)
    except InputError as e:
        return _invalid_link(e)
    return render_template("newsletter/message.html", title=_("Data erased"),
                           message=_("Your address and everything attached to it are erased. We keep only a keyed "
                                     "fingerprint of the address so that no import can add it back."))


# -- the JSON sign-up of the chat page and the widget ------------------------------------------------

api_bp.before_request(check_api_request)
api_bp.after_request(cors_headers)


@api_bp.post("")
@limited("newsletter_rate_limit")
def api_subscribe():
    """``{"email", "consent": true, "language"?, "topics"?: [...], "source"?}`` → the same message for every address."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError(_("Send a JSON object with email and consent."), code="invalid_json")
    topics = body.get("topics") or []
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise InputError(_("Choose topics from the list."), code="invalid_topic", http_status=422)
    if not isinstance(body.get("email", ""), str):
        raise InputError(_("Enter your e-mail address."), code="email_required", http_status=422)
    try:
        _signup(body, topics, body.get("consent") is True)
    except InputError as e:
        raise InputError(input_message(e), code=e.code, http_status=e.http_status) from None
    return jsonify(status="sent", message=signup_sent_message())


# -- the operator's pages ------------------------------------------------------------------------------

def growth_chart(rows, height: float = 120.0) -> dict:
    """Points of the growth chart (SVG drawn by the template): cumulative net confirmations per day."""
    total, cumulative = 0, []
    for _day, confirmed, ended in rows:
        total += confirmed - ended
        cumulative.append(total)
    lo, hi = min(cumulative, default=0), max(cumulative, default=0)
    span = (hi - lo) or 1
    step = 6
    points = " ".join(f"{40 + i * step},{round(10 + height - height * (v - lo) / span, 1)}"
                      for i, v in enumerate(cumulative))
    return {"points": points, "low": lo, "high": hi, "width": 40 + step * max(len(cumulative) - 1, 1) + 10,
            "height": height + 30, "first": rows[0][0] if rows else None, "last": rows[-1][0] if rows else None}


def _admin_page(**extra):
    nl = current_services().newsletter
    rows = nl.growth(days=90)
    return render_template("newsletter/admin.html", counts=nl.counts_by_state(), state_labels=STATE_LABELS,
                           rows=rows, chart=growth_chart(rows), history=nl.send_history(),
                           topics=[(t, TOPIC_LABELS[t]) for t in TOPICS], **extra)


@admin_bp.get("/")
def admin_index():
    """Counts by state, growth, send history, compose and digest forms, bounce reports."""
    return _admin_page()


@admin_bp.get("/export.csv")
def admin_export():
    """Confirmed subscribers and their consent proof as CSV (personal data: not cached)."""
    rows = current_services().newsletter.confirmed_subscribers()
    out = io.StringIO()
    fields = ["email", "language", "topics", "signed_up_at", "confirmed_at", "form_version", "consent_text_sha256",
              "source_page"]
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        # A cell starting with =, +, - or @ would be a formula in a spreadsheet: quote it.
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in row.items()})
    resp = Response(out.getvalue(), mimetype="text/csv")
    resp.headers["Content-Disposition"] = 'attachment; filename="newsletter-confirmed.csv"'
    return resp


@admin_bp.post("/issues")
def admin_compose():
    """Store a draft issue written in Markdown (or the generated digest, edited)."""
    form = request.form
    try:
        issue_id = current_services().newsletter.create_issue(
            form.get("subject", ""), form.get("body", ""), form.get("language", ""), form.getlist("topics"),
            kind=form.get("kind") if form.get("kind") in ("composed", "digest") else "composed")
    except InputError as e:
        return _admin_page(compose_error=admin_message(e), values=form), 422
    return redirect(url_for("newsletter_admin.admin_issue", issue_id=issue_id))


@admin_bp.post("/digest")
def admin_digest():
    """Fill the compose form with a digest of the newest CNIL decisions and FAQ items."""
    services = current_services()
    lang = request.form.get("language", "")
    try:
        subject, body = services.newsletter.digest(services.sources.docs.values(), lang)
    except InputError as e:
        return _admin_page(compose_error=admin_message(e)), 422
    return _admin_page(values={"subject": subject, "body": body, "language": lang, "kind": "digest"})


@admin_bp.get("/issues/<int:issue_id>")
def admin_issue(issue_id: int, error: str | None = None):
    """One issue: its rendering, and the send button while it is a draft."""
    from .markdown import render_markdown

    issue = current_services().newsletter.issue(issue_id)
    report = next((r for r in current_services().newsletter.send_history(limit=500) if r.issue_id == issue_id), None)
    return render_template("newsletter/admin_issue.html", issue=issue, body_html=render_markdown(issue.body_markdown),
                           report=report, error=error)


@admin_bp.post("/issues/<int:issue_id>/send")
def admin_send(issue_id: int):
    """Queue the sending of a draft issue (never twice)."""
    try:
        current_services().newsletter.start_sending(issue_id)
    except InputError as e:
        if e.http_status == 404:
            raise
        return admin_issue(issue_id, error=admin_message(e)), e.http_status
    return redirect(url_for("newsletter_admin.admin_issue", issue_id=issue_id))


@admin_bp.post("/bounces")
def admin_bounces():
    """Bounce and complaint reports pasted as lines ``address,bounce`` or ``address,complaint``."""
    lines = [ln.strip() for ln in request.form.get("reports", "").splitlines() if ln.strip()]
    try:
        reports = [tuple(part.strip() for part in (ln.split(",", 1) + [""])[:2]) for ln in lines]
        counts = current_services().newsletter.record_delivery_problems(reports)
    except InputError as e:
        return _admin_page(bounce_error=_("Nothing recorded: %(problem)s. One report a line: address,bounce or "
                                          "address,complaint.", problem=e.message)), 422
    return _admin_page(bounce_notice=_("Recorded: %(bounced)s bounced, %(complained)s complaints, %(unknown)s "
                                       "unknown addresses (suppressed too).", bounced=counts["bounced"],
                                       complained=counts["complained"], unknown=counts["unknown"]))


def newsletter_texts() -> dict:
    """The texts newsletter.js shows, in the page language."""
    return {"sending": _("Sending…"), "failed": _("The request failed. Check your connection and try again.")}


@bp.app_context_processor
def _inject():
    return {"newsletter_texts": newsletter_texts, "newsletter_form": _form_context}
