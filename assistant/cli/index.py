"""`index`: build the search index of the bundled corpus and the imported official texts."""

from __future__ import annotations

import sys

import click

from . import cli, settings_of


@cli.command()
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@click.pass_context
def index(ctx, progress):
    """Index the bundled corpus plus the imported official texts (incremental, atomic)."""
    from ..container import build_embedder, open_vector_store
    from ..retrieval.index import build_index

    s = settings_of(ctx)
    embedder = build_embedder(s)
    store = open_vector_store(s, embedder)
    report = build_index(s, embedder, store, progress=sys.stderr.isatty() if progress is None else progress)
    click.echo(report.summary())
