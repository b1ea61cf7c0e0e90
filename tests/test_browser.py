"""Real browser tests: Debian's chromium driven by Playwright against the real server on loopback."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(real_index, tmp_path_factory):
    s, _ = real_index
    port = free_port()
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(s.data_dir), "ASSISTANT_CORPUS_DIR": str(s.corpus_dir),
           "HF_HUB_OFFLINE": "1", "DATABASE_URL": "", "ASSISTANT_WIDGET_ORIGINS": ""}
    # The deploy step first: the server never migrates by itself.
    subprocess.run([sys.executable, "-m", "assistant.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    log = open(tmp_path_factory.mktemp("server") / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base + "/api/health", timeout=30).read()  # also loads the model
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("server did not start")
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
    assert cards.count() >= 3
    assert page.locator("#announcer").inner_text().startswith("Nouvelle réponse")
    shot(page, "chat-fr.png")
    # Follow a citation card to its source page.
    first = cards.first.locator("a.card-title")
    href = first.get_attribute("href")
    assert href.startswith("/sources/")
    first.click()
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
