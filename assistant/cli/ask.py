"""`ask` and `eval`: answer questions from the command line, and measure answers on a labelled set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import InputError
from . import cli, settings_of


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object (the API contract).")
@click.pass_context
def ask(ctx, question, as_json):
    """Answer QUESTION; with '-', answer one question per line of standard input."""
    from ..container import build_answer_service

    s = settings_of(ctx)
    if question != "-":
        from ..answer.service import validate_question

        validate_question(question, s.max_question_chars)  # bad input fails before the model loads
    service = build_answer_service(s)
    partners = _Partners(s, service)
    if question != "-":
        _print_answer(service.ask(question), as_json, partners, question)
        return
    failed = 0
    for line in sys.stdin:
        line = line.rstrip("\n")
        try:
            _print_answer(service.ask(line), as_json, partners, line)
        except InputError as e:
            failed += 1
            if as_json:
                click.echo(json.dumps({"error": {"code": e.code, "message": e.message}}, ensure_ascii=False))
            else:
                click.echo(f"Error: {e.message}", err=True)
        sys.stdout.flush()
    if failed:
        ctx.exit(2)


class _Partners:
    """The referral's partners for a question (the directory is opened on the first referral only)."""

    def __init__(self, settings, service):
        self.settings, self.service, self.matching, self.warned = settings, service, None, False

    def fill(self, question: str, body: dict) -> None:
        """Put the best partners in ``body["referral"]["partners"]`` (a note on stderr when the database is not ready)."""
        if not body.get("referral"):
            return
        from ..container import build_cipher, build_database, build_hasher, build_matching
        from ..errors import AssistantError
        from ..matching.service import MatchingService

        body["referral"]["dpo_url"] = MatchingService.dpo_link(question, body["referral"].get("code"))

        try:
            if self.matching is None:
                s = self.settings
                self.matching = build_matching(s, build_database(s), self.service.retriever.embedder,
                                               build_cipher(s), build_hasher(s), mailer=None)
            body["referral"]["partners"] = self.matching.suggest_for_question(question, body.get("language", "fr"))
        except AssistantError as e:
            if not self.warned:
                click.echo(f"note: no partners suggested: {e.message}", err=True)
                self.warned = True


def _print_answer(answer, as_json: bool, partners: _Partners | None = None, question: str = "") -> None:
    body = answer.to_dict()
    if partners is not None:
        partners.fill(question, body)
    if as_json:
        from ..web.markdown import answer_html

        body["answer_html"] = answer_html(body, "cite-")  # the contract's HTML, as /api/chat gives it
        click.echo(json.dumps(body, ensure_ascii=False))
        return
    click.echo(answer.answer)
    if answer.citations:
        click.echo("")
        for i, c in enumerate(answer.citations, start=1):
            click.echo(f"[{i}] {c.ref} – {c.title}\n    {c.url}")
    referral = body.get("referral")
    if referral:
        click.echo(f"\n{referral['reason']}")
        for p in referral.get("partners") or []:
            click.echo(f"- {p['name']} ({p['score']:.2f}): {'; '.join(p['why'])}")
        click.echo("  → /dpo")


@cli.command("eval")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.pass_context
def eval_cmd(ctx, file, as_json):
    """Evaluate on a labelled JSONL question set: retrieval hit@k/MRR, answers, refusals, referrals, latency."""
    from ..container import build_answer_service
    from ..evaluation import format_report, read_items, run_eval

    items = read_items(file)
    report = run_eval(build_answer_service(settings_of(ctx)), items)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else format_report(report))
