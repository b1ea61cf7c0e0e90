"""Flask app factory: ``create_app(settings, services=None)``; the services are built once, before any request.

Blueprints: pages (chat, embed, widget), api (JSON and SSE), sources (cited texts). They validate
input and call the services (``current_services()``); they hold no logic. Errors are answered by
``errors.py`` (JSON for the API, an HTML page otherwise). Behind a reverse proxy, TRUSTED_PROXIES
makes werkzeug's ProxyFix restore the client's scheme, host and address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app, request

from ..config import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from ..container import Services

SERVICES_KEY = "assistant.services"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the web app over ``services`` (built from ``settings`` when not given: index, database, stores)."""
    if services is None:
        from ..container import build_services

        services = build_services(settings or Settings.from_env())
    settings = services.settings  # the services' own: development keys filled in
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "web/templates"),
                static_folder=str(PROJECT_ROOT / "web/static"), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.config["SECRET_KEY"] = settings.secret_key.reveal()
    app.extensions[SERVICES_KEY] = services
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)

    from . import errors
    from .api import bp as api_bp
    from .pages import bp as pages_bp
    from .sources import bp as sources_bp

    errors.init_app(app)
    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(sources_bp)

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    return app


def current_services() -> Services:
    """The services of the app handling the current request."""
    return current_app.extensions[SERVICES_KEY]


def page_language() -> str:
    """The page language: ``?lang=``, else the browser's Accept-Language, else French."""
    lang = request.args.get("lang", "")
    if lang in ("fr", "en"):
        return lang
    best = request.accept_languages.best_match(["fr", "en"])
    return best or "fr"
