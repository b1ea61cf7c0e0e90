"""`newsletter` commands: record bounce and complaint reports."""

from __future__ import annotations

import csv

import click

from . import cli, settings_of


@cli.group()
def newsletter():
    """The newsletter: bounce and complaint reports."""


@newsletter.command("bounces")
@click.argument("reports", type=click.File("r", encoding="utf-8"))
@click.pass_context
def bounces(ctx, reports):
    """Mark subscribers from REPORTS (a file, or - for stdin): one `address,bounce` or `address,complaint` a line.

    Every line is checked before anything changes; a hard bounce or a complaint ends the subscription and
    keeps only the address's keyed hash in the suppression list (unknown addresses are suppressed too).
    """
    from ..container import build_services

    lines = [row for row in csv.reader(reports) if row and any(cell.strip() for cell in row)]
    parsed = [((row[0] if row else "").strip(), (row[1] if len(row) > 1 else "").strip()) for row in lines]
    services = build_services(settings_of(ctx), engine=False)
    try:
        counts = services.newsletter.record_delivery_problems(parsed)
    finally:
        services.close()
    click.echo(f"recorded {counts['bounced']} bounce(s), {counts['complained']} complaint(s), "
               f"{counts['unknown']} unknown address(es) suppressed")
