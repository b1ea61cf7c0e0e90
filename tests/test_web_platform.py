"""The platform under the web app: services built once, errors as JSON or HTML, origins behind a proxy."""

import logging
import re

import pytest
from sqlalchemy import select

from assistant.chat.models import Exchange, Feedback
from assistant.container import Services, build_services
from assistant.web import SERVICES_KEY, create_app

from conftest import hash_index

BREACH = {"message": "How long do we have to notify a data breach?"}


def services_of(app) -> Services:
    return app.extensions[SERVICES_KEY]


def page_token(client, headers=None) -> str:
    """The token the chat page gives its script for API posts."""
    html = client.get("/", headers=headers or {}).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


# -- composition root ------------------------------------------------------------------------------

def test_services_are_built_once_and_shared(make_app):
    app = make_app(min_similarity=0.0)
    services = services_of(app)
    assert services.answers.retriever.embedder is services.embedder
    assert services.answers.conversations is services.conversations
    assert services.exchanges.db is services.database
    assert [r.name for r in services.retention.rules] == ["chat.feedback", "chat.exchanges",
                                                          "accounts.sign_in_events", "accounts.sessions",
                                                          "mail.outbox", "matching.lead_access_log", "matching.referrals",
                                                          "matching.consent_records", "newsletter.tokens", "newsletter.sends",
                                                          "newsletter.unconfirmed", "newsletter.inactive",
                                                          "newsletter.ended"]
    assert services.newsletter.database is services.database and services.newsletter.mailer is services.mailer
    assert services.newsletter.jobs is services.jobs and services.newsletter.hasher is services.hasher
    assert services.accounts.db is services.database
    assert services.accounts.cipher is services.cipher and services.accounts.hasher is services.hasher
    assert services.mailer.database is services.database and services.mailer.jobs is services.jobs
    assert services.jobs.services is services and services.mailer.cipher is services.cipher
    client = app.test_client()
    for _ in range(2):
        assert client.post("/api/chat", json=BREACH).status_code == 200
    assert services_of(app) is services and services.answers.metrics["questions"] == 2


def test_unknown_override_is_refused(settings):
    with pytest.raises(TypeError, match="unknown service.*answer_service"):
        build_services(settings, answer_service=object())


def test_empty_conversation_store_override_is_kept(settings):
    from assistant.answer.conversations import ConversationStore

    emb = hash_index(settings)
    store = ConversationStore(ttl_seconds=60)
    assert len(store) == 0  # falsy, but given
    services = build_services(settings, embedder=emb, conversations=store)
    assert services.conversations is store and services.answers.conversations is store
    services.close()


def test_missing_index_fails_when_the_app_is_built(settings):
    from assistant.errors import IndexMissingError

    with pytest.raises(IndexMissingError, match="gdpr-assistant index"):
        create_app(settings)


def test_development_secret_key_is_generated_once(make_app, settings):
    first = make_app()
    second = make_app()
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] and len(first.config["SECRET_KEY"]) >= 32
    assert (settings.keys_dir / "secret_key").is_file()


def test_no_migration_at_request_time(make_app, caplog):
    """Without `db upgrade` the answer still comes back; storing fails loudly, naming the command."""
    app = make_app(migrate=False, min_similarity=0.0)
    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="assistant.web.api"):
        r = client.post("/api/chat", json=BREACH)
    assert r.status_code == 200 and r.get_json()["status"] == "answered" and r.get_json()["answer_id"] is None
    assert "run `gdpr-assistant db upgrade`" in caplog.text and "breach" not in caplog.text
    fb = client.post("/api/feedback", json={"answer_id": "0" * 32, "rating": "up"})
    assert fb.status_code == 503
    assert fb.get_json()["error"]["code"] == "database_not_ready"
    assert "gdpr-assistant db upgrade" in fb.get_json()["error"]["message"]
    from sqlalchemy import inspect

    assert "exchanges" not in inspect(services_of(app).database.engine).get_table_names()


# -- errors ----------------------------------------------------------------------------------------

@pytest.fixture
def broken_app(make_app):
    """An app whose answer service raises an unexpected exception."""
    app = make_app(min_similarity=0.0)

    def boom(*a, **kw):
        raise RuntimeError("secret internals: question was 'call me at 06 11 22 33 44'")

    services_of(app).answers.ask = boom
    return app


def test_unexpected_error_on_the_api_is_json(broken_app, caplog):
    client = broken_app.test_client()
    with caplog.at_level(logging.ERROR):
        r = client.post("/api/chat", json={"message": "my number is 06 99 88 77 66, breach?"})
    assert r.status_code == 500 and r.mimetype == "application/json"
    error = r.get_json()["error"]
    assert error["code"] == "internal_error" and "logged" in error["message"]
    assert "secret internals" not in r.get_data(as_text=True)
    assert "POST /api/chat" in caplog.text and "RuntimeError" in caplog.text
    assert "06 99 88 77 66" not in caplog.text  # the request body is never logged


def test_unexpected_error_on_a_page_is_html(make_app):
    app = make_app()

    def boom(*a, **kw):
        raise RuntimeError("broken library")

    services_of(app).sources.by_kind = boom
    r = app.test_client().get("/sources/", headers={"Accept": "text/html"})
    assert r.status_code == 500 and r.mimetype == "text/html" and b"<html" in r.data
    assert b"broken library" not in r.data
    r = app.test_client().get("/sources/", headers={"Accept": "application/json"})
    assert r.status_code == 500 and r.get_json()["error"]["code"] == "internal_error"


@pytest.mark.parametrize("method,path,accept,status,code", [
    ("get", "/api/nope", "text/html", 404, "not_found"),
    ("get", "/api/chat", "text/html", 405, "method_not_allowed"),
    ("delete", "/api/feedback", "*/*", 405, "method_not_allowed"),
    ("get", "/nope", "application/json", 404, "not_found"),
])
def test_http_errors_are_json_for_the_api_and_json_clients(make_app, method, path, accept, status, code):
    r = getattr(make_app().test_client(), method)(path, headers={"Accept": accept})
    assert r.status_code == status and r.get_json()["error"]["code"] == code
    if status == 405:
        assert "POST" in r.headers["Allow"]


def test_http_errors_are_html_for_browsers(make_app):
    r = make_app().test_client().get("/nope", headers={"Accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 404 and r.mimetype == "text/html" and b"404" in r.data


# -- origins and proxies ---------------------------------------------------------------------------

@pytest.mark.parametrize("changes,headers,origin,allowed", [
    ({}, {}, "http://localhost", True),  # the request's own origin
    ({}, {}, "http://LOCALHOST:80/", True),
    ({}, {}, "https://localhost", False),
    # Behind a TLS proxy the browser's origin is https://public-host; without ProxyFix it looks cross-site.
    ({}, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "assistant.example.fr"},
     "https://assistant.example.fr", False),
    ({"trusted_proxies": 1}, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "assistant.example.fr"},
     "https://assistant.example.fr", True),
    ({"trusted_proxies": 1}, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "assistant.example.fr"},
     "http://localhost", False),
    ({"public_origin": "https://assistant.example.fr"}, {}, "https://assistant.example.fr", True),
    ({"public_origin": "https://assistant.example.fr"}, {}, "http://localhost", False),
    ({"public_origin": "https://assistant.example.fr", "widget_origins": "https://www.cabinet.fr"}, {},
     "https://www.cabinet.fr", True),
])
def test_origin_check(make_app, changes, headers, origin, allowed):
    app = make_app(min_similarity=0.0, **changes)
    client = app.test_client()
    token = page_token(client, headers)  # our own pages send theirs; other origins are only origin-checked
    r = client.post("/api/chat", json=BREACH, headers={**headers, "Origin": origin, "X-CSRF-Token": token})
    assert r.status_code == (200 if allowed else 403), r.get_json()
    if not allowed:
        assert r.get_json()["error"]["code"] == "origin_not_allowed"


def test_cors_headers_only_for_other_allowed_origins(make_app):
    app = make_app(min_similarity=0.0, public_origin="https://assistant.example.fr",
                   widget_origins="https://www.cabinet.fr")
    client = app.test_client()
    own = client.post("/api/chat", json=BREACH, headers={"Origin": "https://assistant.example.fr"})
    assert "Access-Control-Allow-Origin" not in own.headers
    widget = client.post("/api/chat", json=BREACH, headers={"Origin": "https://www.cabinet.fr"})
    assert widget.headers["Access-Control-Allow-Origin"] == "https://www.cabinet.fr"


def test_proxyfix_restores_the_client_address(make_app):
    from flask import request

    app = make_app(trusted_proxies=1)

    @app.get("/whoami")
    def whoami():
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

    seen = app.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.9",
                                                     "X-Forwarded-Proto": "https",
                                                     "X-Forwarded-Host": "assistant.example.fr"}).get_json()
    assert seen == {"addr": "203.0.113.9", "scheme": "https", "host": "assistant.example.fr"}
    untrusted = make_app()
    untrusted.add_url_rule("/whoami", view_func=whoami)
    seen = untrusted.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"}).get_json()
    assert seen["addr"] == "127.0.0.1"  # forged headers are ignored without TRUSTED_PROXIES


# -- the chat feature through the API ---------------------------------------------------------------

def test_lone_surrogate_neither_loses_the_answer_nor_fails_storage(make_app):
    app = make_app(min_similarity=0.0)
    client = app.test_client()
    body = '{"message": "How long to notify a data breach? \\ud800"}'
    r = client.post("/api/chat", data=body, content_type="application/json")
    assert r.status_code == 200 and r.get_json()["status"] == "answered" and r.get_json()["answer_id"]
    aid = r.get_json()["answer_id"]
    fb = client.post("/api/feedback", content_type="application/json",
                     data=f'{{"answer_id": "{aid}", "rating": "down", "comment": "half an emoji \\udc00 here"}}')
    assert fb.status_code == 201
    stream = client.post("/api/chat/stream", data=body, content_type="application/json")
    assert stream.status_code == 200 and "event: done" in stream.get_data(as_text=True)
    with services_of(app).database.reading() as s:
        questions = s.scalars(select(Exchange.question)).all()
        comment = s.scalars(select(Feedback.comment)).one()
    assert questions == ["How long to notify a data breach?"] * 2 and comment == "half an emoji  here"


def test_second_vote_replaces_the_first(make_app):
    app = make_app(min_similarity=0.0)
    client = app.test_client()
    aid = client.post("/api/chat", json=BREACH).get_json()["answer_id"]
    first = client.post("/api/feedback", json={"answer_id": aid, "rating": "up", "comment": "great"})
    again = client.post("/api/feedback", json={"answer_id": aid, "rating": "down"})
    assert (first.status_code, first.get_json()["status"]) == (201, "recorded")
    assert (again.status_code, again.get_json()["status"]) == (200, "replaced")
    assert again.get_json()["id"] == first.get_json()["id"]
    with services_of(app).database.reading() as s:
        votes = s.scalars(select(Feedback)).all()
    assert [(v.rating, v.comment) for v in votes] == [(-1, None)]


def test_exchange_diagnostics_are_stored(make_app):
    app = make_app(min_similarity=0.0)
    client = app.test_client()
    answer = client.post("/api/chat", json=BREACH).get_json()
    client.post("/api/chat", json={"message": "Bonjour !"})
    with services_of(app).database.reading() as s:
        rows = {x.status: x for x in s.scalars(select(Exchange))}
    answered, greeting = rows["answered"], rows["out_of_scope"]
    assert answered.scope == "in_scope" and answered.writer == "grounded" and answered.total_ms > 0
    # What retrieval found (the console's diagnostics), best first: the answer leads with the first.
    assert answered.retrieved[0]["ref"] == answer["citations"][0]["ref"]
    assert all(0 <= r["score"] <= 1 for r in answered.retrieved)
    assert greeting.scope == "greeting" and greeting.writer == "fixed" and greeting.retrieved == []
