"""How long the newsletter keeps what it stores; `gdpr-assistant purge` applies these rules.

Confirmed subscribers are kept while they stay active; after 3 years without activity the re-permission
job (``newsletter.repermission``) mails them, and those who do not answer within 30 days are removed here.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_

from ..privacy.retention import RetentionRule
from .models import ENDED_STATES, Send, Subscriber, SubscriberToken
from .service import CONFIRM_TTL, REPERMISSION_TTL

SEND_RECORD_DAYS = 365
TOMBSTONE_DAYS = 3 * 365


def retention_rules() -> list[RetentionRule]:
    """Tokens, unconfirmed sign-ups, unanswered re-permissions, send records, ended subscriptions (children first)."""
    return [
        RetentionRule("newsletter.tokens", "confirmation, data-access and re-permission links (SHA-256 only) once "
                      "used or expired", "until used or expired",
                      lambda now: delete(SubscriberToken).where(or_(SubscriberToken.used_at.is_not(None),
                                                                     SubscriberToken.expires_at <= now))),
        RetentionRule("newsletter.sends", "which issue was sent to which subscriber, and when",
                      f"{SEND_RECORD_DAYS} days after sending",
                      lambda now: delete(Send).where(Send.created_at <= now - timedelta(days=SEND_RECORD_DAYS))),
        RetentionRule("newsletter.unconfirmed", "sign-ups never confirmed: encrypted address, consent proof",
                      "7 days after the sign-up",
                      lambda now: delete(Subscriber).where(Subscriber.state == "pending",
                                                           Subscriber.created_at <= now - CONFIRM_TTL)),
        RetentionRule("newsletter.inactive", "subscribers inactive for 3 years who did not answer the re-permission "
                      "e-mail", "3 years after the last activity, plus 30 days to answer",
                      lambda now: delete(Subscriber).where(
                          Subscriber.state == "confirmed", Subscriber.repermission_sent_at.is_not(None),
                          Subscriber.repermission_sent_at <= now - REPERMISSION_TTL)),
        RetentionRule("newsletter.ended", "ended subscriptions: state and dates only (the address is wiped when it "
                      "ends; its keyed hash stays in the suppression list)", f"{TOMBSTONE_DAYS // 365} years",
                      lambda now: delete(Subscriber).where(
                          Subscriber.state.in_(ENDED_STATES), Subscriber.ended_at <= now - timedelta(days=TOMBSTONE_DAYS))),
    ]
