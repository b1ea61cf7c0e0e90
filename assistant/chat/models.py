"""Tables of the chat feature: exchanges (with retrieval diagnostics) and feedback votes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, new_id, utcnow


class Exchange(Base):
    """One question and its answer, stored after PII redaction, until ``expires_at``.

    The diagnostics (scope verdict, what retrieval returned with scores, who wrote the text, the time
    it took) are for the operator console: they explain an answer without keeping anything personal.
    They are null on rows stored before they existed.
    """

    __tablename__ = "exchanges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    question: Mapped[str] = mapped_column(Text)  # redacted
    answer: Mapped[str] = mapped_column(Text)  # redacted
    status: Mapped[str] = mapped_column(String(16))  # answered | out_of_scope | no_answer
    language: Mapped[str] = mapped_column(String(2))
    citations: Mapped[list] = mapped_column(JSON, default=list)  # refs of the answer's citations, in order
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    scope: Mapped[str | None] = mapped_column(String(32))  # the scope check's verdict on the question
    retrieved: Mapped[list | None] = mapped_column(JSON)  # [{"ref", "kind", "score"}], best first
    writer: Mapped[str | None] = mapped_column(String(16))  # grounded | llm | fixed
    total_ms: Mapped[float | None] = mapped_column(Float)


class Feedback(Base):
    """A visitor's thumbs up or down on one answer, with an optional (redacted) comment.

    One vote per answer (an answer belongs to one conversation): a second vote replaces the first.
    """

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange_id: Mapped[str] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"), index=True,
                                             unique=True)
    rating: Mapped[int] = mapped_column(Integer)  # +1 or -1
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # time of the latest vote
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
