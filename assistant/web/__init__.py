"""Flask app factory: `create_app(settings)`; services are built once and kept in app.extensions.

Blueprints: pages (chat, embed, widget), api (JSON and SSE), sources (cited texts). They validate
input and call services; they hold no logic.
"""

from __future__ import annotations

import threading

from flask import Flask, jsonify, render_template, request

from ..config import PROJECT_ROOT, Settings
from ..errors import AssistantError

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")


def create_app(settings: Settings | None = None, answer_service=None) -> Flask:
    """Build the web app over a data dir (the answer service is opened on first use unless given)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "web/templates"),
                static_folder=str(PROJECT_ROOT / "web/static"), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["assistant.settings"] = settings
    app.extensions["assistant.lock"] = threading.Lock()
    if answer_service is not None:
        app.extensions["assistant.answer_service"] = answer_service

    from .api import bp as api_bp
    from .pages import bp as pages_bp
    from .sources import bp as sources_bp

    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(sources_bp)

    def wants_json() -> bool:
        return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"

    def error(code: str, message: str, status: int):
        if wants_json():
            return jsonify(error={"code": code, "message": message}), status
        from .pages import page_context

        return render_template("error.html", status=status, message=message, **page_context(_page_lang())), status

    @app.errorhandler(AssistantError)
    def _assistant_error(e: AssistantError):
        return error(getattr(e, "code", type(e).__name__), e.message, e.http_status)

    @app.errorhandler(413)
    def _too_large(e):
        return error("payload_too_large", f"request body over {app.config['MAX_CONTENT_LENGTH']} bytes", 413)

    @app.errorhandler(404)
    def _not_found(e):
        return error("not_found", "no such page or endpoint", 404)

    @app.errorhandler(405)
    def _method(e):
        return error("method_not_allowed", f"{request.method} is not allowed on {request.path}", 405)

    @app.errorhandler(400)
    def _bad_request(e):
        return error("bad_request", str(e.description), 400)

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    return app


def _page_lang() -> str:
    lang = request.args.get("lang", "")
    if lang in ("fr", "en"):
        return lang
    best = request.accept_languages.best_match(["fr", "en"])
    return best or "fr"
