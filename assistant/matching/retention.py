"""How long matching keeps what it stores (the periods and why).

- Referrals (the request and its contact data) and their leads: 3 years after the referral's last
  event (sent, viewed, accepted, won...). The CNIL's reference period for prospect data is 3 years
  from the last contact; a referral is exactly a request to be contacted by a firm.
- Consent proofs: 5 years after consent was given: the limitation period of civil actions (Code
  civil art. 2224) during which the operator may have to prove consent (GDPR art. 7(1)). They hold
  no contact data (firm names, text version and hash, a keyed hash of the e-mail).
- The lead access log: 12 months, within the CNIL's 6-month-to-1-year recommendation for access
  logs, long enough to investigate a misuse reported after a yearly review.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from ..privacy.retention import RetentionRule
from .models import ConsentRecord, LeadAccess, Referral

REFERRAL_DAYS = 3 * 365
CONSENT_DAYS = 5 * 365
ACCESS_LOG_DAYS = 365


def retention_rules(referral_days: int = REFERRAL_DAYS, consent_days: int = CONSENT_DAYS,
                    access_log_days: int = ACCESS_LOG_DAYS) -> list[RetentionRule]:
    """Matching's rules, children before parents (leads go with their referral: ON DELETE CASCADE)."""
    return [
        RetentionRule(name="matching.lead_access_log", what="partners' accesses to leads",
                      keep=f"{access_log_days} days",
                      delete=lambda now: delete(LeadAccess).where(LeadAccess.at <= now - timedelta(days=access_log_days))),
        RetentionRule(name="matching.referrals", what="referrals, their contact data and leads",
                      keep=f"{referral_days} days after the last event",
                      delete=lambda now: delete(Referral).where(Referral.last_event_at <= now - timedelta(days=referral_days))),
        RetentionRule(name="matching.consent_records", what="proofs of consent to referrals",
                      keep=f"{consent_days} days",
                      delete=lambda now: delete(ConsentRecord).where(
                          ConsentRecord.given_at <= now - timedelta(days=consent_days))),
    ]
