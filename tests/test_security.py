"""The web security layer over the app's whole URL map: CSRF on every state-changing route, a rate
limit on every route, the security headers on every response; HSTS, cookies, nonces, origins."""

import re
import time

import pytest
from sqlalchemy import func, select

from assistant.chat.models import Exchange, Feedback
from assistant.web import SERVICES_KEY
from assistant.web.security import content_security_policy, limiter_of, route_limits

BREACH = {"message": "How long do we have to notify a data breach?"}
SAMPLE_ARGS = {"source_id": "gdpr-en-art-37", "filename": "site.css"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# RFC 8058: mail providers post the one-click unsubscribe with no session; its signed URL token is the guard
# (tests/test_newsletter.py checks that forged tokens are refused and change nothing).
NO_CSRF = {"newsletter.unsubscribe"}
BROWSER = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}


def rules(app, methods=None):
    """(rule, url) for every route of the app (arguments filled with sample values)."""
    out = []
    for rule in app.url_map.iter_rules():
        if methods and not (rule.methods & methods):
            continue
        out.append((rule, rule.rule.replace("<path:filename>", SAMPLE_ARGS["filename"])
                    .replace("<source_id>", SAMPLE_ARGS["source_id"]).replace("<int:issue_id>", "1")))
    return out


def count(app, model):
    with app.extensions[SERVICES_KEY].database.reading() as s:
        return s.scalar(select(func.count()).select_from(model))


def page_token(client):
    html = client.get("/").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


@pytest.fixture
def app(make_app):
    return make_app(min_similarity=0.0, widget_origins="https://www.cabinet.fr")


# -- headers on every response ------------------------------------------------------------------------

def test_every_route_answers_with_the_security_headers(app):
    client = app.test_client()
    seen = set()
    for rule, url in rules(app, {"GET"}):
        resp = client.get(url)
        resp.close()  # static files are streamed from disk
        seen.add(rule.endpoint)
        h = resp.headers
        assert h["X-Content-Type-Options"] == "nosniff", url
        assert h["Referrer-Policy"] == "same-origin", url
        assert "camera=()" in h["Permissions-Policy"], url
        csp = h["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, url
        if resp.mimetype == "text/html":
            assert re.search(r"script-src [^;]*'nonce-[\w-]+'", csp), url
            assert "object-src 'none'" in csp and "base-uri 'none'" in csp, url
        else:
            assert csp == "default-src 'none'; frame-ancestors 'none'", url
        if rule.endpoint in ("pages.asset", "pages.widget_js", "pages.robots"):
            assert "no-store" not in h["Cache-Control"], url  # public files may be cached
        else:
            assert h["Cache-Control"] == "no-store", url
        assert "Strict-Transport-Security" not in h, url  # plain HTTP: HSTS means nothing there
    assert seen >= {"pages.chat", "pages.embed", "api.health", "sources.show", "admin.index", "partner.index",
                    "accounts.login"}


def test_answers_and_errors_are_never_stored_by_caches(app):
    client = app.test_client()
    assert client.post("/api/chat", json=BREACH).headers["Cache-Control"] == "no-store"
    assert client.post("/api/chat/stream", json=BREACH).headers["Cache-Control"] == "no-store"
    assert client.post("/api/chat", json={"message": ""}).headers["Cache-Control"] == "no-store"
    assert client.get("/nope").headers["Cache-Control"] == "no-store"


def test_nonces_are_new_on_every_page_and_on_every_script(app):
    client = app.test_client()
    nonces = []
    for _ in range(2):
        resp = client.get("/")
        nonce = re.search(r"'nonce-([\w-]+)'", resp.headers["Content-Security-Policy"]).group(1)
        html = resp.get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts)
        assert " style=" not in html and "onclick" not in html  # nothing inline that a nonce cannot cover
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_csp_builder():
    csp = content_security_policy("abc", frame_ancestors="'self' https://www.cabinet.fr", font_src=None)
    assert "script-src 'self' 'nonce-abc'" in csp and "style-src 'self' 'nonce-abc'" in csp
    assert "frame-ancestors 'self' https://www.cabinet.fr" in csp and "font-src" not in csp
    assert "'nonce-" not in content_security_policy(None, script_src="'none'")


def test_the_widget_frame_may_be_framed_by_its_hosts_only(app):
    client = app.test_client()
    assert "frame-ancestors 'self' https://www.cabinet.fr" in client.get("/embed").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self';" in client.get("/").headers["Content-Security-Policy"] + ";"
    demo = client.get("/widget-demo").headers["Content-Security-Policy"]
    assert "default-src 'none'" in demo and "frame-src 'self'" in demo and "unsafe-inline" not in demo


@pytest.mark.parametrize("changes,base,headers,https", [
    ({}, "http://localhost", {}, False),
    ({}, "https://localhost", {}, True),
    ({}, "http://localhost", {"X-Forwarded-Proto": "https"}, False),  # forged: no trusted proxy
    ({"trusted_proxies": 1}, "http://localhost", {"X-Forwarded-Proto": "https"}, True),
    ({"public_origin": "https://assistant.example.fr"}, "http://localhost", {}, True),
])
def test_hsts_and_secure_cookies_over_https(make_app, changes, base, headers, https):
    app = make_app(**changes)
    client = app.test_client()
    resp = client.get("/?lang=en", base_url=base, headers=headers)  # ?lang= sets the session cookie
    assert ("Strict-Transport-Security" in resp.headers) is https
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is https


# -- CSRF on every state-changing route ---------------------------------------------------------------

def test_every_state_changing_route_refuses_a_missing_or_forged_token(app):
    client = app.test_client()
    client.get("/login")  # a session, as a browser has
    before = (count(app, Exchange), count(app, Feedback))
    checked = []
    for rule, url in rules(app, STATE_CHANGING):
        if rule.endpoint in NO_CSRF:
            resp = client.post(url, data={"csrf_token": "", "List-Unsubscribe": "One-Click"})
            assert resp.status_code == 404, (url, resp.status_code)  # a forged token: refused all the same
            checked.append(rule.endpoint)
            continue
        for token in ("", "forged.token.value"):
            if url.startswith("/api/"):
                resp = client.post(url, json={**BREACH, "answer_id": "x", "rating": "up"},
                                   headers={**BROWSER, "X-CSRF-Token": token})
            else:
                resp = client.post(url, data={"csrf_token": token, "email": "a@b.fr", "password": "x" * 12,
                                              "code": "123456"}, headers={"Accept": "text/html"})
            assert resp.status_code == 400, (url, resp.status_code)
            body = resp.get_data(as_text=True)
            if url.startswith("/api/"):
                assert resp.get_json()["error"]["code"] == "csrf_failed"
            else:
                assert resp.mimetype == "text/html" and "Reload the page" in body or "Rechargez la page" in body
        checked.append(rule.endpoint)
    assert set(checked) >= {"api.chat", "api.chat_stream", "api.feedback", "accounts.login", "accounts.code",
                            "accounts.logout"}
    assert (count(app, Exchange), count(app, Feedback)) == before  # nothing stored


def test_api_posts_from_our_pages_pass_with_the_page_token(app):
    client = app.test_client()
    token = page_token(client)
    resp = client.post("/api/chat", json=BREACH, headers={**BROWSER, "X-CSRF-Token": token})
    assert resp.status_code == 200 and resp.get_json()["answer_html"]
    aid = resp.get_json()["answer_id"]
    fb = client.post("/api/feedback", json={"answer_id": aid, "rating": "up"},
                     headers={**BROWSER, "X-CSRF-Token": token})
    assert fb.status_code == 201


def test_widget_hosts_and_programs_need_no_page_token(app):
    client = app.test_client()
    host = client.post("/api/chat", json=BREACH, headers={"Origin": "https://www.cabinet.fr"})
    assert host.status_code == 200 and host.headers["Access-Control-Allow-Origin"] == "https://www.cabinet.fr"
    assert client.post("/api/chat", json=BREACH).status_code == 200  # curl, a server: no ambient credentials
    other = client.post("/api/chat", json=BREACH, headers={"Origin": "https://evil.example"})
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "origin_not_allowed"
    preflight = client.options("/api/chat", headers={"Origin": "https://www.cabinet.fr",
                                                      "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204 and "X-CSRF-Token" in preflight.headers["Access-Control-Allow-Headers"]


def test_an_expired_page_token_is_refused(app, monkeypatch):
    from assistant.web import security

    client = app.test_client()
    token = page_token(client)
    monkeypatch.setattr(security, "PAGE_TOKEN_MAX_AGE", -1)
    resp = client.post("/api/chat", json=BREACH, headers={**BROWSER, "X-CSRF-Token": token})
    assert resp.status_code == 400 and "expired" in resp.get_json()["error"]["message"]


# -- rate limits on every route -----------------------------------------------------------------------

def test_every_route_has_a_limit(app):
    limits = route_limits(app)
    assert set(limits) == set(app.view_functions)
    assert all(limits.values())
    assert limits["api.chat"] == ["30/minute;300/day per ip", "10/minute per conversation"]
    assert limits["accounts.login"] == ["10/minute per ip on POST", "120/minute per ip"]


def test_every_route_answers_429_over_its_limit(make_app):
    app = make_app(min_similarity=0.0, rate_limit="2/minute", chat_rate_limit="2/minute",
                   signin_rate_limit="2/minute", referral_rate_limit="2/minute",
                   newsletter_rate_limit="2/minute")
    client = app.test_client()
    before = count(app, Exchange)
    for rule, url in rules(app):
        method = "POST" if rule.methods & STATE_CHANGING else "GET"
        statuses = []
        for _ in range(3):
            kwargs = {"json": BREACH} if url.startswith("/api/") and method == "POST" else {}
            resp = client.open(url, method=method, **kwargs)
            resp.close()
            statuses.append(resp.status_code)
        assert statuses[-1] == 429 and 429 not in statuses[:2], (url, statuses)
    over = client.post("/api/chat", json=BREACH)
    assert over.get_json()["error"]["code"] == "too_many_requests"
    assert "2 per 1 minute" in over.get_json()["error"]["message"] and int(over.headers["Retry-After"]) >= 1
    page = client.get("/", headers={"Accept": "text/html", "Accept-Language": "fr"})
    assert page.status_code == 429 and page.mimetype == "text/html" and "Réessayez dans" in page.get_data(True)
    assert count(app, Exchange) == before + 2  # the refused questions were neither answered nor stored


def test_a_conversation_is_limited_whatever_the_address(make_app):
    app = make_app(min_similarity=0.0, conversation_rate_limit="2/minute")
    client = app.test_client()
    cid = client.post("/api/chat", json=BREACH).get_json()["conversation_id"]
    statuses = [client.post("/api/chat", json={**BREACH, "conversation_id": cid},
                            environ_base={"REMOTE_ADDR": f"203.0.113.{i}"}).status_code for i in range(3)]
    assert statuses == [200, 200, 429]
    assert client.post("/api/chat", json=BREACH).status_code == 200  # a new conversation is not held back


def test_limits_are_shared_through_redis(make_app, redis_url):
    prefix = f"t{time.time_ns()}"
    first = make_app(redis_url=redis_url, rate_limit="3/minute")
    second = make_app(redis_url=redis_url, rate_limit="3/minute")
    for app in (first, second):
        limiter_of(app)._key_prefix = prefix  # this test's own counters in the shared Redis
    statuses = [app.test_client().get("/api/health").status_code for app in (first, second, first, second)]
    assert statuses == [200, 200, 200, 429]  # two workers, one count


def test_redis_down_falls_back_to_memory(make_app):
    from assistant.answer.conversations import ConversationStore

    app = make_app(redis_url="redis://127.0.0.1:1/0", rate_limit="2/minute",
                   services={"conversations": ConversationStore()})  # the limiter's fallback, not theirs
    client = app.test_client()
    assert [client.get("/api/health").status_code for _ in range(3)] == [200, 200, 429]


def test_visitors_get_no_cookie_unless_they_choose_a_language(app):
    client = app.test_client()
    for url in ("/", "/embed", "/sources/", "/widget.js", "/api/health"):
        assert "Set-Cookie" not in client.get(url).headers, url
    assert "Set-Cookie" not in client.post("/api/chat", json=BREACH).headers
    assert "Set-Cookie" in client.get("/?lang=en").headers  # the visitor's choice, remembered


def test_one_retry_after_on_429(make_app):
    client = make_app(rate_limit="1/minute").test_client()
    client.get("/api/health")
    over = client.get("/api/health")
    assert over.status_code == 429 and len(over.headers.getlist("Retry-After")) == 1
