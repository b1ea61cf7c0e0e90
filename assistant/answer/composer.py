"""The grounded composer (default, no LLM, deterministic): a cited answer built from retrieved sources.

Shape of an answer: a direct answer (the best FAQ or guide's first paragraph), the exact provisions
that support it (official text when imported), a CNIL sanction when one was retrieved, and the
practical steps of the best guide. Every block ends with the [n] marker of the citation it comes from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..corpus.chunking import split_sections
from ..types import Chunk, Hit

LABELS = {
    "fr": {"short": "En bref", "text": "Ce que dit le texte", "sanction": "Exemple de sanction de la CNIL",
           "practice": "En pratique", "other_lang": "(source disponible en anglais uniquement)",
           "notice": "Information générale, pas un conseil juridique.",
           "practice_heading": ("en pratique pour une pme", "en pratique")},
    "en": {"short": "In short", "text": "What the text says", "sanction": "A CNIL sanction in point",
           "practice": "In practice", "other_lang": "(source available in French only)",
           "notice": "General information, not legal advice.",
           "practice_heading": ("in practice for an sme", "in practice")},
}


@dataclass(frozen=True)
class Composition:
    """A composed answer: Markdown text with [n] markers (1-based indexes into the hits)."""

    text: str
    used: tuple[int, ...]


def first_paragraph(text: str) -> str:
    """The first paragraph of a Markdown text (the direct answer of FAQ items and guides)."""
    for para in re.split(r"\n\s*\n", text.strip()):
        para = para.strip()
        if para and not para.startswith("#"):
            return para
    return text.strip()


def excerpt(text: str, limit: int = 360) -> str:
    """A short excerpt cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def _lines(text: str, max_lines: int = 5) -> str:
    lines = [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[:max_lines])


def faq_detail(text: str, max_lines: int = 6) -> str:
    """The explanation that follows an FAQ item's direct answer (its first section other than Sources)."""
    for heading, body in split_sections(text):
        if heading and not heading.lower().startswith("source"):
            return _lines(body, max_lines)
    return ""


def compose_grounded(hits: list[Hit], lang: str, doc_chunks: dict[str, list[Chunk]],
                     max_provisions: int = 2) -> Composition:
    """Compose the answer from ranked hits; ``doc_chunks`` gives every chunk of a document (for steps)."""
    t = LABELS[lang]
    parts: list[str] = []
    used: list[int] = []

    def mark(i: int) -> str:
        if i + 1 not in used:
            used.append(i + 1)
        return f"[{i + 1}]"

    lead_i = next((i for i, h in enumerate(hits) if h.chunk.kind in ("faq", "guide", "cnil_decision")), None)
    if lead_i is None:
        lead_i = 0 if hits else None
    if lead_i is not None:
        c = hits[lead_i].chunk
        lead = first_paragraph(c.text) if c.kind in ("faq", "guide", "cnil_decision") else excerpt(c.text, 500)
        if c.kind == "guide" and c.section:  # a later section matched: lead with the guide's summary
            first = [x for x in doc_chunks.get(c.doc_id, []) if not x.section]
            if first:
                lead = first_paragraph(first[0].text)
        note = f" {t['other_lang']}" if c.lang != lang else ""
        parts.append(f"**{t['short']}** : {lead}{note} {mark(lead_i)}" if lang == "fr"
                     else f"**{t['short']}:** {lead}{note} {mark(lead_i)}")
        if c.kind == "faq":
            detail = faq_detail(c.text)
            if detail:
                parts.append(f"{detail} {mark(lead_i)}")

    provisions = [i for i, h in enumerate(hits) if h.chunk.kind == "gdpr_article" and i != lead_i][:max_provisions]
    if provisions:
        parts.append(f"**{t['text']}**")
        for i in provisions:
            c = hits[i].chunk
            parts.append(f"- {c.ref} ({c.title.split(' – ', 1)[-1]}) : « {excerpt(c.text)} » {mark(i)}"
                         if lang == "fr" else
                         f"- {c.ref} ({c.title.split(' – ', 1)[-1]}): “{excerpt(c.text)}” {mark(i)}")

    sanction = next((i for i, h in enumerate(hits) if h.chunk.kind == "cnil_decision" and i != lead_i), None)
    if sanction is not None:
        c = hits[sanction].chunk
        parts.append(f"**{t['sanction']}** : {excerpt(first_paragraph(c.text), 420)} {mark(sanction)}"
                     if lang == "fr" else
                     f"**{t['sanction']}:** {excerpt(first_paragraph(c.text), 420)} {mark(sanction)}")

    # Practical steps only from a guide on the same article as the direct answer (else they may not fit).
    lead_article = hits[lead_i].chunk.article if lead_i is not None else None
    guide_i = next((i for i, h in enumerate(hits) if h.chunk.kind == "guide"
                    and (i == lead_i or h.chunk.article == lead_article)), None)
    if guide_i is not None:
        g = hits[guide_i].chunk
        steps = next((x for x in doc_chunks.get(g.doc_id, [])
                      if x.section.lower().startswith(t["practice_heading"])), None)
        if steps is not None:
            parts.append(f"**{t['practice']}**\n{_lines(steps.text)} {mark(guide_i)}")

    parts.append(f"_{t['notice']}_")
    return Composition(text="\n\n".join(parts), used=tuple(used))
