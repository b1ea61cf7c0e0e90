"""Languages of the interface: Flask-Babel catalogues (fr, en) in ``assistant/translations``.

The page language comes from ``?lang=`` (remembered in the session), then the session, then the
browser's Accept-Language, then French (English for an /api/ client that states no language). Templates use ``_()``; Python uses ``flask_babel.gettext``
(``lazy_gettext`` at import time); the browser's scripts get their texts from the catalogue too, as
a JSON object the page embeds (``script_texts``). Answers are written by the engine in the
question's language, not through these catalogues.

Update the catalogues after changing a text: ``make translations`` (extract, update, then edit the
.po files and compile); ``tests/test_i18n.py`` fails on a message without both translations or a
.mo file older than its .po.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request, session
from flask_babel import Babel, force_locale, get_locale
from flask_babel import gettext as _

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
babel = Babel()


def select_language() -> str:
    """``?lang=`` (remembered), else the session's, else Accept-Language, else French."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        if session.get("lang") != asked:
            session["lang"] = asked  # a preference the visitor chose: a functional cookie, no tracking
        return asked
    remembered = session.get("lang")
    if remembered in LANGUAGES:
        return remembered
    if not request.accept_languages and request.path.startswith("/api/"):
        return "en"  # a program without a language preference: English, like the engine's own messages
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def page_language() -> str:
    """The language of the current page (``fr`` or ``en``)."""
    return str(get_locale() or DEFAULT_LANGUAGE)


def other_language(lang: str) -> str:
    """The language a page's switch link offers."""
    return "en" if lang == "fr" else "fr"


def script_texts() -> dict:
    """Every text chat.js shows, in the page language (embedded in the page as JSON)."""
    return {
        "you": _("You"), "bot": _("GDPR assistant"), "thinking": _("Searching the sources…"),
        "sources": _("Sources"), "open": _("See the source"), "official": _("Official source"),
        "ourPage": _("Our page"), "helpful": _("Was this answer helpful?"), "up": _("Helpful"),
        "down": _("Not helpful"), "comment": _("A comment (optional, no personal data)"),
        "send": _("Send feedback"), "thanks": _("Thank you for your feedback."),
        "failed": _("Something went wrong: "), "referral": _("Need a professional?"),
        "partners": _("Suggested partner DPOs"), "why": _("Why this DPO"), "findDpo": _("Find a DPO"),
        "announce": _("New answer from the assistant: "), "empty": _("Type a question."),
        "long": _("The question is over 2,000 characters."), "interrupted": _("the answer was interrupted"),
        "citation": _("source %(n)s", n="{n}"),
        "kinds": {"gdpr_article": _("GDPR"), "gdpr_recital": _("Recital"), "guide": _("Guide"), "faq": _("FAQ"),
                  "cnil_decision": _("CNIL")},
    }


def widget_texts() -> dict:
    """The widget's labels in every language (it runs on other sites, before any page of ours)."""
    out = {}
    for lang in LANGUAGES:
        with force_locale(lang):
            out[lang] = {"open": _("Open the GDPR assistant"), "close": _("Close the GDPR assistant"),
                         "title": _("GDPR assistant"), "bubble": _("GDPR?")}
    return out


def init_app(app: Flask) -> None:
    """Install Flask-Babel on ``app`` with our catalogues and language choice."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    babel.init_app(app, locale_selector=select_language)
    app.jinja_env.globals.update(page_language=page_language, other_language=other_language)
