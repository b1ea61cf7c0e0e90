"""`index`: build the search index of the bundled corpus and the imported official texts."""

from __future__ import annotations

import sys

import click

from . import cli, settings_of


@cli.command()
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@click.option("--retrain", is_flag=True, help="Train the ranker and the scope classifier again even when few "
              "documents changed (they are reused otherwise).")
@click.pass_context
def index(ctx, progress, retrain):
    """Index the bundled corpus plus the imported official texts (incremental, atomic).

    The ranker and the scope classifier are retrained when the training files, the official text or
    more than 5 % of the documents changed; otherwise the previous generation's models are reused.
    """
    from ..container import build_embedder, open_vector_store
    from ..retrieval.index import build_index

    s = settings_of(ctx)
    embedder = build_embedder(s)
    store = open_vector_store(s, embedder)
    report = build_index(s, embedder, store, progress=sys.stderr.isatty() if progress is None else progress,
                         retrain=retrain)
    click.echo(report.summary())
