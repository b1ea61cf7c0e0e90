"""Source pages: every citation links here (official text when imported, our guide otherwise)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from ..corpus.eurlex import recital_url
from . import current_services, page_language
from .library import OFFICIAL_ID
from .markdown import render_markdown

bp = Blueprint("sources", __name__, url_prefix="/sources")


def kind_labels() -> dict[str, str]:
    """The name of each kind of source, in the page language."""
    return {"guide": _("Practical guide"), "faq": _("FAQ"), "cnil_decision": _("CNIL sanction"),
            "glossary": _("Glossary"), "gdpr_article": _("Official GDPR text"), "gdpr_recital": _("GDPR recital")}


@bp.get("/")
def index():
    """Every source page, by kind (crawlable)."""
    lang = page_language()
    lib = current_services().sources
    kinds = kind_labels()
    sections = [(kinds[k], lib.by_kind(k, lang)) for k in ("guide", "faq", "cnil_decision")]
    official = sorted(n for (lg, n) in lib.articles if lg == lang)
    return render_template("sources_index.html", sections=sections, official=official, kinds=kinds)


@bp.get("/<source_id>")
def show(source_id: str):
    """One source: an official article or recital, or a bundled document (shown in its own language)."""
    lib = current_services().sources
    m = OFFICIAL_ID.match(source_id)
    if m:
        lang, what, number = m.group(1), m.group(2), int(m.group(3))
        with force_locale(lang):
            if what == "art":
                if not 1 <= number <= 99:
                    abort(404)
                article = lib.articles.get((lang, number))
                guide = lib.guide_for(lang, number)
                if article is None and guide is None:
                    abort(404)
                return render_template("source_article.html", number=number, article=article, guide=guide,
                                       guide_html=render_markdown(guide.body, heading_offset=2) if guide else None,
                                       official_url=lib.official_url(lang, number), kinds=kind_labels(),
                                       other=f"gdpr-{'en' if lang == 'fr' else 'fr'}-art-{number}")
            recital = lib.recitals.get((lang, number))
            if recital is None:
                abort(404)
            return render_template("source_recital.html", recital=recital, official_url=recital_url(lang, number),
                                   kinds=kind_labels())
    doc = lib.docs.get(source_id)
    if doc is None or doc.kind == "glossary":
        abort(404)
    with force_locale(doc.lang):
        return render_template("source_doc.html", doc=doc, body=render_markdown(doc.body), other=lib.translation(doc),
                               kinds=kind_labels())
