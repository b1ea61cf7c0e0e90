"""Real browser tests: Debian's chromium driven by Playwright against the real server on loopback, with
axe-core (npm) checking WCAG 2.2 AA on every page."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import wait_for_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
AXE = Path(__file__).resolve().parent / "browser/node_modules/axe-core/axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PASSWORD = "correct horse battery staple"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


USERS: dict[str, str] = {}  # e-mail -> TOTP secret, filled when the server starts


@pytest.fixture(scope="module")
def server(real_index, tmp_path_factory):
    s, _ = real_index
    port = free_port()
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(s.data_dir), "ASSISTANT_CORPUS_DIR": str(s.corpus_dir),
           "HF_HUB_OFFLINE": "1", "DATABASE_URL": "", "ASSISTANT_WIDGET_ORIGINS": "",
           # every test comes from 127.0.0.1: the limits are tested elsewhere (tests/test_security.py)
           "ASSISTANT_RATE_LIMIT": "1000/minute", "ASSISTANT_CHAT_RATE_LIMIT": "1000/minute",
           "ASSISTANT_SIGNIN_RATE_LIMIT": "1000/minute"}
    # The deploy step first: the server never migrates by itself.
    subprocess.run([sys.executable, "-m", "assistant.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    secrets = {}
    for email, role in (("operator@example.fr", "operator"), ("dpo@example.fr", "partner")):
        out = subprocess.run([sys.executable, "-m", "assistant.cli", "users", "create", "--email", email, "--role", role,
                              "--password-stdin"], env=env, input=PASSWORD + "\n", capture_output=True, text=True)
        if out.returncode == 0:  # the module's data dir is shared by the session: created once
            secrets[email] = re.search(r"TOTP secret: (\w+)", out.stdout).group(1)
        else:
            assert "already exists" in out.stderr, out.stderr
    USERS.update(secrets)
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_for_server(base, proc, log_path, timeout=90)
    yield base
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        msg = "Debian chromium is not installed (`make browser` installs it)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1100, "height": 900})
    p = context.new_page()
    p.set_default_timeout(60_000)
    errors, requests = [], []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("request", lambda r: requests.append(r.url))
    p.errors, p.requests = errors, requests
    yield p
    context.close()


@pytest.fixture
def axe_page(browser):
    """A page whose context bypasses CSP, so that axe-core can be injected (the app itself never needs it)."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is missing ({AXE}); `make browser` installs it with npm")
    context = browser.new_context(locale="fr-FR", viewport={"width": 1100, "height": 900}, bypass_csp=True)
    p = context.new_page()
    p.set_default_timeout(60_000)
    yield p
    context.close()


def axe(page, label):
    """WCAG 2.2 AA violations on the page as it is now (axe-core), none allowed."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("opts => axe.run(document, opts)", {"runOnly": {"type": "tag", "values": WCAG}})
    problems = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
                for v in result["violations"]]
    assert not problems, f"{label}: " + "; ".join(problems)


LAST_STEP: dict[str, int] = {}


def fresh_code(email):
    """A code the server has not seen yet: a code is never accepted twice, and tests sign in often."""
    import pyotp

    totp = pyotp.TOTP(USERS[email])
    while True:
        now = totp.timecode(time.time())
        for step in (now, now + 1):  # the server accepts the next step too (clock drift)
            if step > LAST_STEP.get(email, -1):
                LAST_STEP[email] = step
                return totp.generate_otp(step)
        time.sleep(1)


def sign_in(page, server, email, lang="fr"):
    """The two sign-in forms, filled as a person does."""
    page.goto(f"{server}/login?lang={lang}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/code")
    page.fill("input[name=code]", fresh_code(email))
    page.click("button[type=submit]")


def shot(page, name):
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / name), full_page=True)


def test_french_question_streams_an_answer_with_citations(page, server):
    page.goto(server + "/")
    assert page.get_attribute("html", "lang") == "fr"  # from the browser's language
    page.fill("#question", "Dans quel délai notifier une violation de données à la CNIL ?")
    page.keyboard.press("Enter")
    answer = page.locator(".msg.bot").last
    page.wait_for_selector(".msg.bot[aria-busy=false]")
    assert answer.get_attribute("data-status") == "answered"
    assert "72" in answer.locator(".text").inner_text()
    cards = answer.locator(".citations .card")
    assert cards.count() >= 1
    assert page.locator("#announcer").inner_text().startswith("Nouvelle réponse")
    shot(page, "chat-fr.png")
    # Every [n] marker of the answer (server HTML) links to its card; both links of every card are there.
    markers = answer.locator(".text a.cite")
    assert markers.count() >= 1
    for i in range(markers.count()):
        target = markers.nth(i).get_attribute("href")
        assert page.locator(target).count() == 1, target
    for i in range(cards.count()):
        card = cards.nth(i)
        kind = card.get_attribute("class").split("kind-")[1]
        title, other = card.locator("a.card-title").get_attribute("href"), card.locator("a.card-other")
        if kind in ("faq", "guide"):
            assert title.startswith("/sources/") and other.get_attribute("href").startswith("https://")
        else:
            assert title.startswith("https://") and other.get_attribute("href").startswith("/sources/")
    markers.first.click()
    assert page.evaluate("location.hash") == markers.first.get_attribute("href")
    # Follow a card to our own source page.
    ours = answer.locator(".citations a[href^='/sources/']").first
    href = ours.get_attribute("href")
    ours.click()
    page.wait_for_url("**" + href)
    assert page.locator("h1").inner_text()
    assert page.locator("a[href^='https://eur-lex.europa.eu'], a[href^='https://www.cnil.fr']").count() >= 1
    assert not [u for u in page.requests if not u.startswith((server, "data:"))]  # nothing from elsewhere
    assert page.errors == []


def test_feedback_and_follow_up(page, server):
    page.goto(server + "/")
    page.fill("#question", "Qui doit désigner un délégué à la protection des données ?")
    page.click("#send")
    page.wait_for_selector(".msg.bot[aria-busy=false]")
    page.click(".msg.bot .thumb.up")
    page.fill(".msg.bot textarea.comment", "Clair, merci")
    page.click(".msg.bot .send-feedback")
    page.wait_for_selector(".feedback-result:has-text('Merci')")
    page.fill("#question", "et ses missions ?")
    page.keyboard.press("Enter")
    page.locator(".msg.bot[aria-busy=false]").nth(1).wait_for()
    assert page.locator(".msg.bot").last.get_attribute("data-status") == "answered"
    assert page.errors == []


def test_html_in_a_message_is_inert(page, server):
    page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError("a script ran: " + d.message)))
    page.goto(server + "/?lang=en")
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script> do cookies need consent?'
    page.fill("#question", payload)
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.bot[aria-busy=false]")
    assert page.locator(".msg.user .text").last.inner_text() == payload
    assert page.locator(".messages img").count() == 0 and page.locator(".messages script").count() == 0
    assert page.errors == []


def test_a_reset_event_replaces_the_text_already_streamed(page, server):
    """The engine sends `reset` when an optional LLM fails midway: the page drops what it showed."""
    done = {"answer": "Grounded answer [1].", "language": "en", "status": "answered", "referral": None,
            "citations": [{"kind": "faq", "ref": "FAQ", "title": "Breach", "url": "https://www.cnil.fr/x",
                           "page": "/sources/faq-breach-72-hours-en", "article": None, "paragraph": None,
                           "updated": "2024-01-01", "score": 0.9}],
            "cite_prefix": "cite-t-", "answer_id": None, "timings_ms": {},
            "answer_html": '<p>Grounded <strong>answer</strong> <a href="#cite-t-1" class="cite">[1]</a>.</p>'}
    events = [("sources", {"citations": done["citations"]}), ("token", {"text": "The LLM started to "}),
              ("reset", {"reason": "the writer failed"}), ("token", {"text": "Grounded answer [1]."}),
              ("done", done)]
    body = "".join(f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events)
    page.route("**/api/chat/stream", lambda route: route.fulfill(status=200, body=body,
                                                                  headers={"Content-Type": "text/event-stream"}))
    page.goto(server + "/?lang=en")
    page.fill("#question", "What if the writer fails?")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.bot[aria-busy=false]")
    text = page.locator(".msg.bot .text")
    assert "LLM started" not in text.inner_text() and text.locator("strong").inner_text() == "answer"
    assert page.locator("#cite-t-1 a.card-title").get_attribute("href") == "/sources/faq-breach-72-hours-en"


def test_pages_meet_wcag_22_aa(axe_page, server):
    page = axe_page
    for path in ("/", "/?lang=en", "/embed?lang=fr", "/sources/", "/sources/gdpr-fr-art-33", "/sources/gdpr-en-art-37",
                 "/sources/faq-breach-72-hours-fr", "/sources/decision-cnil-2022-dedalus-biologie-en", "/login", "/login?lang=en",
                 "/nope", "/widget-demo?lang=en"):
        page.goto(server + path)
        axe(page, path)
    # The chat after an answer: rendered answer, citation cards, feedback form.
    page.goto(server + "/")
    page.fill("#question", "Dans quel délai notifier une violation de données à la CNIL ?")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.bot[aria-busy=false]")
    axe(page, "chat with an answer")
    # The widget open on its host page.
    page.goto(server + "/widget-demo?lang=fr")
    page.locator("[data-gdpr-assistant] >> button").click()
    axe(page, "widget open")


def test_operator_signs_in_with_totp_and_reads_the_console(page, server):
    question = json.dumps({"message": "Qui doit désigner un DPO ?"}).encode()
    urllib.request.urlopen(urllib.request.Request(server + "/api/chat", data=question,
                                                  headers={"Content-Type": "application/json"}), timeout=60).read()
    page.goto(server + "/admin/")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))  # not signed in: the sign-in page first
    sign_in(page, server, "operator@example.fr")
    page.wait_for_url("**/admin/")
    assert page.locator("h1").inner_text() == "Console"
    assert page.locator("svg.chart").count() == 1 and page.locator("svg.chart rect").count() >= 1  # earlier answers
    page.click("text=Les chiffres sous forme de tableau")
    assert page.locator("table.data").first.is_visible()
    shot(page, "admin.png")
    page.click("button:has-text('Se déconnecter')")
    page.wait_for_url(re.compile(r".*/login\?signed_out=1$"))
    page.goto(server + "/admin/")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))
    assert page.errors == []


def test_console_and_partner_pages_meet_wcag_22_aa(axe_page, server):
    sign_in(axe_page, server, "operator@example.fr", lang="en")
    axe_page.wait_for_url("**/admin/")
    axe(axe_page, "/admin/")
    axe_page.click("button:has-text('Sign out')")
    sign_in(axe_page, server, "dpo@example.fr", lang="en")
    axe_page.wait_for_url("**/partner/")
    assert "No leads yet" in axe_page.locator("main").inner_text()
    axe(axe_page, "/partner/")
    axe_page.goto(server + "/admin/")
    assert "cannot open this page" in axe_page.locator("main").inner_text()
    axe(axe_page, "403")


def test_a_form_without_its_token_is_refused(page, server):
    page.goto(server + "/login?lang=en")
    page.evaluate("document.querySelector('input[name=csrf_token]').value = 'forged'")
    page.fill("input[name=email]", "operator@example.fr")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    assert "Reload the page and try again" in page.locator("main").inner_text()
    page.goto(server + "/login?lang=en")  # a fresh page carries a good token again
    page.fill("input[name=email]", "operator@example.fr")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "The e-mail address or the password is wrong." in page.locator("[role=alert]").inner_text()


def test_language_switch_and_keyboard(page, server):
    page.goto(server + "/")
    page.click("text=English")
    page.wait_for_url("**lang=en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("label[for=question]").inner_text() == "Your GDPR question"
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.className") == "skip"
    page.focus("#question")
    page.keyboard.type("What is the right to be forgotten?")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.bot[aria-busy=false]")
    assert "Art. 17" in page.locator(".msg.bot .citations").inner_text()
    page.set_viewport_size({"width": 375, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth <= 375 + 1")  # no sideways scrolling on a phone
    shot(page, "chat-en-phone.png")


def test_widget_on_the_demo_host_page(page, server):
    page.goto(server + "/widget-demo?lang=fr")
    csp_violations = []
    page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    bubble = page.locator("[data-gdpr-assistant] >> button")
    assert bubble.get_attribute("aria-expanded") == "false"
    bubble.click()
    expect(bubble).to_have_attribute("aria-expanded", "true")
    frame = page.frame_locator("[data-gdpr-assistant] >> iframe")
    frame.locator("#question").fill("Combien de temps garder les images de vidéosurveillance ?")
    frame.locator("#send").click()
    frame.locator(".msg.bot[aria-busy=false]").wait_for()
    assert frame.locator(".msg.bot .citations .card").count() >= 1
    shot(page, "widget.png")
    frame.locator("#question").focus()
    page.keyboard.press("Escape")  # inside the frame: the frame asks the host page's widget to close
    expect(bubble).to_have_attribute("aria-expanded", "false")  # the message is asynchronous: wait for it
    assert csp_violations == [] and page.errors == []
