"""`keys` commands: re-encrypt personal fields with the newest FIELD_KEYS key, make a new key."""

from __future__ import annotations

import click

from . import cli, settings_of


@cli.group()
def keys():
    """Encryption keys of personal fields (FIELD_KEYS)."""


@keys.command("generate")
def keys_generate():
    """Print a new Fernet key: put it first in FIELD_KEYS, then run `gdpr-assistant keys rotate`."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@keys.command("rotate")
@click.pass_context
def keys_rotate(ctx):
    """Re-encrypt every encrypted column with the first key of FIELD_KEYS (one transaction; counts per column)."""
    from ..container import build_cipher, build_database
    from ..privacy.crypto import rotate_columns

    s = settings_of(ctx)
    database = build_database(s)
    try:
        counts = rotate_columns(database, build_cipher(s))
    finally:
        database.dispose()
    width = max((len(k) for k in counts), default=0)
    for label, n in counts.items():
        click.echo(f"{label:<{width}}  re-encrypted {n:>6}")
    click.echo(f"re-encrypted {sum(counts.values())} value(s) in {len(counts)} column(s) with the newest key; "
               "older keys can now be removed from FIELD_KEYS")
