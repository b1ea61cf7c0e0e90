"""Pages blueprint: the chat (/), the widget's frame (/embed), /widget.js and its demo host page."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    make_response,
    render_template,
    request,
    send_from_directory,
)

from . import current_services
from .i18n import other_language, page_language, script_texts, widget_texts
from .security import set_csp

bp = Blueprint("pages", __name__)


def page_context() -> dict:
    """Values every template reads (computed at render time: a forced locale is honoured)."""
    lang = page_language()
    return {"lang": lang, "other_lang": other_language(lang), "request_path": request.path,
            "retention_days": current_services().settings.retention_days, "current_user": g.get("user")}


@bp.app_context_processor
def _inject():
    return page_context()


@bp.get("/")
def chat():
    """The chat page."""
    return render_template("chat.html", embed=False, script_texts=script_texts())


@bp.get("/embed")
def embed():
    """The compact chat shown inside the widget's frame; only allowed origins may frame it."""
    set_csp(frame_ancestors=("'self'", *current_services().settings.allowed_origins))
    return render_template("chat.html", embed=True, script_texts=script_texts())


@bp.get("/static/<path:filename>")
def asset(filename: str):
    """Stylesheets and scripts (revalidated by ETag). Our own route rather than Flask's ``static``:
    Flask-Limiter never limits an endpoint called ``static``, and every route here has a limit."""
    return send_from_directory(current_app.config["ASSETS_FOLDER"], filename)


@bp.get("/widget.js")
def widget_js():
    """The embeddable widget: one <script> tag on any allowed site; its labels come from the catalogues."""
    js = render_template("widget.js", texts=widget_texts())
    resp = Response(js, mimetype="text/javascript")
    resp.headers["Cache-Control"] = "public, max-age=300"  # the same script for everyone, nothing personal
    resp.headers["Access-Control-Allow-Origin"] = "*"  # a public script; what it frames is origin-checked
    return resp


@bp.get("/widget-demo")
def widget_demo():
    """A host page using the widget, under the strict policy a careful host site would have."""
    set_csp(default_src="'none'", frame_src="'self'", connect_src="'self'", form_action="'none'",
            frame_ancestors="'none'", font_src=None)
    return render_template("widget_demo.html")


@bp.get("/robots.txt")
def robots():
    """Source pages are meant to be indexed; the API and signed-in areas are not."""
    resp = make_response("User-agent: *\nDisallow: /api/\nDisallow: /admin\nDisallow: /partner\n"
                         "Disallow: /login\nAllow: /sources/\n")
    resp.mimetype = "text/plain"
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


