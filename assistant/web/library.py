"""The texts behind source pages: imported official articles and recitals, and bundled documents."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..corpus.eurlex import Article, Recital, article_url, load_official
from ..corpus.loader import load_corpus
from ..types import SourceDoc

OFFICIAL_ID = re.compile(r"^gdpr-(fr|en)-(art|rct)-(\d{1,3})$")


@dataclass
class SourceLibrary:
    """Lookup of every page under /sources/."""

    articles: dict[tuple[str, int], Article] = field(default_factory=dict)
    recitals: dict[tuple[str, int], Recital] = field(default_factory=dict)
    docs: dict[str, SourceDoc] = field(default_factory=dict)

    @classmethod
    def load(cls, settings) -> SourceLibrary:
        """Read the imported official texts and the bundled corpus."""
        lib = cls()
        for text in load_official(settings.official_dir):
            for a in text.articles:
                lib.articles[(text.lang, a.number)] = a
            for r in text.recitals:
                lib.recitals[(text.lang, r.number)] = r
        for d in load_corpus(settings.corpus_dir):
            lib.docs[d.id] = d
        return lib

    def guide_for(self, lang: str, number: int) -> SourceDoc | None:
        """Our guide of an article, in ``lang``."""
        return self.docs.get(f"guide-art-{number:03d}-{lang}")

    def translation(self, doc: SourceDoc) -> SourceDoc | None:
        """The same item in the other language."""
        other = "en" if doc.lang == "fr" else "fr"
        return self.docs.get(f"{doc.translation_key}-{other}")

    def official_url(self, lang: str, number: int) -> str:
        """EUR-Lex URL of an article."""
        return article_url(lang, number)

    def by_kind(self, kind: str, lang: str) -> list[SourceDoc]:
        """Bundled documents of one kind and language, in a stable order."""
        docs = [d for d in self.docs.values() if d.kind == kind and d.lang == lang]
        key = (lambda d: d.extra["article"]) if kind == "guide" else (lambda d: d.title.lower())
        if kind == "cnil_decision":
            key = lambda d: str(d.extra["decision_date"])  # noqa: E731
            return sorted(docs, key=key, reverse=True)
        return sorted(docs, key=key)
