"""Structure-aware chunking (pure): article -> paragraph, recital, corpus document -> sections.

Chunk ids derive from content, so an unchanged chunk keeps its id (and its embedding) across builds.
"""

from __future__ import annotations

import hashlib
import re

from ..types import Chunk, SourceDoc
from .eurlex import OfficialText

MAX_SECTION_CHARS = 1800
REF_LABEL = {"fr": ("RGPD art.", "RGPD considérant"), "en": ("GDPR Art.", "GDPR Recital")}


def chunk_id(*parts: object) -> str:
    """A stable id from the content and the metadata that shape a chunk."""
    h = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:24]


def chunk_official(text: OfficialText) -> list[Chunk]:
    """One chunk per article paragraph (points kept inside) and one per recital."""
    lang = text.lang
    art_label, rct_label = REF_LABEL[lang]
    out: list[Chunk] = []
    for a in text.articles:
        heading = f"Article {a.number} – {a.title}"
        context = a.chapter_title + (f" – {a.section_title}" if a.section_title else "")
        for i, p in enumerate(a.paragraphs):
            para = p.number if p.number is not None else (str(i + 1) if len(a.paragraphs) > 1 else None)
            # Unnumbered paragraphs get a positional id part (identical texts stay distinct) but no label.
            shown_para = p.number
            ref = f"{art_label} {a.number}" + (f"({p.number})" if p.number else "")
            search = f"{heading}\n{context}\n{p.text}"
            out.append(Chunk(
                id=chunk_id("gdpr_article", lang, a.number, para, search),
                doc_id=f"gdpr-{lang}-art-{a.number}",
                kind="gdpr_article", lang=lang, title=heading, text=p.text, search_text=search,
                url=a.url, page=f"/sources/gdpr-{lang}-art-{a.number}", updated="2016-04-27",
                article=a.number, paragraph=shown_para, group=f"art-{a.number}", ref=ref, articles=(a.number,),
            ))
    for r in text.recitals:
        label = "Considérant" if lang == "fr" else "Recital"
        title = f"{label} {r.number}"
        search = f"{title}\n{r.text}"
        out.append(Chunk(
            id=chunk_id("gdpr_recital", lang, r.number, search),
            doc_id=f"gdpr-{lang}-rct-{r.number}",
            kind="gdpr_recital", lang=lang, title=title, text=r.text, search_text=search,
            url=r.url, page=f"/sources/gdpr-{lang}-rct-{r.number}", updated="2016-04-27",
            recital=r.number, group=f"rct-{r.number}", ref=f"{rct_label} {r.number}",
        ))
    return out


def split_sections(body: str) -> list[tuple[str, str]]:
    """Split a Markdown body into (heading, text) at '## ' headings; the lead has heading ''."""
    sections: list[tuple[str, str]] = []
    heading, lines = "", []
    for line in body.splitlines():
        m = re.match(r"^##\s+(.*)$", line)
        if m:
            if "\n".join(lines).strip():
                sections.append((heading, "\n".join(lines).strip()))
            heading, lines = m.group(1).strip(), []
        else:
            lines.append(line)
    if "\n".join(lines).strip():
        sections.append((heading, "\n".join(lines).strip()))
    return sections


def _split_long(text: str, limit: int = MAX_SECTION_CHARS) -> list[str]:
    """Split an over-long section at paragraph boundaries."""
    if len(text) <= limit:
        return [text]
    parts, cur = [], ""
    for para in re.split(r"\n\s*\n", text):
        if cur and len(cur) + len(para) > limit:
            parts.append(cur.strip())
            cur = ""
        cur += para + "\n\n"
    if cur.strip():
        parts.append(cur.strip())
    return parts


def chunk_document(doc: SourceDoc) -> list[Chunk]:
    """Chunks of one bundled document. Glossary terms are not chunks: they feed query expansion.

    FAQ items and decisions are short and stay whole (one answer, one chunk). Guides are split by
    section, each chunk prefixed with the guide's title so it can be understood alone.
    """
    if doc.kind == "glossary":
        return []
    kind = doc.kind
    article = doc.article
    articles = tuple(doc.articles)
    if kind == "cnil_decision":  # the articles breached first, then those the decision merely cites
        breached = tuple(doc.extra.get("articles_breached") or ())
        articles = breached + tuple(a for a in articles if a not in breached)
    base = dict(doc_id=doc.id, kind=kind, lang=doc.lang, title=doc.title, url=doc.url,
                page=f"/sources/{doc.id}", updated=doc.updated.isoformat(), article=article,
                articles=articles,
                group=f"{kind}-{doc.translation_key}")
    extra_search = ""
    ref = doc_ref(doc)
    # An FAQ item's other phrasings are not part of its text: they are question keys of their own
    # (assistant.retrieval.keys), matched one by one against the visitor's question.
    if kind == "cnil_decision":
        e = doc.extra
        extra_search = f"{e['organisation']} {e['decision_number']} {e['sector']} CNIL sanction"
    sections = split_sections(doc.body)
    if kind in ("faq", "cnil_decision") or len(doc.body) <= MAX_SECTION_CHARS:
        pieces = [("", doc.body.strip())]
    else:
        pieces = [(h, part) for h, text in sections for part in _split_long(text)]
    out = []
    for i, (heading, text) in enumerate(pieces):
        search = "\n".join(filter(None, [doc.title, extra_search if i == 0 else "", heading, text]))
        out.append(Chunk(id=chunk_id(kind, doc.id, i, heading, search), text=text, search_text=search,
                         paragraph=None, ref=ref, section=heading, **base))
    return out


def doc_ref(doc: SourceDoc) -> str:
    """Short reference of a bundled document, as shown on a citation."""
    if doc.kind == "guide":
        return (f"Guide RGPD art. {doc.article}" if doc.lang == "fr" else f"GDPR guide, Art. {doc.article}")
    if doc.kind == "cnil_decision":
        return f"CNIL {doc.extra['decision_number']}"
    if doc.kind == "faq":
        return "FAQ"
    return doc.title


def chunk_all(docs: list[SourceDoc], official: list[OfficialText]) -> list[Chunk]:
    """All chunks of a build, ids unique."""
    chunks: list[Chunk] = []
    for t in official:
        chunks.extend(chunk_official(t))
    for d in docs:
        chunks.extend(chunk_document(d))
    seen = {}
    unique = []
    for c in chunks:
        if c.id not in seen:
            seen[c.id] = c
            unique.append(c)
    return unique
