"""Source pages: every citation links here (official text when imported, our guide otherwise)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from ..corpus.eurlex import recital_url
from . import current_services, page_language
from .library import OFFICIAL_ID
from .markdown import render_markdown
from .pages import page_context

bp = Blueprint("sources", __name__, url_prefix="/sources")

KIND_LABEL = {
    "fr": {"guide": "Guide pratique", "faq": "Question fréquente", "cnil_decision": "Sanction de la CNIL",
           "glossary": "Glossaire", "gdpr_article": "Texte officiel du RGPD", "gdpr_recital": "Considérant du RGPD"},
    "en": {"guide": "Practical guide", "faq": "FAQ", "cnil_decision": "CNIL sanction", "glossary": "Glossary",
           "gdpr_article": "Official GDPR text", "gdpr_recital": "GDPR recital"},
}


@bp.get("/")
def index():
    """Every source page, by kind (crawlable)."""
    lang = page_language()
    lib = current_services().sources
    sections = [(KIND_LABEL[lang][k], lib.by_kind(k, lang)) for k in ("guide", "faq", "cnil_decision")]
    official = sorted(n for (lg, n) in lib.articles if lg == lang)
    return render_template("sources_index.html", sections=sections, official=official,
                           kinds=KIND_LABEL[lang], **page_context(lang))


@bp.get("/<source_id>")
def show(source_id: str):
    """One source: an official article or recital, or a bundled document."""
    lib = current_services().sources
    m = OFFICIAL_ID.match(source_id)
    if m:
        lang, what, number = m.group(1), m.group(2), int(m.group(3))
        ctx = page_context(lang)
        if what == "art":
            if not 1 <= number <= 99:
                abort(404)
            article = lib.articles.get((lang, number))
            guide = lib.guide_for(lang, number)
            if article is None and guide is None:
                abort(404)
            return render_template("source_article.html", number=number, article=article, guide=guide,
                                   guide_html=render_markdown(guide.body) if guide else None,
                                   official_url=lib.official_url(lang, number), kinds=KIND_LABEL[lang],
                                   other=f"gdpr-{'en' if lang == 'fr' else 'fr'}-art-{number}", **ctx)
        recital = lib.recitals.get((lang, number))
        if recital is None:
            abort(404)
        return render_template("source_recital.html", recital=recital, official_url=recital_url(lang, number),
                               kinds=KIND_LABEL[lang], **ctx)
    doc = lib.docs.get(source_id)
    if doc is None or doc.kind == "glossary":
        abort(404)
    other = lib.translation(doc)
    return render_template("source_doc.html", doc=doc, body=render_markdown(doc.body), other=other,
                           kinds=KIND_LABEL[doc.lang], **page_context(doc.lang))
