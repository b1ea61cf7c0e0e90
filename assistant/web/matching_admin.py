"""The console's partner pages (added to the operator blueprint ``admin.bp``): the directory (create,
edit, pause), the referrals with their funnel drawn as inline SVG by the server, and a CSV export.

The export and the lists carry no contact data of visitors: states, dates, sectors and firms only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from flask import Response, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..errors import InputError
from ..matching import scoring
from ..matching.service import PartnerInvalid
from . import current_services
from .admin import bp

CSV_COLUMNS = ("referral", "created_at", "source", "sector", "size", "region", "budget", "status", "partner", "rank",
               "score", "state", "offered_at", "decided_at", "closed_at")
LIST_FIELDS = ("sectors", "specialisms", "regions", "languages", "sizes")


@dataclass(frozen=True)
class FunnelBar:
    """One stage of the funnel chart: its label, count, and the bar's width and vertical position."""

    label: str
    count: int
    width: float
    y: float


def funnel_bars(stages: list[tuple[str, int]], width: float = 400.0, step: float = 34.0) -> list[FunnelBar]:
    """Horizontal bars scaled to the first stage (the widest), one per stage from the top."""
    top = max((n for _label, n in stages), default=0) or 1
    return [FunnelBar(label, n, round(width * n / top, 2), i * step) for i, (label, n) in enumerate(stages)]


def _form_data() -> dict:
    data = request.form.to_dict()
    for name in LIST_FIELDS:
        data[name] = request.form.getlist(name)
    data["active"] = request.form.get("active") == "yes"
    return data


def _options() -> dict:
    from .matching import labels

    lab = labels()
    return {"kinds": lab["kind"], "sectors": lab["sector"], "sizes": lab["size"], "regions": lab["region"],
            "budgets": lab["budget"], "specialisms": {k: k for k in scoring.SPECIALISMS},
            "languages": {k: k for k in scoring.LANGUAGES}, "pricing": {k: k for k in scoring.PRICING_MODELS}}


@bp.get("/partners")
def partners():
    """The partner directory: every partner, its load this month and state."""
    return render_template("admin/partners.html", partners=current_services().matching.list_partners())


@bp.route("/partners/new", methods=["GET", "POST"])
def partner_new():
    """Add a partner."""
    return _partner_form(None)


@bp.route("/partners/<partner_id>", methods=["GET", "POST"])
def partner_edit(partner_id: str):
    """Edit a partner."""
    return _partner_form(partner_id)


def _partner_form(partner_id: str | None):
    matching = current_services().matching
    errors = {}
    if request.method == "POST":
        data = _form_data()
        try:
            matching.save_partner(data, partner_id)
            return redirect(url_for("admin.partners", saved=1))
        except PartnerInvalid as e:
            errors = e.fields
        values = data
        status = 422
    else:
        values = matching.get_partner(partner_id) if partner_id else {"active": True, "capacity": 10,
                                                                         "languages": ["fr"]}
        status = 200
    return render_template("admin/partner_form.html", values=values, errors=errors, partner_id=partner_id,
                           options=_options()), status


@bp.post("/partners/<partner_id>/active")
def partner_active(partner_id: str):
    """Pause or resume a partner."""
    current_services().matching.set_active(partner_id, request.form.get("active") == "yes")
    return redirect(url_for("admin.partners"))


@bp.post("/partners/<partner_id>/delete")
def partner_delete(partner_id: str):
    """Delete a partner that never received a lead (one with leads can only be paused)."""
    try:
        current_services().matching.delete_partner(partner_id)
    except InputError as e:
        if e.code != "partner_has_leads":
            raise
        return render_template("admin/partners.html", partners=current_services().matching.list_partners(),
                               error=_("This partner has received leads: their history is kept. Pause it instead.")), 409
    return redirect(url_for("admin.partners", deleted=1))


@bp.get("/referrals")
def referrals():
    """Referrals and their leads, with the funnel (offered, viewed, accepted, won)."""
    matching = current_services().matching
    f = matching.funnel()
    stages = [(_("Offered"), f.offered), (_("Viewed"), f.viewed), (_("Accepted"), f.accepted), (_("Won"), f.won)]
    return render_template("admin/referrals.html", funnel=f, bars=funnel_bars(stages),
                           rows=matching.referral_rows(limit=200))


@bp.get("/referrals.csv")
def referrals_csv():
    """Every lead as CSV (no contact data); the export is logged."""
    matching = current_services().matching
    rows = matching.referral_rows(limit=None)
    matching.log_access(g.user.id, "export")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (v.isoformat() if hasattr(v, "isoformat") else ("" if v is None else v))
                         for k, v in r.items()})
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="referrals.csv"'})


__all__ = ["FunnelBar", "funnel_bars"]
