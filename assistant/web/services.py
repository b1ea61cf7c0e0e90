"""Access to the process-wide services from a request (built once, on first use)."""

from __future__ import annotations

from flask import current_app


def _once(key: str, build):
    ext = current_app.extensions
    value = ext.get(key)
    if value is None:
        with ext["assistant.lock"]:
            value = ext.get(key)
            if value is None:
                value = build(ext["assistant.settings"])
                ext[key] = value
    return value


def settings():
    """The app's settings."""
    return current_app.extensions["assistant.settings"]


def answer_service():
    """The answer service (loads the index and the model on first use)."""
    from ..runtime import open_answer_service

    return _once("assistant.answer_service", open_answer_service)


def exchange_log():
    """The exchange and feedback store (migrates the database on first use)."""
    from ..db import Database
    from ..exchanges import ExchangeLog

    def build(s):
        db = Database(s.sqlalchemy_url)
        db.upgrade()
        return ExchangeLog(db, s.retention_days, s.max_feedback_chars)

    return _once("assistant.exchange_log", build)


def source_library():
    """Official texts and bundled documents, for source pages."""
    from .library import SourceLibrary

    return _once("assistant.sources", SourceLibrary.load)
