"""End to end with the real packaged model and real Chroma stores (persistent and server)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.container import build_answer_service
from assistant.errors import VectorStoreUnavailable
from assistant.retrieval.embeddings import HashEmbedder
from assistant.retrieval.index import build_index
from assistant.retrieval.retriever import HybridRetriever
from assistant.retrieval.vectorstore import open_store

from conftest import free_port, make_settings

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "assistant.cli"]
PUBLIC_QUESTIONS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "public_questions.jsonl"


def cli_env(s):
    return {**os.environ, "ASSISTANT_DATA_DIR": str(s.data_dir), "ASSISTANT_CORPUS_DIR": str(s.corpus_dir),
            "HF_HUB_OFFLINE": "1"}


def test_ask_json_stdin_real_model(real_index):
    s, report = real_index
    assert report.official_languages == ("fr", "en") and report.embedded == report.chunks
    questions = ["Dans quel délai notifier une violation de données à la CNIL ?",
                 "Which organisations must designate a data protection officer?",
                 "",
                 "Quelles sont les conditions applicables au consentement ?"]
    proc = subprocess.run(CLI + ["ask", "--json", "-"], input="\n".join(questions) + "\n", capture_output=True,
                          text=True, env=cli_env(s), timeout=300)
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert proc.returncode == 2, proc.stderr  # one bad (empty) line
    assert len(lines) == 4
    a0, a1, bad, a3 = lines
    assert bad == {"error": {"code": "empty_question", "message": "the question is empty; type a question about the GDPR"}}
    for a, lang, article in ((a0, "fr", 33), (a1, "en", 37), (a3, "fr", 7)):
        assert set(a) == {"answer", "language", "status", "citations", "referral", "timings_ms", "answer_html"}
        assert a["language"] == lang and a["status"] == "answered"
        assert set(a["timings_ms"]) == {"retrieve", "compose", "total"}
        arts = [c["article"] for c in a["citations"]]
        assert article in arts[:3], (lang, arts)
        for c in a["citations"]:
            assert set(c) == {"kind", "ref", "article", "paragraph", "title", "url", "page", "updated", "score"}
            assert c["url"].startswith("https://") and c["page"].startswith("/sources/")
            assert 0 <= c["score"] <= 1
        markers = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", a["answer"])}
        assert markers == set(range(1, len(a["citations"]) + 1))  # the cards are the sources the text cites
    fr_official = [c for c in a0["citations"] if c["kind"] == "gdpr_article"]
    assert fr_official and all(c["ref"].startswith("RGPD art.") and "/oj/fra#" in c["url"] for c in fr_official)


def test_single_question_plain_text(real_index):
    s, _ = real_index
    proc = subprocess.run(CLI + ["ask", "Qu'est-ce que le droit à l'effacement ?"], capture_output=True,
                          text=True, env=cli_env(s), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "art. 17" in proc.stdout and "https://eur-lex.europa.eu/" in proc.stdout


def test_chroma_server_by_url(settings, chroma_server):
    s = settings.with_(chroma_url=chroma_server)
    emb = HashEmbedder()
    r = build_index(s, emb, open_store(s, emb.name))
    assert r.embedded == r.chunks
    assert not s.chroma_dir.exists()  # vectors went to the server, not the data dir
    again = build_index(s, emb, open_store(s, emb.name))
    assert again.embedded == 0
    hits = HybridRetriever(s, emb, open_store(s, emb.name)).retrieve("data breach 72 hours").hits
    assert hits and hits[0].dense_similarity is not None or hits[0].ranks


def test_unreachable_chroma_server(tmp_path):
    s = make_settings(tmp_path / "d", chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(VectorStoreUnavailable, match="cannot reach the Chroma server .*`chroma run"):
        open_store(s, "x")
    proc = subprocess.run(CLI + ["index"], capture_output=True, text=True, timeout=120,
                          env={**cli_env(s), "CHROMA_URL": s.chroma_url})
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: cannot reach the Chroma server") and proc.stderr.count("\n") == 1


def test_chroma_server_down_means_lexical_answers_flagged(settings, tmp_path):
    """The Chroma server is gone when the service starts: BM25 answers, and the answer says so."""
    port = free_port()
    exe = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(exe), "run", "--path", str(tmp_path / "chroma"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import socket
        import time

        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.3)
        s = settings.with_(chroma_url=f"http://127.0.0.1:{port}", min_similarity=0.0)
        emb = HashEmbedder()
        build_index(s, emb, open_store(s, emb.name))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    svc = build_answer_service(s, embedder=emb)
    a = svc.ask("How long do we have to notify a data breach?")
    assert a.status == "answered" and a.citations
    assert a.verification["degraded"].startswith("vector store unavailable")
