"""`corpus` commands: import, fetch and check the texts the assistant answers from."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import AssistantError
from . import cli, settings_of


@cli.group()
def corpus():
    """Import, fetch and check the texts the assistant answers from."""


@corpus.command("import-eurlex")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def import_eurlex(ctx, paths):
    """Import EUR-Lex XHTML files of Regulation (EU) 2016/679 (FR and/or EN) into the data dir."""
    from ..corpus.eurlex import import_file

    s = settings_of(ctx)
    for p in paths:
        text = import_file(p, s.official_dir)
        click.echo(f"imported {p}: {text.lang.upper()}, {len(text.articles)} articles, "
                   f"{len(text.recitals)} recitals")
    click.echo("run `gdpr-assistant index` to index them")


@corpus.command("fetch")
@click.option("--lang", "langs", multiple=True, type=click.Choice(["fr", "en"]), help="Default: both.")
@click.pass_context
def fetch(ctx, langs):
    """Download the GDPR from EUR-Lex (needs the network) and import it."""
    from ..corpus.fetch import fetch_official

    for text in fetch_official(settings_of(ctx), langs or ("fr", "en")):
        click.echo(f"fetched {text.source}: {text.lang.upper()}, {len(text.articles)} articles, "
                   f"{len(text.recitals)} recitals")


@corpus.command("check")
@click.pass_context
def check(ctx):
    """Validate every bundled corpus file and print counts by kind and language."""
    from ..corpus.loader import check_corpus, load_corpus
    from ..errors import CorpusError

    s = settings_of(ctx)
    try:
        docs = load_corpus(s.corpus_dir)
    except CorpusError as e:
        for p in e.problems:
            click.echo(p, err=True)
        raise
    report = check_corpus(docs)
    click.echo(report.table())
    for p in report.problems:
        click.echo(p, err=True)
    if report.problems:
        raise AssistantError(f"{len(report.problems)} problem(s) in the corpus")
    click.echo(f"{len(docs)} documents, all valid")
