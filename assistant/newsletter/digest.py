"""A digest of the newest CNIL decisions and FAQ items of the bundled corpus, as an issue in Markdown (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ..types import SourceDoc

HEADINGS = {
    "fr": {"subject": "Lettre RGPD : les dernières décisions de la CNIL et vos questions",
           "intro": "Voici les dernières sanctions de la CNIL et les réponses ajoutées à notre FAQ.",
           "decisions": "Décisions de la CNIL", "faq": "Questions fréquentes", "read": "Lire la source",
           "amount": "amende de {amount} €"},
    "en": {"subject": "GDPR letter: the latest CNIL decisions and your questions",
           "intro": "Here are the CNIL's latest sanctions and the answers added to our FAQ.",
           "decisions": "CNIL decisions", "faq": "Frequently asked questions", "read": "Read the source",
           "amount": "fine of €{amount}"},
}


def _decision_date(doc: SourceDoc) -> date:
    value = doc.extra.get("decision_date")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return doc.updated


def _lead(body: str, limit: int = 320) -> str:
    """The first paragraph of a document, cut at a word boundary."""
    para = next((p.strip() for p in body.split("\n\n") if p.strip() and not p.lstrip().startswith("#")), "")
    para = " ".join(para.split())
    if len(para) <= limit:
        return para
    return para[:limit].rsplit(" ", 1)[0] + " …"


def _escape(text: str) -> str:
    """Text safe inside a Markdown link label or heading."""
    return text.replace("[", "\\[").replace("]", "\\]").replace("*", "\\*").replace("_", "\\_")


def build_digest(docs: Iterable[SourceDoc], language: str, decisions: int = 3, faq: int = 3,
                 origin: str = "") -> tuple[str, str]:
    """(subject, Markdown body): the ``decisions`` newest CNIL decisions and ``faq`` newest FAQ items in ``language``."""
    if language not in HEADINGS:
        raise ValueError(f"digest language must be one of {', '.join(HEADINGS)}, got {language!r}")
    words = HEADINGS[language]
    docs = [d for d in docs if d.lang == language]
    newest_decisions = sorted((d for d in docs if d.kind == "cnil_decision"),
                              key=lambda d: (_decision_date(d), d.id), reverse=True)[:decisions]
    newest_faq = sorted((d for d in docs if d.kind == "faq"), key=lambda d: (d.updated, d.id), reverse=True)[:faq]
    lines = [words["intro"], ""]
    if newest_decisions:
        lines += [f"## {words['decisions']}", ""]
        for d in newest_decisions:
            amount = d.extra.get("amount_eur")
            detail = f" ({words['amount'].format(amount=f'{int(amount):,}'.replace(',', ' '))})" if amount else ""
            lines += [f"### {_escape(d.title)}", "", f"{_decision_date(d).isoformat()}{detail}. {_lead(d.body)}", "",
                      f"[{words['read']}]({d.url})", ""]
    if newest_faq:
        lines += [f"## {words['faq']}", ""]
        for d in newest_faq:
            link = f"{origin}/sources/{d.id}" if origin else d.url
            lines += [f"### {_escape(d.title)}", "", _lead(d.body), "", f"[{words['read']}]({link})", ""]
    return words["subject"], "\n".join(lines).strip() + "\n"
