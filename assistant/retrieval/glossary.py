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
        # Patterns indexed by their first element, so matching costs one lookup per word of the question:
        # _by_stem[lang][first stem] -> [(stems, entry)], _by_word[first folded word] -> [(words, entry, lang)]
        self._by_stem: dict[str, dict[str, list[tuple[tuple[str, ...], int]]]] = {"fr": {}, "en": {}}
        self._by_word: dict[str, list[tuple[tuple[str, ...], int, str]]] = {}
        for i, e in enumerate(entries):
            for lang, terms in (("fr", e.fr), ("en", e.en)):
                for t in terms:
                    stems = tuple(analyze(t, lang))
                    words = tuple(tokens(t))
                    if stems:
                        self._by_stem[lang].setdefault(stems[0], []).append((stems, i))
                    if words:
                        self._by_word.setdefault(words[0], []).append((words, i, lang))

    def matches(self, question: str, lang: str | None = None) -> list[GlossaryEntry]:
        """Entries one of whose terms occurs in the question.

        Terms of the question's language match on stems (plurals, accents); terms of the other
        language must appear word for word ("DPO", "privacy by design" in a French sentence), so that
        a French "désigner" is not taken for the English "design".
        """
        found: dict[int, None] = {}  # ordered set
        for term_lang in ("fr", "en"):
            if lang is not None and term_lang != lang:
                continue
            seq = analyze(question, term_lang)
            index = self._by_stem[term_lang]
            for pos, stem in enumerate(seq):
                for pattern, i in index.get(stem, ()):
                    if tuple(seq[pos:pos + len(pattern)]) == pattern:
                        found.setdefault(i)
        if lang is not None:
            words = tokens(question)
            for pos, word in enumerate(words):
                for pattern, i, term_lang in self._by_word.get(word, ()):
                    if term_lang != lang and tuple(words[pos:pos + len(pattern)]) == pattern:
                        found.setdefault(i)
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

