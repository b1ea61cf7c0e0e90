"""The command line, through click's CliRunner: one clear line and a non-zero exit for each kind of bad input."""

import json
import subprocess
import sys

import pytest

from assistant.cli import cli
from assistant.retrieval.index import build_index, current_generation
from assistant.retrieval.vectorstore import open_store

from conftest import hash_index

HASH = {"ASSISTANT_EMBEDDER": "hash"}


def env_for(settings, **extra):
    """The environment a deployed command sees for these settings."""
    return {"ASSISTANT_DATA_DIR": str(settings.data_dir), "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir), **extra}


def test_help_does_not_load_torch():
    code = ("import sys; from assistant.cli import main; rc = main(['--help']); "
            "print('TORCH', 'torch' in sys.modules, 'chromadb' in sys.modules, rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "corpus" in out and "index" in out and "purge" in out
    assert out.strip().endswith("TORCH False False 0")


def test_unknown_option(runner):
    r = runner.invoke(cli, ["ask", "--nope", "x"])
    assert r.exit_code == 2
    assert r.stderr == "Error: No such option '--nope'. (see `gdpr-assistant ask --help`)\n"


def test_unknown_command(runner):
    r = runner.invoke(cli, ["frobnicate"])
    assert r.exit_code == 2 and "No such command" in r.stderr


@pytest.mark.parametrize("question,needle", [
    ("", "the question is empty"),
    ("   ", "the question is empty"),
    ("x" * 2001, "the limit is 2000"),
    ("abc\x00def", "binary or control characters"),
])
def test_bad_questions(runner, tmp_path, question, needle):
    r = runner.invoke(cli, ["--data-dir", str(tmp_path), "ask", "--json", question])
    assert r.exit_code == 2
    assert needle in r.stderr and r.stderr.count("\n") == 1 and r.stdout == ""


def test_missing_index_names_the_command(runner, tmp_path):
    r = runner.invoke(cli, ["--data-dir", str(tmp_path / "empty"), "ask", "Qui doit désigner un DPO ?"])
    assert r.exit_code == 1
    assert "no index" in r.stderr and "gdpr-assistant index" in r.stderr


def test_serve_without_index_fails_at_start_naming_the_command(runner, tmp_path):
    r = runner.invoke(cli, ["--data-dir", str(tmp_path / "empty"), "serve", "--port", "1"])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1
    assert "no index" in r.stderr and "gdpr-assistant index" in r.stderr


def test_eval_bad_file(runner, tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"id": "x"}\n', encoding="utf-8")
    r = runner.invoke(cli, ["--data-dir", str(tmp_path), "eval", str(f)])
    assert r.exit_code == 2 and "q.jsonl:1: not a question record" in r.stderr


def test_import_corrupt_eurlex(runner, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10)
    r = runner.invoke(cli, ["--data-dir", str(tmp_path / "d"), "corpus", "import-eurlex", str(bad)])
    assert r.exit_code == 1 and "bad.html" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("env,needle", [
    ({"ASSISTANT_TOP_K": "lots"}, "ASSISTANT_TOP_K"),
    ({"TRUSTED_PROXIES": "all"}, "TRUSTED_PROXIES (trusted_proxies) must be int"),
    ({"ASSISTANT_ENV": "production"}, "SECRET_KEY is required when ASSISTANT_ENV=production"),
    ({"ASSISTANT_ENV": "production", "SECRET_KEY": "tooshort", "FIELD_KEYS": "x"}, "FIELD_KEYS (field_keys) item 1"),
])
def test_bad_setting(runner, tmp_path, env, needle):
    r = runner.invoke(cli, ["--data-dir", str(tmp_path), "corpus", "check"], env=env)
    assert r.exit_code == 2 and needle in r.stderr and r.stderr.count("\n") == 1
    assert "tooshort" not in r.stderr


def test_corpus_check_prints_counts(runner, settings):
    r = runner.invoke(cli, ["corpus", "check"], env={"ASSISTANT_CORPUS_DIR": str(settings.corpus_dir)})
    assert "guide" in r.stdout and "faq" in r.stdout and "cnil_decision" in r.stdout
    assert "no guide for article(s) 1-36, 38-99" in r.stderr  # the fixture corpus has one guide
    assert r.exit_code == 1


def test_malformed_corpus_keeps_the_existing_index(runner, settings):
    emb = hash_index(settings)
    gen = current_generation(settings.index_dir)
    bad = settings.corpus_dir / "faq" / "fr" / "broken.md"
    bad.write_text("---\nid: x\n---\nbody", encoding="utf-8")
    r = runner.invoke(cli, ["corpus", "check"], env=env_for(settings))
    assert r.exit_code == 1 and "broken.md" in r.stderr and "field 'kind' is missing" in r.stderr
    with pytest.raises(Exception, match="broken.md"):
        build_index(settings, emb, open_store(settings, emb.name))
    assert current_generation(settings.index_dir) == gen


def test_index_then_ask_stdin_with_the_hashing_embedder(runner, settings):
    """Bad lines get a JSON error object in place; good ones an answer (ASSISTANT_EMBEDDER=hash, real Chroma)."""
    env = env_for(settings, **HASH)
    r = runner.invoke(cli, ["index", "--no-progress"], env=env)
    assert r.exit_code == 0, r.stderr
    r = runner.invoke(cli, ["ask", "--json", "-"], env=env,
                      input="data breach 72 hours\n\n" + "y" * 10_000_000 + "\n")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.exit_code == 2
    assert len(lines) == 3
    assert lines[0]["citations"] and lines[0]["language"] == "en"
    assert lines[1]["error"]["code"] == "empty_question"
    assert lines[2]["error"]["code"] == "question_too_long"


def test_an_index_serves_only_with_its_embedder(runner, settings):
    hash_index(settings)
    r = runner.invoke(cli, ["ask", "data breach"], env=env_for(settings, ASSISTANT_EMBEDDER="model"))
    assert r.exit_code == 1 and "built with embedder hash-256" in r.stderr and "gdpr-assistant index" in r.stderr


def test_hash_embedder_keeps_torch_out_of_the_process(settings):
    """Subprocess tests (CLI, gunicorn, browser) can answer without loading torch."""
    hash_index(settings)
    code = ("import sys; from assistant.cli import main; rc = main(['ask', '--json', 'data breach 72 hours']); "
            "print('TORCH', 'torch' in sys.modules, rc)")
    import os

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env_for(settings, **HASH)})
    first, last = done.stdout.splitlines()[0], done.stdout.splitlines()[-1]
    assert json.loads(first)["status"] == "answered", done.stderr
    assert last == "TORCH False 0"


def test_db_upgrade_check_and_purge_counts_per_rule(runner, settings):
    env = env_for(settings)
    r = runner.invoke(cli, ["purge"], env=env)
    assert r.exit_code == 1 and r.stderr.count("\n") == 1
    assert "has no schema: run `gdpr-assistant db upgrade`" in r.stderr
    r = runner.invoke(cli, ["db", "upgrade"], env=env)
    assert r.exit_code == 0 and "is up to date" in r.stdout
    r = runner.invoke(cli, ["db", "check"], env=env)
    assert r.exit_code == 0 and "models and migrations agree" in r.stdout
    r = runner.invoke(cli, ["purge"], env=env)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["chat.feedback", "removed", "0"]
    assert lines[1].split()[:3] == ["chat.exchanges", "removed", "0"]
    assert [line.split()[0] for line in lines[2:5]] == ["accounts.sign_in_events", "accounts.sessions", "mail.outbox"]
    assert [line.split()[0] for line in lines[5:13]] == ["matching.lead_access_log", "matching.referrals",
                                                         "matching.consent_records", "newsletter.tokens",
                                                         "newsletter.sends", "newsletter.unconfirmed",
                                                         "newsletter.inactive", "newsletter.ended"]
    assert lines[-1] == "purged 0 row(s) past retention under 13 rule(s)"


def test_db_check_on_a_database_behind(runner, settings):
    r = runner.invoke(cli, ["db", "check"], env=env_for(settings))
    assert r.exit_code == 1 and "run `gdpr-assistant db upgrade` first" in r.stderr


def test_db_revision_writes_nothing_when_models_and_migrations_agree(runner, settings):
    from assistant.db import MIGRATIONS

    before = sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py"))
    env = env_for(settings)
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    r = runner.invoke(cli, ["db", "revision", "nothing changed"], env=env)
    assert r.exit_code == 1 and "already agree" in r.stderr
    assert sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py")) == before
