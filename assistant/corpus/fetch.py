"""Download the GDPR from EUR-Lex (both languages) and import it."""

from __future__ import annotations

from ..errors import FetchError, OfficialTextError
from .eurlex import OfficialText, parse_eurlex, save_official

EURLEX_LANG = {"fr": "FR", "en": "EN"}


def fetch_official(settings, langs=("fr", "en")) -> list[OfficialText]:
    """Download, check and import each language; nothing is saved unless the download parses fully."""
    import requests

    out = []
    for lang in langs:
        url = settings.eurlex_url_template.replace("{LANG}", EURLEX_LANG[lang])
        hint = ("download the file in a browser and run `gdpr-assistant corpus import-eurlex FILE`")
        try:
            with requests.Session() as session:  # closes its sockets even when the request fails
                resp = session.get(url, timeout=settings.fetch_timeout,
                                   headers={"User-Agent": "gdpr-assistant"})
        except requests.Timeout:
            raise FetchError(f"EUR-Lex did not answer within {settings.fetch_timeout:g} s ({url}); "
                             f"try again, raise ASSISTANT_FETCH_TIMEOUT, or {hint}") from None
        except requests.RequestException as e:
            raise FetchError(f"cannot reach EUR-Lex at {url} (offline? {type(e).__name__}); {hint}") from None
        if resp.status_code != 200:
            raise FetchError(f"EUR-Lex answered HTTP {resp.status_code} for {url}; {hint}")
        try:
            text = parse_eurlex(resp.content, source=url)
        except OfficialTextError as e:
            raise FetchError(f"the download from {url} is not a complete GDPR text: {e.message}") from None
        if text.lang != lang:
            raise FetchError(f"asked EUR-Lex for the {lang.upper()} text at {url} but got {text.lang.upper()}")
        out.append(text)
    for text in out:
        save_official(text, settings.official_dir)
    return out
