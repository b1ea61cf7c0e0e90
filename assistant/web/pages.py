"""Pages blueprint: the chat (/), the widget's frame (/embed), /widget.js and its demo host page."""

from __future__ import annotations

from flask import Blueprint, current_app, make_response, render_template, request, send_from_directory

from . import current_services, page_language

bp = Blueprint("pages", __name__)

TEXTS = {
    "fr": {"title": "Assistant RGPD", "tagline": "Vos questions sur le RGPD, des réponses sourcées.",
           "notice": "Information générale sur le RGPD, pas un conseil juridique. Pour votre situation, "
                     "consultez un professionnel.",
           "switch": "English", "switch_lang": "en", "sources": "Sources", "chat": "Assistant",
           "privacy": "Vos questions sont conservées sans données personnelles (adresses e-mail, téléphones "
                      "masqués) pendant {days} jours, puis supprimées."},
    "en": {"title": "GDPR assistant", "tagline": "Your GDPR questions, answered with sources.",
           "notice": "General information about the GDPR, not legal advice. For your situation, consult a "
                     "professional.",
           "switch": "Français", "switch_lang": "fr", "sources": "Sources", "chat": "Assistant",
           "privacy": "Your questions are kept without personal data (e-mail addresses and phone numbers "
                      "masked) for {days} days, then deleted."},
}


def page_context(lang: str) -> dict:
    """Common template values."""
    t = dict(TEXTS[lang])
    t["privacy"] = t["privacy"].format(days=current_services().settings.retention_days)
    return {"lang": lang, "t": t}


@bp.get("/")
def chat():
    """The chat page."""
    return render_template("chat.html", embed=False, **page_context(page_language()))


@bp.get("/embed")
def embed():
    """The compact chat shown inside the widget's frame; only allowed origins may frame it."""
    resp = make_response(render_template("chat.html", embed=True, **page_context(page_language())))
    ancestors = " ".join(["'self'", *current_services().settings.allowed_origins])
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}")
    return resp


@bp.get("/widget.js")
def widget_js():
    """The embeddable widget: one <script> tag on any allowed site."""
    resp = send_from_directory(current_app.static_folder, "widget.js", mimetype="text/javascript", max_age=300)
    resp.headers["Access-Control-Allow-Origin"] = "*"  # a public script; what it frames is origin-checked
    return resp


@bp.get("/widget-demo")
def widget_demo():
    """A host page using the widget, under a strict Content-Security-Policy."""
    resp = make_response(render_template("widget_demo.html", **page_context(page_language())))
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; frame-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return resp


@bp.get("/robots.txt")
def robots():
    """Source pages are meant to be indexed; the API is not."""
    resp = make_response("User-agent: *\nDisallow: /api/\nAllow: /sources/\n")
    resp.mimetype = "text/plain"
    return resp


@bp.app_context_processor
def _inject():
    return {"request_path": request.path}
