"""The retention registry: every feature declares what it stores and for how long; `purge` applies it all.

A feature adds its rules where the services are built (``assistant/container.py``)::

    registry.register(*newsletter.retention.retention_rules(settings))

Each rule runs in its own transaction: a rule that fails leaves its rows untouched and the others
still run. Rules run in the order they were registered (children before their parents).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import Executable

from ..db import Database, utcnow


@dataclass(frozen=True)
class RetentionRule:
    """One kind of stored data: its name, what it is, how long it is kept, and the delete past that."""

    name: str  # "<feature>.<what>", e.g. "chat.exchanges"
    what: str  # for people: the privacy notice and the operator read it
    keep: str  # how long, for people ("30 days after the question")
    delete: Callable[[datetime], Executable]  # the DELETE of every row past retention at a given time


@dataclass(frozen=True)
class PurgeResult:
    """What one rule removed, or why it failed (nothing removed then)."""

    rule: RetentionRule
    removed: int
    error: str | None = None


class RetentionRegistry:
    """The rules of every feature, applied together by ``purge``."""

    def __init__(self, rules: list[RetentionRule] | None = None):
        self._rules: list[RetentionRule] = []
        self.register(*(rules or []))

    def register(self, *rules: RetentionRule) -> None:
        """Add rules (names are unique)."""
        for rule in rules:
            if any(r.name == rule.name for r in self._rules):
                raise ValueError(f"retention rule {rule.name!r} is registered twice")
            self._rules.append(rule)

    @property
    def rules(self) -> tuple[RetentionRule, ...]:
        """Every rule, in the order they run."""
        return tuple(self._rules)

    def purge(self, db: Database, now: datetime | None = None) -> list[PurgeResult]:
        """Apply every rule, each in one transaction; DatabaseNotReady before anything when the schema is not."""
        now = now or utcnow()
        db.ensure_ready()
        results = []
        for rule in self._rules:
            try:
                with db.transaction() as session:
                    removed = session.execute(rule.delete(now)).rowcount
            except SQLAlchemyError as e:
                detail = (str(getattr(e, "orig", None) or e).strip().splitlines() or [""])[0]
                results.append(PurgeResult(rule, 0, f"{type(e).__name__}: {detail}"))
                continue
            results.append(PurgeResult(rule, removed))
        return results
