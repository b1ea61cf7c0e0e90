"""The partner area (/partner): what a partner DPO sees once signed in.

For now an empty "your leads" page; the matching feature adds its routes to ``bp`` and they are
protected like this one (a partner user signed in with their second factor).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from .accounts import require_role

bp = Blueprint("partner", __name__, url_prefix="/partner")
require_role(bp, "partner")


@bp.get("/")
def index():
    """The partner's leads (referrals sent to them): none until partner matching exists."""
    return render_template("partner/index.html", leads=[])
