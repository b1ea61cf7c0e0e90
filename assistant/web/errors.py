"""Errors, answered the way the client wants: JSON for the API (and JSON clients), an HTML page otherwise.

Every status goes through here, including 500: an unexpected exception on ``/api/*`` answers
``{"error": {"code": "internal_error", "message": ...}}``, never Werkzeug's HTML page. Logs name the
method, path and exception, never the request body or query string (they may hold what a visitor
typed).
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from ..errors import AssistantError

log = logging.getLogger(__name__)

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
              429: "too_many_requests", 500: "internal_error", 503: "unavailable"}


def init_app(app: Flask) -> None:
    """Register the handlers on ``app``."""
    app.register_error_handler(AssistantError, _assistant_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def wants_json() -> bool:
    """True for the API and for clients that prefer JSON to HTML."""
    if request.path.startswith("/api/"):
        return True
    accept = request.accept_mimetypes
    return accept.best == "application/json" or accept["application/json"] > accept["text/html"]


def error_response(code: str, message: str, status: int, headers: dict | None = None):
    """The error as JSON ``{"error": {"code", "message"}}`` or as the HTML error page."""
    if wants_json():
        resp = jsonify(error={"code": code, "message": message})
    else:
        resp = _html_page(status, message)
    resp.status_code = status
    resp.headers.extend(headers or {})
    return resp


def error_code(e: AssistantError) -> str:
    """The stable code of an error: its own, or its class name in snake case (IndexMissingError: index_missing)."""
    own = getattr(e, "code", None)
    if own:
        return own
    name = type(e).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _assistant_error(e: AssistantError):
    if e.http_status >= 500:
        log.warning("%s on %s %s: %s", type(e).__name__, request.method, request.path, e.message)
    return error_response(error_code(e), e.message, e.http_status)


def _http_error(e: HTTPException):
    status = e.code or 500
    if isinstance(e, CSRFError):
        # Nothing was done: the view never ran. Say what to do, and why in Flask-WTF's words.
        return error_response("csrf_failed", _("This page has expired or the request did not come from it "
                                               "(%(reason)s). Reload the page and try again.",
                                               reason=e.description), 400)
    if status == 429:
        return _too_many_requests(e)
    messages = {
        404: _("No such page or endpoint."),
        405: _("%(method)s is not allowed on %(path)s.", method=request.method, path=request.path),
        413: _("The request body is over %(n)s bytes.", n=request.max_content_length),
    }
    message = messages.get(status) or str(e.description or e.name)
    headers = {"Allow": ", ".join(sorted(e.valid_methods))} if status == 405 and getattr(e, "valid_methods", None) \
        else None
    code = HTTP_CODES.get(status) or re.sub(r"\W+", "_", e.name.lower()).strip("_")
    return error_response(code, message, status, headers)


def _too_many_requests(e: HTTPException):
    """429 with the limit that was hit and when to come back (Retry-After); the view never ran."""
    from .security import limiter_of

    current = limiter_of(current_app).current_limit
    wait = max(1, int(current.reset_at - time.time())) if current else 60
    limit = str(current.limit) if current else str(e.description)
    return error_response("too_many_requests", _("Too many requests (at most %(limit)s). Try again in "
                                                 "%(seconds)s seconds.", limit=limit, seconds=wait),
                          429, {"Retry-After": str(wait)})


def _unexpected_error(e: Exception):
    log.error("unexpected %s on %s %s", type(e).__name__, request.method, request.path, exc_info=e)
    return error_response("internal_error", _("An unexpected error occurred; it has been logged. Please try "
                                              "again later."), 500)


def _html_page(status: int, message: str):
    from flask import make_response

    from .pages import page_context

    try:
        html = render_template("error.html", status=status, message=message, **page_context())
    except Exception:  # the error page itself failed (a broken template, a missing service): stay minimal
        log.exception("error page failed")
        html = f"<!doctype html><title>{status}</title><h1>{status}</h1><p>{escape(message)}</p>"
    return make_response(html)
