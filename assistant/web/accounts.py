"""Sign in (password, then TOTP code), sign out, and ``require_role`` for the signed-in areas.

A feature adds a protected page by adding a route to the blueprint of its area (``admin.bp`` for
operators, ``partner.bp`` for partner users), or by calling ``require_role(its_bp, "operator")``
on its own blueprint: the check runs before every route of that blueprint.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..errors import SignInError
from . import current_services
from .errors import wants_json
from .security import client_address, limited

bp = Blueprint("accounts", __name__)
PENDING_SECONDS = 300  # between a right password and its code


class PasswordForm(FlaskForm):
    """First step: e-mail and password."""

    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


class CodeForm(FlaskForm):
    """Second step: the six-digit code of the authenticator app."""

    code = StringField(_l("Six-digit code from your authenticator app"), validators=[DataRequired(), Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"})


@bp.before_app_request
def _load_user():
    """``g.user``: the user of a live session, or None (an ended or expired session is forgotten)."""
    g.user = None
    token = session.get("sid")
    if token:
        g.user = current_services().accounts.session_user(token)
        if g.user is None:
            session.pop("sid", None)
            g.session_ended = True


def require_role(blueprint: Blueprint, *roles: str) -> None:
    """Every route of ``blueprint`` needs a signed-in user with one of ``roles`` (sign-in page, or 403)."""

    @blueprint.before_request
    def _check_role():
        user = g.get("user")
        if user is None:
            if wants_json():
                return jsonify(error={"code": "unauthorized", "message": _("Sign in first.")}), 401
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        if user.role not in roles:
            if wants_json():
                return jsonify(error={"code": "forbidden", "message": _("Your account cannot open this page.")}), 403
            return render_template("accounts/forbidden.html"), 403
        return None


def _safe_next(target: str | None) -> str | None:
    """A page of this site to go back to after signing in (never another site)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _message(e: SignInError) -> str:
    """What the person is told, in the page language, with the unlock time when locked."""
    if e.code == "account_locked":
        return _("Too many failed sign-ins on this account. Try again after %(time)s.",
                 time=format_datetime(e.retry_at, "HH:mm (zzzz)"))
    if e.code == "address_blocked":
        return _("Too many failed sign-ins from your network. Try again after %(time)s.",
                 time=format_datetime(e.retry_at, "HH:mm (zzzz)"))
    if e.code == "account_disabled":
        return _("This account is disabled. Ask the site operator.")
    if e.code == "bad_code":
        return _("The code is wrong or was already used. Type the current code of your app.")
    return _("The e-mail address or the password is wrong.")


def _refused(template: str, form, e: SignInError):
    headers = {}
    if e.retry_at is not None:
        headers["Retry-After"] = str(max(1, int(e.retry_at.timestamp() - time.time())))
    return render_template(template, form=form, error=_message(e)), e.http_status, headers


@bp.route("/login", methods=["GET", "POST"])
@limited("signin_rate_limit", methods=["POST"])
def login():
    """First step: e-mail and password."""
    if g.get("user"):
        return redirect(_safe_next(request.args.get("next")) or url_for(g.user.home_endpoint))
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            user_id = current_services().accounts.check_password(form.email.data, form.password.data,
                                                                 client_address())
        except SignInError as e:
            return _refused("accounts/login.html", form, e)
        _fresh_session()  # nothing from before the sign-in carries over, but the language
        session["pending"] = {"user": user_id, "at": time.time(), "next": _safe_next(request.args.get("next"))}
        return redirect(url_for("accounts.code"))
    status = 400 if form.errors else 200
    notice = _("Your session has ended; sign in again.") if g.get("session_ended") else None
    return render_template("accounts/login.html", form=form, notice=notice), status


@bp.route("/login/code", methods=["GET", "POST"])
@limited("signin_rate_limit", methods=["POST"])
def code():
    """Second step: the TOTP code; opens the session."""
    pending = session.get("pending")
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop("pending", None)
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            token, user = current_services().accounts.check_code(pending["user"], form.code.data, client_address())
        except SignInError as e:
            return _refused("accounts/code.html", form, e)
        _fresh_session()
        session["sid"] = token
        return redirect(pending.get("next") or url_for(user.home_endpoint))
    return render_template("accounts/code.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout():
    """Sign out: the session ends on the server too."""
    token = session.get("sid")
    if token:
        current_services().accounts.end_session(token, client_address())
    _fresh_session()
    return redirect(url_for("accounts.login", signed_out=1))


def _fresh_session() -> None:
    """An empty session that keeps only the visitor's chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
