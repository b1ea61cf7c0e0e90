"""Find a DPO: the partner directory, matching (pure, explained), referrals with consent, the partner's leads.

``scoring`` is pure (no database, no web, no model); ``service.MatchingService`` (``services.matching``)
holds the directory and the referral lifecycle; ``jobs`` expires unanswered leads; ``retention``
says how long each table is kept; ``demo`` loads fictional partners.
"""
