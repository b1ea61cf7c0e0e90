"""`purge`: apply every feature's retention rule and print what each removed (run it daily)."""

from __future__ import annotations

import click

from ..errors import AssistantError
from . import cli, settings_of


@cli.command()
@click.pass_context
def purge(ctx):
    """Delete everything stored past its retention date: one transaction per rule, counts per rule."""
    from ..container import build_database, build_retention

    s = settings_of(ctx)
    database = build_database(s)
    try:
        results = build_retention(s).purge(database)
    finally:
        database.dispose()
    width = max((len(r.rule.name) for r in results), default=0)
    for r in results:
        if r.error:
            click.echo(f"{r.rule.name:<{width}}  failed, nothing removed: {r.error}", err=True)
        else:
            click.echo(f"{r.rule.name:<{width}}  removed {r.removed:>6}  {r.rule.what}; kept {r.rule.keep}")
    failed = [r.rule.name for r in results if r.error]
    if failed:
        raise AssistantError(f"purge failed for {', '.join(failed)}; the other rules were applied")
    click.echo(f"purged {sum(r.removed for r in results)} row(s) past retention under {len(results)} rule(s)")
