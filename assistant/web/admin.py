"""The operator console (/admin): what visitors ask, what we could not answer, what they thought.

Every route here needs an operator signed in with their second factor (``require_role``). Charts
are SVG drawn by the template (no script, no third party), each with the same figures as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import Blueprint, render_template
from flask_babel import gettext as _

from ..chat.analytics import answers_by_status_per_day, frequent_unanswered_questions, recent_feedback
from ..db import utcnow
from . import current_services
from .accounts import require_role

bp = Blueprint("admin", __name__, url_prefix="/admin")
require_role(bp, "operator")

STATUSES = ("answered", "no_answer", "out_of_scope")
DAYS = 30


@dataclass(frozen=True)
class DayBar:
    """One day of the chart: counts per status, and the stacked segments to draw (y, height) per status."""

    day: date
    counts: dict[str, int]
    segments: list[tuple[str, float, float]]

    @property
    def total(self) -> int:
        """Answers that day."""
        return sum(self.counts.values())


def day_bars(rows, today: date, days: int = DAYS, height: float = 160.0) -> tuple[list[DayBar], int]:
    """Every day of the last ``days`` (empty ones too) with stacked segments scaled to ``height``; the max."""
    counts = {(r.day, r.status): r.count for r in rows}
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    totals = [sum(counts.get((d, s), 0) for s in STATUSES) for d in span]
    peak = max(totals, default=0) or 1
    bars = []
    for d in span:
        y = height
        segments = []
        per_status = {s: counts.get((d, s), 0) for s in STATUSES}
        for s in STATUSES:
            h = height * per_status[s] / peak
            if h:
                y -= h
                segments.append((s, round(y, 2), round(h, 2)))
        bars.append(DayBar(d, per_status, segments))
    return bars, max(totals, default=0)


@bp.get("/")
def index():
    """The console's overview: answers by status per day, frequent unanswered questions, recent feedback."""
    services = current_services()
    now = utcnow()
    with services.database.reading() as s:
        per_day = answers_by_status_per_day(s, days=DAYS, now=now)
        unanswered = frequent_unanswered_questions(s, limit=20, days=DAYS, now=now)
        feedback = recent_feedback(s, limit=20)
    bars, peak = day_bars(per_day, now.date())
    totals = {st: sum(b.counts[st] for b in bars) for st in STATUSES}
    labels = {"answered": _("Answered"), "no_answer": _("No answer"), "out_of_scope": _("Out of scope")}
    return render_template("admin/index.html", bars=bars, peak=peak, totals=totals, statuses=STATUSES,
                           status_labels=labels,
                           unanswered=unanswered, feedback=feedback, days=DAYS)
