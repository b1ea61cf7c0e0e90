"""The newsletter in a real browser (chromium through Playwright) against the real server and a real SMTP server
on loopback: sign-up → confirmation → an issue sent from the console → unsubscribe, the widget's sign-up, and
axe-core's WCAG 2.2 AA check of every newsletter page. The server indexes with the hashing embedder: the
answer engine is not the point here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pyotp
import pytest
from playwright.sync_api import expect
from test_browser import PASSWORD, axe, axe_page, browser, page  # noqa: F401  (fixtures shared with test_browser)

from conftest import FIXTURE_CORPUS, SmtpSink, free_port, wait_for_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
OPERATOR = "operator@example.fr"
SEEN: dict[str, str] = {}  # links the first test received, for the accessibility test


@pytest.fixture(scope="module")
def sink():
    s = SmtpSink()
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def nl_server(tmp_path_factory, sink):
    """`gdpr-assistant serve` over a fresh data dir: hash index, `db upgrade`, an operator, SMTP to the sink."""
    root = tmp_path_factory.mktemp("nl-server")
    corpus = root / "corpus"
    shutil.copytree(FIXTURE_CORPUS, corpus)
    port = free_port()
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(root / "data"), "ASSISTANT_CORPUS_DIR": str(corpus),
           "ASSISTANT_EMBEDDER": "hash", "HF_HUB_OFFLINE": "1", "DATABASE_URL": "", "SMTP_URL": sink.url,
           "JOBS_BACKEND": "thread", "PUBLIC_ORIGIN": "", "ASSISTANT_RATE_LIMIT": "1000/minute",
           "NEWSLETTER_RATE_LIMIT": "1000/minute", "ASSISTANT_SIGNIN_RATE_LIMIT": "1000/minute"}
    cli = [sys.executable, "-m", "assistant.cli"]
    for step in (["index"], ["db", "upgrade"]):
        subprocess.run([*cli, *step], env=env, check=True, capture_output=True)
    out = subprocess.run([*cli, "users", "create", "--email", OPERATOR, "--role", "operator", "--password-stdin"],
                         env=env, input=PASSWORD + "\n", capture_output=True, text=True, check=True)
    secret = re.search(r"TOTP secret: (\w+)", out.stdout).group(1)
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_for_server(base, proc, root / "server.log", timeout=90)
    yield base, secret
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def mail_to(sink, address, subject_part, timeout=30):
    """The newest message to ``address`` whose subject contains ``subject_part`` (waits for the delivery job)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [m for m in sink.messages if m["To"] == address and subject_part in m["Subject"]]
        if found:
            return found[-1]
        time.sleep(0.2)
    pytest.fail(f"no e-mail to {address} about {subject_part!r}")


def text_link(msg, path):
    text = msg.get_body(preferencelist=("plain",)).get_content()
    return re.search(rf"http://127\.0\.0\.1:\d+{re.escape(path)}\S+", text).group(0)


def test_signup_confirm_receive_and_unsubscribe_in_the_browser(page, nl_server, sink):  # noqa: F811
    base, secret = nl_server
    address = "browser.reader@example.fr"
    page.goto(f"{base}/newsletter?lang=en")
    page.fill("#nl-email", address)
    page.check("#nl-consent")
    page.check("input[name=topics][value=decisions]")
    page.click("form.newsletter-form button[type=submit]")
    expect(page.locator("#nl-form-notice")).to_contain_text("a confirmation e-mail is on its way")
    confirm_url = text_link(mail_to(sink, address, "Confirm"), "/newsletter/confirm/")
    page.goto(confirm_url)
    expect(page.locator("h1")).to_have_text("Confirm your subscription")
    page.click("button.primary")
    expect(page.locator("h1")).to_have_text("Subscription confirmed")
    # The operator writes and sends an issue from the console.
    page.goto(f"{base}/login?lang=en")
    page.fill("input[name=email]", OPERATOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/code")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    page.click("text=Newsletter: subscribers, issues, sending")
    page.fill("#issue-subject", "Browser issue")
    page.select_option("#issue-language", "en")
    page.fill("#issue-body", "# News\n\nThe **CNIL** published a decision.")
    page.click("text=Save the draft")
    expect(page.locator(".issue-preview strong")).to_have_text("CNIL")
    page.click("text=Send to the confirmed subscribers")
    issue = mail_to(sink, address, "Browser issue")
    assert issue["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<strong>CNIL</strong>" in issue.get_body(preferencelist=("html",)).get_content()
    unsubscribe_url = text_link(issue, "/newsletter/unsubscribe/")
    assert f"<{unsubscribe_url}>" == issue["List-Unsubscribe"]
    SEEN["unsubscribe"] = unsubscribe_url
    # The visible link: a page with one button.
    page.goto(unsubscribe_url)
    page.click("button.primary")
    expect(page.locator("h1")).to_have_text("Unsubscribed")
    page.goto(f"{base}/admin/newsletter/")
    expect(page.locator("table.data").first).to_contain_text("1")
    assert not page.errors


def test_the_widget_frame_signs_up_without_leaving_the_chat(page, nl_server, sink):  # noqa: F811
    base, _ = nl_server
    page.goto(f"{base}/embed?lang=fr")
    page.click("details.newsletter-box summary")
    page.fill("#chat-nl-email", "pas-une-adresse")
    page.check("#chat-nl-consent")
    page.click("details.newsletter-box button[type=submit]")
    expect(page.locator("#chat-nl-form-error")).to_contain_text("n'est pas valide")
    page.fill("#chat-nl-email", "widget.reader@example.fr")
    page.click("details.newsletter-box button[type=submit]")
    expect(page.locator("#chat-nl-form-notice")).to_contain_text("un e-mail de confirmation est en route")
    assert "/newsletter/confirm/" in mail_to(sink, "widget.reader@example.fr", "Confirmez").get_body(
        preferencelist=("plain",)).get_content()
    assert page.url.startswith(f"{base}/embed")  # the visitor stayed in the chat


def test_newsletter_pages_pass_axe(axe_page, nl_server, sink):  # noqa: F811
    base, secret = nl_server
    address = "axe.reader@example.fr"
    for lang in ("fr", "en"):
        axe_page.goto(f"{base}/newsletter?lang={lang}")
        axe(axe_page, f"/newsletter ({lang})")
    axe_page.fill("#nl-email", "")
    axe_page.click("form.newsletter-form button[type=submit]")  # an error shown
    expect(axe_page.locator("#nl-form-error")).to_be_visible()
    axe(axe_page, "/newsletter with an error")
    axe_page.goto(f"{base}/?lang=en")
    axe_page.click("details.newsletter-box summary")
    axe(axe_page, "chat page with the sign-up open")
    axe_page.goto(f"{base}/newsletter?lang=en")
    axe_page.fill("#nl-email", address)
    axe_page.check("#nl-consent")
    axe_page.click("form.newsletter-form button[type=submit]")
    expect(axe_page.locator("#nl-form-notice")).to_be_visible()
    confirm_url = text_link(mail_to(sink, address, "Confirm"), "/newsletter/confirm/")
    axe_page.goto(confirm_url)
    axe(axe_page, "confirmation page")
    axe_page.click("button.primary")
    axe(axe_page, "confirmed page")
    axe_page.goto(f"{base}/newsletter?lang=en")
    axe_page.fill("#rights-email", address)
    axe_page.click("text=Send me the link")
    rights_url = text_link(mail_to(sink, address, "Your newsletter data"), "/newsletter/rights/")
    axe_page.goto(rights_url)
    axe(axe_page, "rights page")
    if "unsubscribe" in SEEN:
        axe_page.goto(SEEN["unsubscribe"])
        expect(axe_page.locator("button.primary")).to_be_visible()
        axe(axe_page, "unsubscribe page")
    axe_page.goto(f"{base}/newsletter/unsubscribe/forged.token")
    axe(axe_page, "forged unsubscribe link")
    axe_page.goto(f"{base}/newsletter/confirm/forged")
    axe(axe_page, "invalid link page")
    axe_page.goto(f"{base}/login?lang=en")
    axe_page.fill("input[name=email]", OPERATOR)
    axe_page.fill("input[name=password]", PASSWORD)
    axe_page.click("button[type=submit]")
    axe_page.wait_for_url("**/login/code")
    totp = pyotp.TOTP(secret)
    axe_page.fill("input[name=code]", totp.at(time.time() + 30))  # the next step: the first test used this one
    axe_page.click("button[type=submit]")
    axe_page.wait_for_url("**/admin/")
    axe_page.goto(f"{base}/admin/newsletter/")
    axe(axe_page, "console: newsletter")
