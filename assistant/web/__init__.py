"""Flask app factory: ``create_app(settings, services=None)``; the services are built once, before any request.

Blueprints: pages (chat, embed, widget), api (JSON and SSE), sources (cited texts), accounts (sign
in and out), admin (operators, with matching_admin's partner pages), partner (partner users) and
matching (/dpo, find a DPO). They validate input and call the services
(``current_services()``); they hold no logic. Errors are answered by ``errors.py`` (JSON for the API,
an HTML page otherwise); ``security.py`` gives every route CSRF protection, a rate limit and the
security headers; ``i18n.py`` picks the language. Behind a reverse proxy, TRUSTED_PROXIES makes
werkzeug's ProxyFix restore the client's scheme, host and address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app

from ..config import Settings, bundled
from .i18n import page_language

if TYPE_CHECKING:
    from ..container import Services

SERVICES_KEY = "assistant.services"
__all__ = ["SERVICES_KEY", "create_app", "current_services", "page_language"]


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the web app over ``services`` (built from ``settings`` when not given: index, database, stores)."""
    if services is None:
        from ..container import build_services

        services = build_services(settings or Settings.from_env())
    settings = services.settings  # the services' own: development keys filled in
    # Static files are served by pages.asset (rate-limited like every route), not Flask's static view.
    web = bundled("web")  # in the installed package, or the checkout's web/
    app = Flask(__name__, template_folder=str(web / "templates"), static_folder=None)
    app.config["ASSETS_FOLDER"] = str(web / "static")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.config["SECRET_KEY"] = settings.secret_key.reveal()
    app.extensions[SERVICES_KEY] = services
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)

    from . import (
        errors,
        i18n,
        matching_admin,  # noqa: F401  (adds the partner and referral pages to admin.bp)
        security,
    )
    from .accounts import bp as accounts_bp
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .matching import bp as matching_bp
    from .newsletter import admin_bp as newsletter_admin_bp
    from .newsletter import api_bp as newsletter_api_bp
    from .newsletter import bp as newsletter_bp
    from .pages import bp as pages_bp
    from .partner import bp as partner_bp
    from .sources import bp as sources_bp

    i18n.init_app(app)
    errors.init_app(app)
    for blueprint in (pages_bp, api_bp, sources_bp, accounts_bp, admin_bp, partner_bp, matching_bp, newsletter_bp,
                      newsletter_api_bp, newsletter_admin_bp):
        app.register_blueprint(blueprint)
    security.csrf.exempt(api_bp)  # the API checks origins and page tokens itself (security.check_api_request)
    security.csrf.exempt(newsletter_api_bp)
    # RFC 8058: mail providers post the one-click unsubscribe without a session; the signed token is the guard.
    security.csrf.exempt("assistant.web.newsletter.unsubscribe")
    security.init_app(app, settings)  # last: it attaches rate limits to the registered views
    return app


def current_services() -> Services:
    """The services of the app handling the current request."""
    return current_app.extensions[SERVICES_KEY]

