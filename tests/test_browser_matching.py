"""Find a DPO in the real browser: a chat answer → the form → the choice → consent → the partner's
e-mail from a real SMTP server → the partner signs in with TOTP → accepts; axe-core WCAG 2.2 AA on
every new page. Debian's chromium through Playwright, the real server, the packaged model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from test_browser import AXE, PASSWORD, axe, axe_page, browser, free_port, page, shot  # noqa: F401 (fixtures)

from conftest import wait_for_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PARTNER = "dpo@exemple-conseil.example.org"
OPERATOR = "operator-dpo@example.fr"
SECRETS: dict[str, str] = {}
LAST: dict[str, int] = {}


class Sink:
    """A real SMTP server on loopback (aiosmtpd) keeping every message received."""

    def __init__(self):
        from email import message_from_bytes, policy

        from aiosmtpd.controller import Controller

        self.messages = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.port}"

    def wait(self, n: int, timeout: float = 60):
        deadline = time.time() + timeout
        while len(self.messages) < n and time.time() < deadline:
            time.sleep(0.2)
        assert len(self.messages) >= n, f"{len(self.messages)} message(s) received, {n} expected"
        return self.messages[n - 1]


@pytest.fixture(scope="module")
def dpo_server(real_index, tmp_path_factory):
    s, _ = real_index
    tmp = tmp_path_factory.mktemp("dpo")
    sink = Sink()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(s.data_dir), "ASSISTANT_CORPUS_DIR": str(s.corpus_dir),
           "HF_HUB_OFFLINE": "1", "DATABASE_URL": f"sqlite:///{tmp}/dpo.sqlite", "ASSISTANT_WIDGET_ORIGINS": "",
           "SMTP_URL": sink.url, "PUBLIC_ORIGIN": base, "JOBS_BACKEND": "thread",
           "ASSISTANT_RATE_LIMIT": "1000/minute", "ASSISTANT_CHAT_RATE_LIMIT": "1000/minute",
           "ASSISTANT_SIGNIN_RATE_LIMIT": "1000/minute", "ASSISTANT_REFERRAL_RATE_LIMIT": "1000/minute"}

    def cli(*args, **kw):
        return subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=env, capture_output=True,
                              text=True, **kw)

    assert cli("db", "upgrade").returncode == 0
    out = cli("partners", "load-demo")
    assert out.returncode == 0 and "7 added" in out.stdout, out.stderr
    for email, role in ((PARTNER, "partner"), (OPERATOR, "operator")):
        out = cli("users", "create", "--email", email, "--role", role, "--password-stdin", input=PASSWORD + "\n")
        assert out.returncode == 0, out.stderr
        SECRETS[email] = re.search(r"TOTP secret: (\w+)", out.stdout).group(1)
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    wait_for_server(base, proc, tmp / "server.log")
    yield base, sink
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    sink.controller.stop()


def code_for(email):
    import pyotp

    totp = pyotp.TOTP(SECRETS[email])
    while True:
        now = totp.timecode(time.time())
        for step in (now, now + 1):
            if step > LAST.get(email, -1):
                LAST[email] = step
                return totp.generate_otp(step)
        time.sleep(1)


def sign_in(p, base, email, next_url=None):
    p.goto(f"{base}/login?lang=fr" + (f"&next={next_url}" if next_url else ""))
    p.fill("input[name=email]", email)
    p.fill("input[name=password]", PASSWORD)
    p.click("button[type=submit]")
    p.wait_for_url("**/login/code")
    p.fill("input[name=code]", code_for(email))
    p.click("button[type=submit]")


def test_from_a_chat_answer_to_an_accepted_lead(page, dpo_server):  # noqa: F811
    base, sink = dpo_server
    page.goto(base + "/")
    page.fill("#question", "Je cherche un DPO externe pour notre cabinet médical : données de santé des patients")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.bot[aria-busy=false]")
    referral = page.locator(".msg.bot .referral").last
    assert referral.locator(".partner-name").count() >= 1
    assert referral.locator(".why li").count() >= 1
    shot(page, "dpo-chat.png")
    referral.locator("a.dpo-button").click()
    page.wait_for_url("**/dpo?*")
    assert page.locator("input[name=data_kinds][value=health]").is_checked()  # from the answer's topic
    page.fill("#company", "Cabinet Exemple")
    page.fill("#siren", "732829321")  # a bad checksum first
    page.select_option("#sector", "health")
    page.select_option("#size", "10-49")
    page.select_option("#region", "IDF")
    page.fill("#need", "Registre des traitements et AIPD pour le dossier patient")
    page.fill("#contact_name", "Camille Exemple")
    page.fill("#contact_email", "camille@cabinet-exemple.example.org")
    page.click("button[type=submit]")
    assert page.locator("#siren-error").is_visible()
    page.fill("#siren", "732829320")
    page.click("button[type=submit]")
    page.wait_for_selector(".matches")
    assert page.locator(".match").first.locator(".why li").count() >= 1
    page.locator("input[name=partner][value]").first.check()
    page.click("button[type=submit]")
    page.wait_for_selector("input[name=consent]")
    consent = page.locator("label.consent").inner_text()
    assert "(fictif)" in consent
    assert not page.locator("input[name=consent]").is_checked()  # unticked by default
    page.click("button[type=submit]")  # without ticking: refused
    assert page.locator("#consent-error").is_visible()
    page.check("input[name=consent]")
    page.click("button[type=submit]")
    page.wait_for_url("**/dpo/sent")
    assert "(fictif)" in page.locator("main").inner_text()

    message = sink.wait(1)
    text = message.get_body(("plain",)).get_content()
    assert "camille" not in message.as_string().lower() and "Cabinet Exemple" not in message.as_string()
    link = re.search(r"(http://\S+/partner/leads/\S+)", text).group(1)
    page.goto(link)
    assert "/login?next=" in page.url, (page.url, page.locator("main").inner_text()[:300])  # sign in first
    sign_in(page, base, PARTNER, next_url=link.removeprefix(base))
    page.wait_for_url("**/partner/leads/*")
    assert "Registre des traitements" in page.locator("main").inner_text()
    assert "camille@" not in page.locator("main").inner_text()  # contact shown once accepted
    page.click("button.primary")  # Accept
    page.wait_for_selector("a[href^='mailto:camille@cabinet-exemple.example.org']")
    shot(page, "dpo-lead-accepted.png")
    assert page.errors == []


def test_dpo_pages_meet_wcag_22_aa(axe_page, dpo_server):  # noqa: F811
    base, _sink = dpo_server
    p = axe_page
    p.goto(base + "/dpo")
    axe(p, "/dpo")
    p.click("button[type=submit]")  # every field missing: the errors
    axe(p, "/dpo with errors")
    for field, value in (("#company", "Atelier Exemple"), ("#need", "Prospection et newsletter"),
                         ("#contact_name", "Alex Exemple"), ("#contact_email", "alex@atelier.example.org")):
        p.fill(field, value)
    p.select_option("#sector", "retail")
    p.select_option("#size", "1-9")
    p.select_option("#region", "BRE")
    p.click("button[type=submit]")
    p.wait_for_selector(".matches")
    axe(p, "/dpo suggestions")
    p.locator("input[name=partner]").first.check()
    p.click("button[type=submit]")
    p.wait_for_selector("input[name=consent]")
    axe(p, "/dpo consent")
    sign_in(p, base, OPERATOR)
    for path in ("/admin/partners", "/admin/partners/new", "/admin/referrals"):
        p.goto(base + path)
        axe(p, path)
