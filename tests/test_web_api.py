"""The web app with a fake embedder and a real Chroma store and SQLite: API contract, errors, pages, OpenAPI."""

import json
import re

import pytest
from sqlalchemy import func, select

from assistant.chat.models import Exchange, Feedback
from assistant.web import SERVICES_KEY


@pytest.fixture
def app(make_app):
    return make_app(min_similarity=0.0, widget_origins="https://www.cabinet-exemple.fr")


@pytest.fixture
def client(app):
    return app.test_client()


def database(app):
    return app.extensions[SERVICES_KEY].database


def rows(app, model):
    with database(app).reading() as s:
        return s.scalar(select(func.count()).select_from(model))


def sse_events(body: str):
    out = []
    for block in body.strip().split("\n\n"):
        lines = block.split("\n")
        name = lines[0].removeprefix("event: ")
        data = json.loads(lines[1].removeprefix("data: "))
        out.append((name, data))
    return out


def test_chat_contract_and_follow_up(client, app):
    r = client.post("/api/chat", json={"message": "How long do we have to notify a data breach?"})
    assert r.status_code == 200
    d = r.get_json()
    assert {"answer", "language", "status", "citations", "referral", "timings_ms"} <= set(d)
    assert d["status"] == "answered" and d["citations"] and d["answer_id"] and d["conversation_id"]
    r2 = client.post("/api/chat", json={"message": "and the content?", "conversation_id": d["conversation_id"]})
    assert r2.status_code == 200 and r2.get_json()["conversation_id"] == d["conversation_id"]
    assert rows(app, Exchange) == 2


def test_exchange_is_stored_redacted(client, app):
    client.post("/api/chat", json={"message": "data breach: write to marie.curie@example.org or 06 11 22 33 44"})
    with database(app).reading() as s:
        ex = s.scalars(select(Exchange)).one()
    assert "marie.curie" not in ex.question and "[EMAIL]" in ex.question and "[PHONE]" in ex.question
    assert ex.expires_at > ex.created_at


def test_stream_events(client):
    r = client.post("/api/chat/stream", json={"message": "How long do we have to notify a data breach?"})
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    events = sse_events(r.get_data(as_text=True))
    names = [n for n, _ in events]
    assert names[0] == "sources" and names[-1] == "done" and "token" in names
    done = events[-1][1]
    assert "".join(d["text"] for n, d in events if n == "token") == done["answer"]
    assert done["answer_id"] and done["citations"] == events[0][1]["citations"]
    # No GET variant: questions never travel in URLs (access logs, proxies).
    assert client.get("/api/chat/stream", query_string={"message": "x"}).status_code == 405


def test_stream_input_errors_are_plain_json(client):
    r = client.post("/api/chat/stream", json={"message": ""})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "empty_question"
    r = client.post("/api/chat/stream", json={"conversation_id": "x"})
    assert r.status_code == 422


def test_feedback(client, app):
    aid = client.post("/api/chat", json={"message": "data breach 72 hours"}).get_json()["answer_id"]
    r = client.post("/api/feedback", json={"answer_id": aid, "rating": "down", "comment": "call me 06 11 22 33 44"})
    assert r.status_code == 201 and r.get_json()["status"] == "recorded"
    with database(app).reading() as s:
        fb = s.scalars(select(Feedback)).one()
    assert fb.rating == -1 and fb.comment == "call me [PHONE]"


@pytest.mark.parametrize("body,status,code", [
    ({"answer_id": "nope", "rating": "up"}, 404, "unknown_answer"),
    ({"rating": "up"}, 422, "missing_field"),
    ({"answer_id": "x", "rating": "meh"}, 422, "invalid_rating"),
    ({"answer_id": "x", "rating": "up", "comment": 3}, 422, "invalid_type"),
    ({"answer_id": "x", "rating": "up", "comment": "y" * 1001}, 413, "comment_too_long"),
])
def test_feedback_errors(client, app, body, status, code):
    r = client.post("/api/feedback", json=body)
    assert r.status_code == status and r.get_json()["error"]["code"] == code
    assert rows(app, Feedback) == 0


@pytest.mark.parametrize("kwargs,status,code", [
    ({"data": "hello", "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ({"data": "{not json", "content_type": "application/json"}, 400, "malformed_json"),
    ({"data": "[1, 2]", "content_type": "application/json"}, 400, "malformed_json"),
    ({"json": {"msg": "x"}}, 422, "missing_field"),
    ({"json": {"message": ["x"]}}, 422, "invalid_type"),
    ({"json": {"message": "   "}}, 400, "empty_question"),
    ({"json": {"message": "x" * 2001}}, 413, "question_too_long"),
    ({"json": {"message": "a\u0000b"}}, 400, "binary_input"),
    ({"json": {"message": "data", "conversation_id": "nosuchconversation"}}, 404, "unknown_conversation"),
    ({"json": {"message": "data", "conversation_id": 5}}, 422, "invalid_type"),
    ({"data": "x" * 70_000, "content_type": "application/json"}, 413, "payload_too_large"),
    ({"json": {"message": "data"}, "headers": {"Origin": "https://evil.example"}}, 403, "origin_not_allowed"),
])
def test_bad_requests_get_clear_errors_and_store_nothing(client, app, kwargs, status, code):
    r = client.post("/api/chat", **kwargs)
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == code and r.get_json()["error"]["message"]
    assert rows(app, Exchange) == 0


def test_allowed_origin_gets_cors(client):
    r = client.post("/api/chat", json={"message": "data breach"}, headers={"Origin": "https://www.cabinet-exemple.fr"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://www.cabinet-exemple.fr"
    pre = client.options("/api/chat", headers={"Origin": "https://www.cabinet-exemple.fr"})
    assert pre.status_code == 204


def test_wrong_method_and_unknown_endpoint(client):
    assert client.get("/api/chat").status_code == 405
    assert client.get("/api/chat").get_json()["error"]["code"] == "method_not_allowed"
    assert client.get("/api/nope").get_json()["error"]["code"] == "not_found"


def test_pages_and_headers(client):
    r = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert r.status_code == 200 and b'lang="en"' in r.data
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert b"<script>" not in r.data  # no inline script anywhere
    assert b'lang="fr"' in client.get("/", headers={"Accept-Language": "fr-FR"}).data
    assert b'lang="en"' in client.get("/?lang=en", headers={"Accept-Language": "fr-FR"}).data
    embed = client.get("/embed")
    assert "frame-ancestors 'self' https://www.cabinet-exemple.fr" in embed.headers["Content-Security-Policy"]
    demo = client.get("/widget-demo")
    assert "default-src 'none'" in demo.headers["Content-Security-Policy"] and b"/widget.js" in demo.data
    with client.get("/widget.js") as js:
        assert js.mimetype == "text/javascript" and b"attachShadow" in js.data
    for path in ("/static/chat.js", "/static/site.css"):
        with client.get(path) as r:
            assert r.status_code == 200


def test_no_third_party_requests_in_pages(client):
    import re

    for path in ("/", "/embed", "/widget-demo", "/sources/", "/sources/faq-breach-72-hours-fr"):
        html = client.get(path).get_data(as_text=True)
        for url in re.findall(r'(?:src|href)="(https?://[^"]+)"', html):
            assert url.startswith(("https://eur-lex.europa.eu", "https://www.cnil.fr", "http://localhost")), (path, url)


def test_source_pages(client):
    r = client.get("/sources/faq-breach-72-hours-fr")
    assert r.status_code == 200 and b"72 heures" in r.data
    assert b'hreflang="en"' in r.data and b"https://eur-lex.europa.eu/eli/reg/2016/679/oj/fra#art_33" in r.data
    r = client.get("/sources/decision-cnil-2022-dedalus-biologie-en")
    assert b"SAN-2022-009" in r.data and b"1\xe2\x80\xaf500\xe2\x80\xaf000" in r.data
    # No official text imported in this app: the article page shows our guide and links to EUR-Lex.
    r = client.get("/sources/gdpr-en-art-37")
    assert r.status_code == 200 and b"designate a data protection officer" in r.data and b"#art_37" in r.data
    assert client.get("/sources/gdpr-en-art-38").status_code == 404
    assert client.get("/sources/gdpr-en-art-120").status_code == 404
    assert client.get("/sources/glossary-dpo-fr").status_code == 404
    nf = client.get("/sources/nope", headers={"Accept": "text/html"})
    assert nf.status_code == 404 and b"<html" in nf.data
    idx = client.get("/sources/?lang=fr")
    assert idx.status_code == 200 and b"/sources/guide-art-037-fr" in idx.data


def test_openapi_validates_and_covers_every_api_route(client, app):
    from openapi_spec_validator import validate

    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                served.add((rule.rule, method))
    assert served == documented


def test_a_storage_failure_does_not_lose_the_answer(client, app):
    from sqlalchemy.exc import OperationalError

    log = app.extensions[SERVICES_KEY].exchanges

    def broken(*a, **kw):
        raise OperationalError("insert", {}, Exception("disk full"))

    log.record = broken
    r = client.post("/api/chat", json={"message": "How long do we have to notify a data breach?"})
    assert r.status_code == 200 and r.get_json()["status"] == "answered" and r.get_json()["answer_id"] is None


def test_answer_html_on_the_json_answer_and_the_streams_done_event(client):
    body = client.post("/api/chat", json={"message": "How long do we have to notify a data breach?"}).get_json()
    prefix = body["cite_prefix"]
    assert prefix == f"cite-{body['answer_id']}-"
    assert body["answer_html"].startswith("<") and "**" not in body["answer_html"]
    markers = set(re.findall(r'href="#' + re.escape(prefix) + r'(\d+)"', body["answer_html"]))
    assert markers and {int(n) for n in markers} <= set(range(1, len(body["citations"]) + 1))
    events = sse_events(client.post("/api/chat/stream", json={"message": "How long do we have to notify a data "
                                                                        "breach?"}).get_data(as_text=True))
    done = events[-1][1]
    assert events[-1][0] == "done" and done["answer_html"] and done["cite_prefix"] == f"cite-{done['answer_id']}-"
    assert done["answer_html"].replace(done["cite_prefix"], prefix) == body["answer_html"]  # one renderer
