"""Question keys (pure): the short texts a visitor's question is compared with, one set per source.

An FAQ item is found best by matching the visitor's question against the item's own question and
its other phrasings, each as its own key; guides, official articles and CNIL decisions have their
title as key. Keys carry the group of the source they stand for (the same group as its chunks).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

from ..types import Chunk, SourceDoc


@dataclass(frozen=True)
class Key:
    """One phrasing of what a source answers."""

    id: str  # content hash of the text: the same text keeps its embedding across builds
    group: str
    lang: str
    text: str
    source: str  # title | question

    def to_json(self) -> dict:
        """Serialisable form."""
        return asdict(self)


def text_id(text: str) -> str:
    """Content id of a short text (its embedding is stored under this id)."""
    return hashlib.sha256(("text\x1f" + text).encode("utf-8")).hexdigest()[:24]


def _key(group: str, lang: str, text: str, source: str) -> Key:
    text = " ".join(text.split())
    return Key(id=text_id(text), group=group, lang=lang, text=text, source=source)


def make_keys(chunks: list[Chunk], docs: list[SourceDoc]) -> list[Key]:
    """Keys of every group present in ``chunks``: FAQ questions, guide, article and decision titles."""
    groups = {(c.doc_id): c.group for c in chunks}
    keys: dict[tuple[str, str], Key] = {}
    for d in docs:
        group = groups.get(d.id)
        if group is None:
            continue
        if d.kind == "faq":
            for i, text in enumerate([d.title, *d.extra.get("questions", [])]):
                k = _key(group, d.lang, str(text), "title" if i == 0 else "question")
                keys.setdefault((group, k.text), k)
        elif d.kind in ("guide", "cnil_decision"):
            # "Article 33 — Notifier une violation" -> the topic; the number is matched by its own feature.
            title = re.sub(r"^(Article|Art\.)\s*\d+\s*[—–-]\s*", "", d.title)
            k = _key(group, d.lang, title, "title")
            keys.setdefault((group, k.text), k)
    seen_articles = set()
    for c in chunks:
        if c.kind == "gdpr_article" and (c.group, c.lang) not in seen_articles:
            seen_articles.add((c.group, c.lang))
            k = _key(c.group, c.lang, c.title.split(" – ", 1)[-1], "title")
            keys.setdefault((c.group, k.text), k)
    return list(keys.values())
