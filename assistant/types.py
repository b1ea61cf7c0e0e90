"""Frozen dataclasses shared by all features: documents, chunks, retrieval hits, citations, answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

KINDS = ("guide", "faq", "cnil_decision", "glossary")
LANGS = ("fr", "en")
CITATION_KINDS = ("gdpr_article", "gdpr_recital", "guide", "faq", "cnil_decision")


@dataclass(frozen=True)
class SourceDoc:
    """One bundled corpus document (Markdown with front matter), already validated."""

    id: str
    kind: str
    lang: str
    translation_key: str
    title: str
    articles: tuple[int, ...]
    url: str
    updated: date
    body: str
    path: str
    recitals: tuple[int, ...] = ()
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def article(self) -> int | None:
        """The main GDPR article the document is about, if any."""
        if self.kind == "guide":
            return int(self.extra["article"])
        if self.kind == "cnil_decision" and self.extra.get("articles_breached"):
            return int(self.extra["articles_breached"][0])  # what was breached, not the definitions it cites
        return self.articles[0] if self.articles else None


@dataclass(frozen=True)
class Chunk:
    """A retrievable unit of text with everything needed to cite it."""

    id: str
    doc_id: str
    kind: str  # one of CITATION_KINDS
    lang: str
    title: str
    text: str  # what a reader sees
    search_text: str  # what is embedded and indexed (title, alternative questions, text)
    url: str
    page: str
    updated: str
    article: int | None = None
    paragraph: str | None = None
    recital: int | None = None
    group: str = ""  # chunks of one group are deduplicated together (same article, same item)
    section: str = ""  # the Markdown heading the chunk comes from (bundled documents)
    ref: str = ""  # short human reference, e.g. "RGPD art. 33(1)", "CNIL SAN-2022-009"
    articles: tuple[int, ...] = ()  # every GDPR article the source is about (its document's list)

    def metadata(self) -> dict:
        """Flat metadata for a vector store (no None values, no lists)."""
        d = asdict(self)
        del d["text"], d["search_text"], d["articles"]
        return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class Hit:
    """A chunk retrieved for a question, with its fused score and the ranks behind it."""

    chunk: Chunk
    score: float
    dense_similarity: float | None = None
    ranks: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Citation:
    """A source supporting an answer, as in the JSON contract."""

    kind: str
    ref: str
    article: int | None
    paragraph: str | None
    title: str
    url: str
    page: str
    updated: str
    score: float

    def to_dict(self) -> dict:
        """The JSON form of the contract."""
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """The answer to one question, as in the JSON contract."""

    answer: str
    language: str
    status: str  # answered | out_of_scope | no_answer
    citations: tuple[Citation, ...]
    referral: dict | None
    timings_ms: dict
    conversation_id: str | None = None
    verification: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        """The JSON form of the contract (``conversation_id`` only when a conversation is kept)."""
        d = {
            "answer": self.answer,
            "language": self.language,
            "status": self.status,
            "citations": [c.to_dict() for c in self.citations],
            "referral": self.referral,
            "timings_ms": self.timings_ms,
        }
        if self.conversation_id:
            d["conversation_id"] = self.conversation_id
        return d
