"""`corpus fetch` against a real local HTTP server serving the EUR-Lex files."""

import http.server
import socket
import threading
import time

import pytest

from assistant.corpus.eurlex import load_official
from assistant.corpus.fetch import fetch_official
from assistant.errors import FetchError

from conftest import EURLEX_FILES, make_settings


def serve(handler_cls):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def eurlex_handler(eurlex_dir, delay=0.0, status=200, body=None):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(delay)
            lang = self.path.strip("/").lower()
            if status != 200 or lang not in EURLEX_FILES:
                self.send_response(status if status != 200 else 404)
                self.end_headers()
                return
            data = body if body is not None else (eurlex_dir / EURLEX_FILES[lang]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    return Handler


def settings_for(tmp_path, port, timeout=10.0):
    return make_settings(tmp_path / "data", eurlex_url_template=f"http://127.0.0.1:{port}/{{LANG}}",
                         fetch_timeout=timeout)


@pytest.mark.official
def test_fetch_downloads_and_imports_both_languages(eurlex_dir, tmp_path):
    server = serve(eurlex_handler(eurlex_dir))
    try:
        s = settings_for(tmp_path, server.server_address[1])
        texts = fetch_official(s)
    finally:
        server.shutdown()
        server.server_close()
    assert [t.lang for t in texts] == ["fr", "en"]
    stored = load_official(s.official_dir)
    assert [len(t.articles) for t in stored] == [99, 99]
    assert [len(t.recitals) for t in stored] == [173, 173]


def test_fetch_offline_gives_a_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket closes
    with pytest.raises(FetchError, match="cannot reach EUR-Lex .* import-eurlex"):
        fetch_official(settings_for(tmp_path, port))
    assert not (tmp_path / "data" / "official").exists()


def test_fetch_timeout(tmp_path):
    server = serve(eurlex_handler(tmp_path, delay=2.0, body=b""))
    try:
        with pytest.raises(FetchError, match="did not answer within 0.3 s"):
            fetch_official(settings_for(tmp_path, server.server_address[1], timeout=0.3))
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_http_error(tmp_path):
    server = serve(eurlex_handler(tmp_path, status=503))
    try:
        with pytest.raises(FetchError, match="HTTP 503"):
            fetch_official(settings_for(tmp_path, server.server_address[1]))
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_of_a_wrong_page_saves_nothing(tmp_path):
    server = serve(eurlex_handler(tmp_path, body=b"<html><body>Maintenance</body></html>"))
    try:
        with pytest.raises(FetchError, match="not a complete GDPR text"):
            fetch_official(settings_for(tmp_path, server.server_address[1]))
    finally:
        server.shutdown()
        server.server_close()
    assert load_official(tmp_path / "data" / "official") == []
