"""Every feature's models, imported in one place so that Alembic (and ``Base.metadata``) sees all tables.

A feature owns its tables in ``assistant/<feature>/models.py``; add its import here when you create
one, then write the migration with ``gdpr-assistant db revision "what changed"``. Planned:
``newsletter`` (subscribers, consent proofs).
"""

from .accounts.models import SignInEvent, User, UserSession
from .chat.models import Exchange, Feedback
from .db import Base
from .mail.models import OutboxMessage
from .matching.models import ConsentRecord, Lead, LeadAccess, Partner, Referral
from .newsletter.models import Issue, Send, Subscriber, SubscriberToken, Suppression

__all__ = ["Base", "ConsentRecord", "Exchange", "Feedback", "Issue", "Lead", "LeadAccess", "OutboxMessage", "Partner",
           "Referral", "Send", "SignInEvent", "Subscriber", "SubscriberToken", "Suppression", "User", "UserSession"]
