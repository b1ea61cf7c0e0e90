"""The partner area (/partner): a partner DPO's own leads, and each lead's page.

Every route needs a partner user signed in with their second factor (``require_role``). A partner
user is the partner whose contact e-mail is theirs (found by keyed hash). A lead is shown only to
its partner, with only what is needed to answer (the visitor's contact details once accepted), and
every access, allowed or refused, is written to the lead access log.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..errors import InputError
from ..matching.service import LeadLinkError
from . import current_services
from .accounts import require_role
from .security import limited

bp = Blueprint("partner", __name__, url_prefix="/partner")
require_role(bp, "partner")
ACTIONS = ("accept", "decline", "won", "lost")


@bp.get("/")
def index():
    """The partner's leads (referrals offered to them), newest first."""
    leads = current_services().matching.partner_leads(g.user.id, g.user.email)
    return render_template("partner/index.html", leads=leads)


def _refused(e: InputError):
    messages = {"link_expired": _("This link has expired. Your leads are listed on your page."),
                "link_invalid": _("This link is not valid. Your leads are listed on your page."),
                "not_your_lead": _("This lead is not one of yours. The attempt was recorded."),
                "lead_expired": _("This lead has expired (48 hours without an answer) and went to the next firm."),
                "bad_transition": _("This lead cannot change that way now.")}
    return render_template("partner/refused.html", message=messages.get(e.code, e.message)), e.http_status


@bp.get("/leads/<token>")
def lead(token: str):
    """One lead (from the e-mail's link or the list); opening it marks it viewed."""
    try:
        view = current_services().matching.open_lead(token, g.user.id, g.user.email)
    except LeadLinkError as e:
        return _refused(e)
    return render_template("partner/lead.html", lead=view)


@bp.post("/leads/<token>")
@limited("signin_rate_limit", methods=["POST"])
def decide(token: str):
    """Accept or decline a lead, then won or lost once accepted."""
    action = request.form.get("action", "")
    if action not in ACTIONS:
        return _refused(InputError(_("Unknown action."), code="bad_action", http_status=422))
    try:
        current_services().matching.open_lead(token, g.user.id, g.user.email, action=action)
    except InputError as e:
        return _refused(e)
    return redirect(url_for("partner.lead", token=token))
