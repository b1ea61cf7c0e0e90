"""`serve`: the web app on Flask's threaded server (production uses gunicorn, see README)."""

from __future__ import annotations

import click

from . import cli, settings_of


@cli.command()
@click.option("--host", default=None, help="Interface to listen on (default HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default PORT or 8000).")
@click.pass_context
def serve(ctx, host, port):
    """Serve the chat API and pages over an existing data dir (indexed, database migrated)."""
    from ..web import create_app

    s = settings_of(ctx).with_(**{k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    app = create_app(s)
    click.echo(f"serving on http://{s.host}:{s.port}")
    app.run(host=s.host, port=s.port, threaded=True)
