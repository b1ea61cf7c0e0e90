"""`partners` commands: load the fictional demo directory, list the partners."""

from __future__ import annotations

import click

from . import cli, settings_of


def _matching(ctx):
    """The services without the answer engine (no index, no model): the directory is all these need."""
    from ..container import build_services

    return build_services(settings_of(ctx), engine=False)


@cli.group()
def partners():
    """The partner DPO directory used by matching."""


@partners.command("load-demo")
@click.pass_context
def load_demo_cmd(ctx):
    """Add the clearly fictional demo partners (idempotent: those already there are kept)."""
    from ..matching.demo import load_demo

    services = _matching(ctx)
    try:
        added, present = load_demo(services.matching)
    finally:
        services.close()
    click.echo(f"demo partners: {added} added, {present} already there (all fictional, example.org addresses)")


@partners.command("list")
@click.pass_context
def list_cmd(ctx):
    """Every partner: name, kind, active or paused, leads this month / capacity."""
    services = _matching(ctx)
    try:
        rows = services.matching.list_partners()
    finally:
        services.close()
    if not rows:
        click.echo("no partners yet: `gdpr-assistant partners load-demo` adds fictional ones")
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        state = "active" if r["active"] else "paused"
        click.echo(f"{r['name']:<{width}}  {r['kind']:<12}  {state:<6}  {r['load']}/{r['capacity']} leads this month")
