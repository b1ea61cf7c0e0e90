"""How long the accounts feature keeps sign-in records and sessions; `gdpr-assistant purge` applies these rules.

Users themselves are kept until disabled and removed by the operator: they are not past a date.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from ..privacy.retention import RetentionRule
from .models import SignInEvent, UserSession


def retention_rules(record_days: int) -> list[RetentionRule]:
    """Sign-in records and sessions (both hold client addresses) older than ``record_days``."""
    keep = f"{record_days} days (ASSISTANT_SIGNIN_RECORD_DAYS), for security audits"
    age = timedelta(days=record_days)
    return [
        RetentionRule("accounts.sign_in_events", "sign-in and sign-out records: time, account, client address, "
                      "outcome", keep, lambda now: delete(SignInEvent).where(SignInEvent.at <= now - age)),
        RetentionRule("accounts.sessions", "signed-in sessions (client address, times) once they have ended", keep,
                      lambda now: delete(UserSession).where(UserSession.expires_at <= now - age)),
    ]
