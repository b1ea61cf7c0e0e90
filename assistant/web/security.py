"""The web security layer: every page and endpoint gets it by being registered on the app.

    CSRF        Flask-WTF on every state-changing route outside /api/ (forms: a hidden ``csrf_token``
                field, or the ``X-CSRFToken`` header), tied to the session.
                /api/ posts from our own pages carry a page token in ``X-CSRF-Token`` instead: the
                widget's frame runs on other sites, where browsers withhold our cookies, so that token
                is signed and timed rather than tied to a session. Posts from another allowed origin
                (the widget's hosts) are origin-checked; requests from no browser at all (no Origin,
                no Sec-Fetch-Site: curl, a server) carry no ambient credentials and need no token.
    Limits      Flask-Limiter on every route: ASSISTANT_RATE_LIMIT per client address and route by
                default; a view declares its own with ``@limited("setting_name", by="ip"|"conversation")``.
                Memory by default, Redis when REDIS_URL is set (memory if Redis goes down).
    Headers     one CSP builder with a nonce per request and no 'unsafe-inline' (``set_csp`` changes
                it for one response), HSTS over HTTPS, nosniff, a referrer policy, a permissions
                policy, and ``Cache-Control: no-store`` unless the view set its own (static files, widget.js).
    Cookies     the session cookie is HttpOnly, SameSite=Lax, and Secure whenever the visitor uses HTTPS.

Bad tokens answer 400 (``csrf_failed``), over-limit clients 429 (``too_many_requests``, with
Retry-After), as JSON or an HTML page like every error (``errors.py``); the view never runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from flask import Flask, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_limiter import Limit, Limiter
from flask_wtf.csrf import CSRFError, CSRFProtect
from itsdangerous import BadData, URLSafeTimedSerializer

from ..config import Settings, normalise_origin
from ..errors import InputError

csrf = CSRFProtect()
LIMITER_KEY = "assistant.limiter"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
PAGE_TOKEN_SALT = "assistant.page-token"
# A chat left open overnight gets a fresh page on reload; longer tokens buy nothing.
PAGE_TOKEN_MAX_AGE = 24 * 3600
HSTS = "max-age=31536000"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

BASE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    "font-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'self'",),
}
# What a JSON, JavaScript or CSS response needs: nothing (it is never a document that loads things).
RESOURCE_POLICY = "default-src 'none'; frame-ancestors 'none'"


def content_security_policy(nonce: str | None = None, **changes: str | tuple[str, ...] | None) -> str:
    """The page policy: BASE_POLICY with ``changes`` (``frame_ancestors="'self' https://x.fr"``; None drops
    a directive), and the nonce added to script-src and style-src."""
    policy = dict(BASE_POLICY)
    for name, value in changes.items():
        directive = name.replace("_", "-")
        if value is None:
            policy.pop(directive, None)
        else:
            policy[directive] = tuple(value.split()) if isinstance(value, str) else tuple(value)
    if nonce:
        for directive in ("script-src", "style-src"):
            if directive in policy and policy[directive] != ("'none'",):
                policy[directive] = (*policy[directive], f"'nonce-{nonce}'")
    return "; ".join(f"{k} {' '.join(v)}" for k, v in policy.items())


def csp_nonce() -> str:
    """This request's nonce (the same for every tag of the page; a new one on every request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def set_csp(**changes: str | tuple[str, ...] | None) -> None:
    """Change the page policy for this response only (e.g. ``frame_ancestors`` of the widget's frame)."""
    g.csp_changes = {**g.get("csp_changes", {}), **changes}


def is_https() -> bool:
    """True when the visitor uses HTTPS: the request's scheme (through ProxyFix) or an https PUBLIC_ORIGIN."""
    settings: Settings = current_app.config["ASSISTANT_SETTINGS"]
    return request.is_secure or settings.public_origin.startswith("https://")


# -- origins and tokens of the JSON API -------------------------------------------------------------

def own_origin() -> str:
    """PUBLIC_ORIGIN, or this request's origin as the visitor sees it (through ProxyFix behind a proxy)."""
    settings: Settings = current_app.config["ASSISTANT_SETTINGS"]
    return normalise_origin(settings.public_origin or request.host_url)


def origin_allowed(origin: str) -> bool:
    """True for our own origin and the widget's hosts (ASSISTANT_WIDGET_ORIGINS)."""
    settings: Settings = current_app.config["ASSISTANT_SETTINGS"]
    origin = normalise_origin(origin)
    return origin == own_origin() or origin in settings.allowed_origins


def _page_tokens() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=PAGE_TOKEN_SALT)


def page_token() -> str:
    """A token our pages put in ``X-CSRF-Token`` on their API posts (signed, valid PAGE_TOKEN_MAX_AGE)."""
    if "page_token" not in g:
        g.page_token = _page_tokens().dumps(secrets.token_urlsafe(8))
    return g.page_token


def check_api_request() -> None:
    """Origin check and page token of one /api/ request (see the module docstring for who needs what)."""
    origin = request.headers.get("Origin")
    if origin and not origin_allowed(origin):
        raise InputError(_("origin %(origin)s is not allowed to use this API; the operator lists allowed "
                           "origins in ASSISTANT_WIDGET_ORIGINS", origin=origin),
                         code="origin_not_allowed", http_status=403)
    if request.method in SAFE_METHODS:
        return
    from_browser = origin is not None or "Sec-Fetch-Site" in request.headers
    if not from_browser or (origin and normalise_origin(origin) != own_origin()):
        return  # no browser (nothing ambient to abuse), or a widget host: the origin check above is the guard
    token = request.headers.get("X-CSRF-Token", "")
    try:
        _page_tokens().loads(token, max_age=PAGE_TOKEN_MAX_AGE)
    except BadData:
        raise CSRFError(_("The page token is missing or has expired.")) from None


def cors_headers(resp):
    """Let the widget's hosts read API answers (our own pages need no CORS)."""
    origin = request.headers.get("Origin")
    if origin and origin_allowed(origin) and normalise_origin(origin) != own_origin():
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Allow-Headers"] = "Content-Type, X-CSRF-Token"
        resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        resp.headers["Vary"] = "Origin"
    return resp


# -- rate limits ---------------------------------------------------------------------------------------

def client_address() -> str:
    """The client's address (the real one behind TRUSTED_PROXIES, through ProxyFix)."""
    return request.remote_addr or "unknown"


def conversation_key() -> str:
    """The conversation a chat request continues (the JSON body's conversation_id)."""
    data = request.get_json(silent=True)
    cid = data.get("conversation_id") if isinstance(data, dict) else None
    return f"conversation:{cid}" if isinstance(cid, str) else ""


def _no_conversation() -> bool:
    return not conversation_key()


KEYS: dict[str, tuple[Callable[[], str], Callable[[], bool] | None]] = {
    "ip": (client_address, None),
    "conversation": (conversation_key, _no_conversation),
}


def limited(setting: str, by: str = "ip", methods: list[str] | None = None):
    """Mark a view with the limit of ``setting`` (a Settings field name), counted per ``by`` ("ip" or
    "conversation") and per route, for ``methods`` (all by default); it replaces ASSISTANT_RATE_LIMIT
    for those methods. Read when the app is built (``security.init_app``)."""
    if by not in KEYS:
        raise ValueError(f"unknown rate limit key {by!r}; known: {', '.join(KEYS)}")

    def mark(view):
        """Record the limit on the view (read by ``_init_limits``)."""
        view.rate_limits = [(setting, by, methods), *getattr(view, "rate_limits", [])]  # decorators apply bottom-up
        return view

    return mark


def limiter_of(app: Flask) -> Limiter:
    """The app's limiter (one per app: its storage holds the counts)."""
    return app.extensions[LIMITER_KEY]


def _storage_uri(settings: Settings) -> str:
    if not settings.redis_url:
        return "memory://"
    if settings.redis_url.startswith("unix://"):
        return "redis+unix://" + settings.redis_url.removeprefix("unix://")
    return settings.redis_url


def route_limits(app: Flask) -> dict[str, list[str]]:
    """Every endpoint and the limits that apply to it (for tests and the docs)."""
    settings: Settings = app.config["ASSISTANT_SETTINGS"]
    out = {}
    for endpoint, view in app.view_functions.items():
        marks = getattr(view, "rate_limits", None)
        out[endpoint] = [f"{getattr(settings, s)} per {by}" + (f" on {'/'.join(m)}" if m else "")
                         for s, by, m in marks or []]
        if not marks or all(m for _s, _by, m in marks):  # methods no mark covers keep the default
            out[endpoint].append(f"{settings.rate_limit} per ip")
    return out


def _init_limits(app: Flask, settings: Settings) -> None:
    """One limiter for the app; every limit is checked before any other hook (a CSRF failure still counts).

    The limits are Flask-Limiter default limits, evaluated before the request's other hooks: the
    general one for every route and method that declares none, and one per declared
    (setting, key, methods) for the routes that declare it. (Flask-Limiter's decorated limits would
    only be checked once the view runs, after the CSRF check, so a flood of bad tokens would pass.)
    """
    marks = {endpoint: [(s, by, tuple(m) if m else None) for s, by, m in getattr(view, "rate_limits", [])]
             for endpoint, view in app.view_functions.items()}

    def declares_own() -> bool:
        """True when this route declares its own limit for this method (the default does not apply)."""
        return any(m is None or request.method in m for _s, _by, m in marks.get(request.endpoint or "", []))

    limits = [Limit(settings.rate_limit, key_function=client_address, exempt_when=declares_own)]
    for setting, by, methods in sorted({mark for ms in marks.values() for mark in ms}, key=str):
        key, without_key = KEYS[by]
        endpoints = frozenset(e for e, ms in marks.items() if (setting, by, methods) in ms)

        def exempt(endpoints=endpoints, without_key=without_key) -> bool:
            """Not one of the routes declaring this limit, or nothing to count by (no conversation yet)."""
            return request.endpoint not in endpoints or (without_key is not None and without_key())

        limits.append(Limit(getattr(settings, setting), key_function=key, methods=methods, exempt_when=exempt,
                            scope=f"{setting}:{by}"))
    limiter = Limiter(
        key_func=client_address, default_limits=limits, storage_uri=_storage_uri(settings),
        strategy="moving-window", headers_enabled=True, key_prefix="gdpr-assistant",
        # Redis down: count in this process's memory rather than fail every request.
        in_memory_fallback_enabled=True, swallow_errors=True)
    limiter.init_app(app)
    app.extensions[LIMITER_KEY] = limiter


# -- cookies and headers -------------------------------------------------------------------------------

class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure flag whenever the visitor uses HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure over HTTPS (as the visitor sees it, behind a proxy too)."""
        return is_https()


def _headers(resp):
    html = resp.mimetype == "text/html"
    if html:
        policy = content_security_policy(csp_nonce(), **g.get("csp_changes", {}))
    else:
        policy = RESOURCE_POLICY
    resp.headers.setdefault("Content-Security-Policy", policy)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if is_https():
        resp.headers.setdefault("Strict-Transport-Security", HSTS)
    # Pages and answers may carry what a visitor typed or a signed-in user's data: never kept. Views
    # serving public files say so themselves (static files: revalidate; widget.js: five minutes).
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def init_app(app: Flask, settings: Settings) -> None:
    """Install the layer on ``app`` (after its blueprints: limits are attached to the registered views)."""
    app.config["ASSISTANT_SETTINGS"] = settings
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # a form token lives as long as the session (which expires)
    app.session_interface = SessionInterface()
    _init_limits(app, settings)  # first: over-limit clients are refused before anything else runs
    csrf.init_app(app)
    app.after_request(_headers)
    app.jinja_env.globals.update(csp_nonce=csp_nonce, page_token=page_token)
