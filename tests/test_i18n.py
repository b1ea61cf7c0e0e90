"""Interface languages: every message has both translations, compiled catalogues are current, and the
page language comes from ?lang=, then the session, then Accept-Language."""

import json
import re
import subprocess
import sys

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from assistant.web.i18n import LANGUAGES, TRANSLATIONS

PLACEHOLDER = re.compile(r"%\(\w+\)s")


def catalogue(lang):
    with (TRANSLATIONS / lang / "LC_MESSAGES/messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def template_ids():
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_has_a_translation_with_the_same_placeholders(lang):
    messages = {m.id: m.string for m in catalogue(lang) if m.id}
    assert set(messages) == template_ids(), "run `make translations`"
    missing = [i for i, s in messages.items() if not s]
    assert not missing, f"{lang}: no translation for {missing}"
    for message_id, text in messages.items():
        assert sorted(PLACEHOLDER.findall(message_id)) == sorted(PLACEHOLDER.findall(text)), (lang, message_id)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalogues_match_their_sources(lang):
    with (TRANSLATIONS / lang / "LC_MESSAGES/messages.mo").open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    assert compiled == {m.id: m.string for m in catalogue(lang) if m.id}, "run `make translations` (compile)"


def test_the_template_lists_every_message_of_the_code(tmp_path):
    """A text added to the code or a template without `make translations` fails here."""
    out = tmp_path / "now.pot"
    root = TRANSLATIONS.parent.parent
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(TRANSLATIONS / "babel.cfg"),
                    "-k", "_l", "--no-location", "--omit-header", "-o", str(out), "."], cwd=root, check=True,
                   capture_output=True)
    with out.open("rb") as fh:
        assert {m.id for m in read_po(fh) if m.id} == template_ids()


@pytest.fixture
def client(make_app):
    return make_app().test_client()


def lang_of(resp):
    return re.search(r'<html lang="(\w+)"', resp.get_data(as_text=True)).group(1)


def test_language_from_query_then_session_then_browser(client):
    assert lang_of(client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})) == "en"
    assert lang_of(client.get("/", headers={"Accept-Language": "de-DE"})) == "fr"  # neither: French
    assert lang_of(client.get("/?lang=en", headers={"Accept-Language": "fr"})) == "en"
    assert lang_of(client.get("/sources/", headers={"Accept-Language": "fr"})) == "en"  # remembered
    assert lang_of(client.get("/?lang=fr", headers={"Accept-Language": "en"})) == "fr"
    assert lang_of(client.get("/", headers={"Accept-Language": "en"})) == "fr"
    assert lang_of(client.get("/?lang=xx", headers={"Accept-Language": "en"})) == "fr"  # unknown: ignored


@pytest.mark.parametrize("lang,texts", [
    ("fr", ["Votre question sur le RGPD", "Vos questions sont conservées", "numéros de sécurité sociale",
            "Les noms, adresses postales"]),
    ("en", ["Your GDPR question", "Your questions are kept", "social security numbers", "Names, postal addresses"]),
])
def test_chat_page_texts_and_privacy_notice(client, lang, texts):
    html = client.get(f"/?lang={lang}").get_data(as_text=True)
    for text in texts:
        assert text in html
    assert html.count('class="privacy"') == 2  # under the question box and in the footer
    script = json.loads(re.search(r'<script type="application/json" id="chat-texts"[^>]*>(.*?)</script>', html,
                                  re.S).group(1))
    assert script["you"] == ("Vous" if lang == "fr" else "You") and set(script["kinds"]) >= {"faq", "guide"}


def test_the_widget_frame_shows_the_privacy_notice(client):
    html = client.get("/embed?lang=fr").get_data(as_text=True)
    assert "après masquage des adresses e-mail, numéros de téléphone, IBAN" in html
    assert "ne les indiquez pas" in html


def test_widget_labels_come_from_the_catalogues(client):
    js = client.get("/widget.js").get_data(as_text=True)
    assert "Ouvrir l\\u2019assistant RGPD" in js and "Open the GDPR assistant" in js  # JSON-escaped


def test_error_pages_speak_the_page_language(client):
    fr = client.get("/nope?lang=fr", headers={"Accept": "text/html"})
    assert "Cette page n’existe pas." in fr.get_data(as_text=True)
    en = client.get("/nope?lang=en", headers={"Accept": "text/html"})
    assert "No such page or endpoint." in en.get_data(as_text=True)
    api = client.post("/api/chat", data="x", content_type="text/plain")
    assert api.get_json()["error"]["code"] == "unsupported_media_type"
