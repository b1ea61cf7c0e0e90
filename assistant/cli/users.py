"""`users` commands: create operator and partner users (the TOTP secret is printed once), list, disable."""

from __future__ import annotations

import sys

import click

from . import cli, settings_of


def _accounts(ctx):
    from ..container import build_accounts, build_database

    settings = settings_of(ctx)
    database = build_database(settings)
    return database, build_accounts(settings, database)


@cli.group()
def users():
    """Operator and partner accounts (sign-in to /admin and /partner)."""


@users.command("create")
@click.option("--email", required=True, help="The user's e-mail address (their sign-in name).")
@click.option("--role", required=True, type=click.Choice(["operator", "partner"]), help="What the user may open.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--qr", is_flag=True, help="Also print the otpauth URI as a QR code for the authenticator app.")
@click.pass_context
def users_create(ctx, email, role, password_stdin, qr):
    """Create a user; prints the TOTP secret and otpauth URI once (they are not shown again)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password (12 characters or more)", hide_input=True, confirmation_prompt=True)
    database, accounts = _accounts(ctx)
    try:
        user = accounts.create_user(email, role, password)
    finally:
        database.dispose()
    click.echo(f"created {user.role} {user.email}")
    click.echo("Add this account to an authenticator app now: the secret is not shown again.")
    click.echo(f"TOTP secret: {user.totp_secret}")
    click.echo(f"otpauth URI: {user.totp_uri}")
    if qr:
        import io

        import qrcode

        code = qrcode.QRCode(border=1)
        code.add_data(user.totp_uri)
        out = io.StringIO()
        code.print_ascii(out=out, invert=True)
        click.echo(out.getvalue())


@users.command("list")
@click.pass_context
def users_list(ctx):
    """Every user: e-mail, role, state, second factor confirmed, last sign-in (UTC)."""
    database, accounts = _accounts(ctx)
    try:
        rows = accounts.list_users()
    finally:
        database.dispose()
    if not rows:
        click.echo("no users yet: create one with `gdpr-assistant users create --email ... --role operator`")
        return
    width = max(len(u.email) for u in rows)
    for u in rows:
        last = u.last_sign_in_at.strftime("%Y-%m-%d %H:%M") if u.last_sign_in_at else "never"
        state = "disabled" if u.disabled else "active"
        totp = "totp confirmed" if u.totp_confirmed else "totp not yet used"
        click.echo(f"{u.email:<{width}}  {u.role:<8}  {state:<8}  {totp:<17}  last sign-in {last}")


@users.command("disable")
@click.option("--email", required=True, help="The user to disable.")
@click.pass_context
def users_disable(ctx, email):
    """Disable a user: they can no longer sign in, and their open sessions end now."""
    database, accounts = _accounts(ctx)
    try:
        ended = accounts.disable_user(email)
    finally:
        database.dispose()
    click.echo(f"disabled {email.strip().lower()}; ended {ended} open session(s)")
