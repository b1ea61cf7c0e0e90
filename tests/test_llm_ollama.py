"""The Ollama backend over real HTTP: a loopback server speaking Ollama's /api/chat (NDJSON streaming)."""

import http.server
import json
import threading

import pytest

from assistant.answer.llm import LLMWriter, make_chat_model
from assistant.answer.service import AnswerService

pytest.importorskip("langchain_ollama", reason="the Ollama backend is optional: pip install langchain-ollama")


def ollama_server(reply: str):
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body))
            words = reply.split(" ")
            pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
            self.send_response(200)
            if body.get("stream", True):
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                for p in pieces:
                    line = {"model": body["model"], "created_at": "2026-11-29T00:00:00Z",
                            "message": {"role": "assistant", "content": p}, "done": False}
                    self.wfile.write((json.dumps(line) + "\n").encode())
                last = {"model": body["model"], "created_at": "2026-11-29T00:00:00Z",
                        "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"}
                self.wfile.write((json.dumps(last) + "\n").encode())
            else:
                data = json.dumps({"model": body["model"], "created_at": "2026-11-29T00:00:00Z",
                                   "message": {"role": "assistant", "content": reply}, "done": True,
                                   "done_reason": "stop"}).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_ollama_backend_answers_and_streams(settings, tmp_path):
    from assistant.retrieval.embeddings import HashEmbedder
    from assistant.retrieval.index import build_index
    from assistant.retrieval.retriever import HybridRetriever
    from assistant.retrieval.vectorstore import open_store

    server, seen = ollama_server("Notify within 72 hours [1]. Article 96 is made up [1].")
    try:
        s = settings.with_(min_similarity=0.0, llm_backend="ollama", llm_model="mistral",
                           llm_url=f"http://127.0.0.1:{server.server_address[1]}")
        emb = HashEmbedder()
        build_index(s, emb, open_store(s, emb.name))
        svc = AnswerService(s, HybridRetriever(s, emb, open_store(s, emb.name)), llm=LLMWriter(make_chat_model(s)))
        a = svc.ask("How long do we have to notify a data breach?")
        assert a.verification["writer"] == "llm"
        assert a.answer.startswith("Notify within 72 hours [1].") and "Article 96" not in a.answer
        events = list(svc.ask_stream("How long do we have to notify a data breach?"))
        tokens = "".join(e[1]["text"] for e in events if e[0] == "token")
        assert "Notify within 72 hours [1]." in tokens and "Article 96" not in tokens
        assert seen[0][0] == "/api/chat" and seen[0][1]["model"] == "mistral"
    finally:
        server.shutdown()
        server.server_close()
