"""The `gdpr-assistant` command line: one click group."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .config import Settings
from .errors import AssistantError, InputError


def _settings(ctx) -> Settings:
    return ctx.obj["settings"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory holding all state (default: ASSISTANT_DATA_DIR or ./data).")
@click.version_option(package_name="gdpr-assistant")
@click.pass_context
def cli(ctx, data_dir):
    """GDPR assistant: grounded answers about the GDPR (RGPD), with citations."""
    ctx.ensure_object(dict)
    ctx.obj["settings"] = Settings.from_env(data_dir=data_dir)


@cli.command()
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@click.pass_context
def index(ctx, progress):
    """Index the bundled corpus plus the imported official texts (incremental, atomic)."""
    from .retrieval.embeddings import make_embedder
    from .retrieval.index import build_index
    from .retrieval.vectorstore import open_store

    s = _settings(ctx)
    embedder = make_embedder(s)
    store = open_store(s, embedder.name)
    report = build_index(s, embedder, store, progress=sys.stderr.isatty() if progress is None else progress)
    click.echo(report.summary())


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object (the API contract).")
@click.pass_context
def ask(ctx, question, as_json):
    """Answer QUESTION; with '-', answer one question per line of standard input."""
    from .runtime import open_answer_service

    s = _settings(ctx)
    if question != "-":
        from .answer.service import validate_question

        validate_question(question, s.max_question_chars)  # bad input fails before the model loads
    service = open_answer_service(s)
    if question != "-":
        _print_answer(service.ask(question), as_json)
        return
    failed = 0
    for line in sys.stdin:
        line = line.rstrip("\n")
        try:
            _print_answer(service.ask(line), as_json)
        except InputError as e:
            failed += 1
            if as_json:
                click.echo(json.dumps({"error": {"code": e.code, "message": e.message}}, ensure_ascii=False))
            else:
                click.echo(f"Error: {e.message}", err=True)
        sys.stdout.flush()
    if failed:
        ctx.exit(2)


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    click.echo(answer.answer)
    if answer.citations:
        click.echo("")
        for i, c in enumerate(answer.citations, start=1):
            click.echo(f"[{i}] {c.ref} – {c.title}\n    {c.url}")


@cli.command("eval")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.pass_context
def eval_cmd(ctx, file, as_json):
    """Evaluate on a labelled JSONL question set: retrieval hit@k/MRR, answers, refusals, referrals, latency."""
    from .evaluation import format_report, read_items, run_eval
    from .runtime import open_answer_service

    items = read_items(file)
    report = run_eval(open_answer_service(_settings(ctx)), items)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else format_report(report))


@cli.group()
def corpus():
    """Import, fetch and check the texts the assistant answers from."""


@corpus.command("import-eurlex")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def import_eurlex(ctx, paths):
    """Import EUR-Lex XHTML files of Regulation (EU) 2016/679 (FR and/or EN) into the data dir."""
    from .corpus.eurlex import import_file

    s = _settings(ctx)
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
    from .corpus.fetch import fetch_official

    for text in fetch_official(_settings(ctx), langs or ("fr", "en")):
        click.echo(f"fetched {text.source}: {text.lang.upper()}, {len(text.articles)} articles, "
                   f"{len(text.recitals)} recitals")


@corpus.command("check")
@click.pass_context
def check(ctx):
    """Validate every bundled corpus file and print counts by kind and language."""
    from .corpus.loader import check_corpus, load_corpus
    from .errors import CorpusError

    s = _settings(ctx)
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


@cli.group()
def db():
    """Database maintenance."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx):
    """Create or migrate the database (SQLite in the data dir, or DATABASE_URL)."""
    from .db import Database, _safe

    s = _settings(ctx)
    database = Database(s.sqlalchemy_url)
    database.upgrade()
    database.dispose()
    click.echo(f"database at {_safe(s.sqlalchemy_url)} is up to date")


@cli.command()
@click.pass_context
def purge(ctx):
    """Delete stored exchanges and feedback past their retention date (run daily)."""
    from .db import Database

    database = Database(_settings(ctx).sqlalchemy_url)
    database.upgrade()
    counts = database.purge_expired()
    database.dispose()
    click.echo(f"purged {counts['exchanges']} exchange(s) and {counts['feedback']} feedback row(s) past retention")


@cli.command()
@click.option("--host", default=None, help="Interface to listen on (default HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default PORT or 8000).")
@click.pass_context
def serve(ctx, host, port):
    """Serve the chat API and pages over an existing data dir."""
    from .web import create_app

    s = _settings(ctx).with_(**{k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    app = create_app(s)
    click.echo(f"serving on http://{s.host}:{s.port}")
    app.run(host=s.host, port=s.port, threaded=True)


def main(argv=None) -> int:
    """Entry point: one clear line and a non-zero exit for every error."""
    try:
        rv = cli.main(args=argv, prog_name="gdpr-assistant", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else "gdpr-assistant"
        click.echo(f"Error: {e.format_message()} (see `{cmd} --help`)", err=True)
        return e.exit_code
    except click.ClickException as e:
        click.echo(f"Error: {e.format_message()}", err=True)
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except AssistantError as e:
        click.echo(f"Error: {e.message}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
