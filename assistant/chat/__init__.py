"""The chat feature: stored exchanges and feedback (redacted, with retention), and the analytics the console reads.

    models.py     Exchange (question, answer, retrieval diagnostics), Feedback (one vote per answer)
    exchanges.py  ExchangeLog: records exchanges and votes; text cleaned and redacted before storage
    analytics.py  queries for the operator console (answers by status per day, frequent unanswered questions)
    retention.py  the feature's retention rules, applied by `gdpr-assistant purge`

The API blueprint that serves the chat lives in ``assistant/web/api.py``; it calls the answer service
and this package, and holds no logic.
"""
