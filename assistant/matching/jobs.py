"""Matching's background jobs: leads unanswered for 48 hours expire and go to the next chosen firm."""

from __future__ import annotations

import logging

from ..jobs import periodic

log = logging.getLogger(__name__)


@periodic("matching.expire_leads", every=300)
def expire_leads(services) -> int:
    """Expire overdue leads and offer each referral to the next firm the visitor chose (every 5 minutes)."""
    count = services.matching.expire_leads()
    if count:
        log.info("matching: %d lead(s) expired and passed on", count)
    return count
