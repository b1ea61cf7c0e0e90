"""FR<->EN GDPR glossary used for query expansion, built from the corpus glossary documents."""

from __future__ import annotations

from dataclasses import dataclass

from ..types import SourceDoc
from .text import analyze, tokens


@dataclass(frozen=True)
class GlossaryEntry:
    """One concept with its terms in both languages (preferred term first)."""

    key: str
    fr: tuple[str, ...]
    en: tuple[str, ...]


def entries_from_docs(docs: list[SourceDoc]) -> list[GlossaryEntry]:
    """Pair the FR and EN glossary documents by translation key."""
    by_key: dict[str, dict[str, tuple[str, ...]]] = {}
    for d in docs:
        if d.kind == "glossary":
            by_key.setdefault(d.translation_key, {})[d.lang] = tuple(str(t) for t in d.extra["terms"])
    return [GlossaryEntry(k, v.get("fr", ()), v.get("en", ())) for k, v in sorted(by_key.items()) if v]


class Glossary:
    """Finds glossary terms in a question and returns the terms of the same concepts in each language."""

    def __init__(self, entries: list[GlossaryEntry], max_terms: int = 3, generic: set[str] | None = None):
        # Generic concepts ("GDPR", "personal data") occur everywhere: expanding them only adds noise.
        self.generic = set(generic or ())
        entries = [e for e in entries if e.key not in self.generic]
        self.entries = entries
        self.max_terms = max_terms
        # (stems of a term in its language, exact folded tokens, entry index, language)
        self._patterns: list[tuple[tuple[str, ...], tuple[str, ...], int, str]] = []
        for i, e in enumerate(entries):
            for lang, terms in (("fr", e.fr), ("en", e.en)):
                for t in terms:
                    stems = tuple(analyze(t, lang))
                    if stems:
                        self._patterns.append((stems, tuple(tokens(t)), i, lang))

    def matches(self, question: str, lang: str | None = None) -> list[GlossaryEntry]:
        """Entries one of whose terms occurs in the question.

        Terms of the question's language match on stems (plurals, accents); terms of the other
        language must appear word for word ("DPO", "privacy by design" in a French sentence), so that
        a French "désigner" is not taken for the English "design".
        """
        stems = {"fr": analyze(question, "fr"), "en": analyze(question, "en")}
        words = tokens(question)
        found: list[int] = []
        for term_stems, term_words, i, term_lang in self._patterns:
            if i in found:
                continue
            if lang is None or term_lang == lang:
                hit = _contains(stems[term_lang], term_stems)
            else:
                hit = _contains(words, term_words)
            if hit:
                found.append(i)
        return [self.entries[i] for i in found]

    def expand(self, question: str, lang: str | None = None) -> dict[str, list[str]]:
        """Expansion terms per language for the concepts found in the question."""
        out: dict[str, list[str]] = {"fr": [], "en": []}
        for e in self.matches(question, lang):
            out["fr"].extend(e.fr[: self.max_terms])
            out["en"].extend(e.en[: self.max_terms])
        return out

    def to_json(self) -> dict:
        """Serialisable form."""
        return {"entries": [{"key": e.key, "fr": list(e.fr), "en": list(e.en)} for e in self.entries],
                "generic": sorted(self.generic)}

    @classmethod
    def from_json(cls, data: dict) -> Glossary:
        """Inverse of ``to_json``."""
        return cls([GlossaryEntry(d["key"], tuple(d["fr"]), tuple(d["en"])) for d in data["entries"]],
                   generic=set(data.get("generic", ())))


def generic_entries(entries: list[GlossaryEntry], doc_frequency, threshold: float = 0.15) -> set[str]:
    """Keys of entries whose preferred term is in more than ``threshold`` of the chunks of its language.

    ``doc_frequency(lang, stems)`` returns the share of chunks containing all the stems.
    """
    out = set()
    for e in entries:
        for lang, terms in (("fr", e.fr), ("en", e.en)):
            stems = analyze(terms[0], lang) if terms else []
            if stems and doc_frequency(lang, stems) > threshold:
                out.add(e.key)
    return out


def _contains(seq: list[str], sub: tuple[str, ...]) -> bool:
    n = len(sub)
    if n == 1:
        return sub[0] in seq
    return any(tuple(seq[i:i + n]) == sub for i in range(len(seq) - n + 1))
