"""`db` commands: create and migrate the database (a deploy step), check models against migrations."""

from __future__ import annotations

import click

from ..errors import AssistantError
from . import cli, settings_of


@cli.group()
def db():
    """Database maintenance: the only place the schema changes."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx):
    """Create or migrate the database (SQLite in the data dir, or DATABASE_URL) to the code's schema."""
    from ..container import build_database
    from ..db import safe_url

    database = build_database(settings_of(ctx))
    try:
        database.upgrade()
    finally:
        database.dispose()
    click.echo(f"database at {safe_url(database.url)} is up to date")


@db.command("check")
@click.pass_context
def db_check(ctx):
    """Fail when the models and the migrations disagree (run after `db upgrade`; CI runs it in tests)."""
    from alembic.util import CommandError

    from ..container import build_database
    from ..db import UPGRADE_COMMAND

    database = build_database(settings_of(ctx))
    try:
        database.check_models()
    except CommandError as e:
        if "not up to date" in str(e):
            raise AssistantError(f"the database is behind the migrations: run `{UPGRADE_COMMAND}` first") from None
        raise AssistantError(f"the models and the migrations disagree ({e}); write the migration with "
                             "`gdpr-assistant db revision \"what changed\"`") from None
    finally:
        database.dispose()
    click.echo("models and migrations agree")


@db.command("revision")
@click.argument("message")
@click.pass_context
def db_revision(ctx, message):
    """Write a new migration from the models' differences with the (migrated) database; review it."""
    from ..container import build_database

    database = build_database(settings_of(ctx))
    try:
        path = database.new_revision(message)
    finally:
        database.dispose()
    click.echo(f"wrote {path}: review it, then `gdpr-assistant db upgrade`")
