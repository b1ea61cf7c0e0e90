"""The command line: one clear line and a non-zero exit for each kind of bad input."""

import json

import pytest

from assistant.cli import main
from assistant.retrieval.embeddings import HashEmbedder
from assistant.retrieval.index import build_index, current_generation
from assistant.retrieval.vectorstore import open_store


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_does_not_load_torch():
    import subprocess
    import sys

    code = ("import sys; from assistant.cli import main; rc = main(['--help']); "
            "print('TORCH', 'torch' in sys.modules, 'chromadb' in sys.modules, rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "corpus" in out and "index" in out
    assert out.strip().endswith("TORCH False False 0")


def test_unknown_option(capsys):
    code, _, err = run(capsys, "ask", "--nope", "x")
    assert code == 2
    assert err == "Error: No such option '--nope'. (see `gdpr-assistant ask --help`)\n"


def test_unknown_command(capsys):
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and "No such command" in err


@pytest.mark.parametrize("question,needle", [
    ("", "the question is empty"),
    ("   ", "the question is empty"),
    ("x" * 2001, "the limit is 2000"),
    ("abc\x00def", "binary or control characters"),
])
def test_bad_questions(capsys, tmp_path, question, needle):
    code, out, err = run(capsys, "--data-dir", str(tmp_path), "ask", "--json", question)
    assert code == 2
    assert needle in err and err.count("\n") == 1 and out == ""


def test_missing_index_names_the_command(capsys, tmp_path):
    code, _, err = run(capsys, "--data-dir", str(tmp_path / "empty"), "ask", "Qui doit désigner un DPO ?")
    assert code == 1
    assert "no index" in err and "gdpr-assistant index" in err


def test_eval_bad_file(capsys, tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"id": "x"}\n', encoding="utf-8")
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "eval", str(f))
    assert code == 2 and "q.jsonl:1: not a question record" in err


def test_import_corrupt_eurlex(capsys, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10)
    code, _, err = run(capsys, "--data-dir", str(tmp_path / "d"), "corpus", "import-eurlex", str(bad))
    assert code == 1 and "bad.html" in err and err.count("\n") == 1


def test_bad_setting(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_TOP_K", "lots")
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "corpus", "check")
    assert code == 2 and "ASSISTANT_TOP_K" in err


def test_corpus_check_prints_counts(capsys, settings, monkeypatch):
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(settings.corpus_dir))
    code, out, err = run(capsys, "corpus", "check")
    assert "guide" in out and "faq" in out and "cnil_decision" in out
    assert "no guide for article(s) 1-36, 38-99" in err  # the fixture corpus has one guide
    assert code == 1


def test_malformed_corpus_keeps_the_existing_index(capsys, settings, monkeypatch):
    emb = HashEmbedder()
    build_index(settings, emb, open_store(settings, emb.name))
    gen = current_generation(settings.index_dir)
    bad = settings.corpus_dir / "faq" / "fr" / "broken.md"
    bad.write_text("---\nid: x\n---\nbody", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(settings.corpus_dir))
    code, _, err = run(capsys, "--data-dir", str(settings.data_dir), "corpus", "check")
    assert code == 1 and "broken.md" in err and "field 'kind' is missing" in err
    with pytest.raises(Exception, match="broken.md"):
        build_index(settings, emb, open_store(settings, emb.name))
    assert current_generation(settings.index_dir) == gen


def test_ask_stdin_reports_bad_lines_in_order(capsys, monkeypatch, settings):
    """Bad lines get a JSON error object in place; good ones an answer (fake embedder, real Chroma)."""
    import io

    import assistant.runtime as runtime

    emb = HashEmbedder()
    build_index(settings, emb, open_store(settings, emb.name))
    real_open = runtime.open_answer_service
    monkeypatch.setattr(runtime, "open_answer_service", lambda s: real_open(s, embedder=emb))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setattr("sys.stdin", io.StringIO("data breach 72 hours\n\n" + "y" * 10_000_000 + "\n"))
    code, out, _ = run(capsys, "--data-dir", str(settings.data_dir), "ask", "--json", "-")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 2
    assert len(lines) == 3
    assert lines[0]["citations"] and lines[0]["language"] == "en"
    assert lines[1]["error"]["code"] == "empty_question"
    assert lines[2]["error"]["code"] == "question_too_long"
