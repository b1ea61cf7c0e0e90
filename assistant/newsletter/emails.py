"""The newsletter's e-mails: subject, text/plain and text/html bodies and headers, in the subscriber's language.

Pure: built from the catalogues (``assistant/translations``) without a Flask app, so the worker renders
them too. Every e-mail to a subscriber carries a visible unsubscribe link and, for issues and
re-permission requests, the RFC 8058 headers (``List-Unsubscribe`` with the subscriber's own https link,
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from babel.support import Translations
from markupsafe import Markup, escape

from ..web.i18n import TRANSLATIONS

LAYOUT = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{subject}</title></head>
<body style="margin:0;padding:0;background:#f4f5f7;color:#1b1f24;font-family:system-ui,Arial,sans-serif">
<div style="max-width:640px;margin:0 auto;padding:24px;background:#ffffff;line-height:1.5">
{body}
<hr style="border:0;border-top:1px solid #c9ccd1;margin:32px 0 16px">
<p style="font-size:14px;color:#44484f">{footer}</p>
</div></body></html>
"""
BUTTON = ('<p><a href="{url}" style="display:inline-block;padding:10px 18px;background:#1d3f8c;color:#ffffff;'
          'text-decoration:none;border-radius:6px">{label}</a></p>\n<p style="font-size:14px">{fallback} '
          '<a href="{url}">{url}</a></p>')


@dataclass(frozen=True)
class MailContent:
    """An e-mail's subject, two bodies and extra headers, ready for the mailer."""

    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=4)
def translations(language: str) -> Translations:
    """The interface catalogue of ``language`` (fr or en)."""
    return Translations.load(str(TRANSLATIONS), [language])


def unsubscribe_headers(unsubscribe_url: str, mailto: str = "") -> dict[str, str]:
    """RFC 8058 one-click headers: the https link first, then the optional mailto."""
    targets = [f"<{unsubscribe_url}>"] + ([f"<mailto:{mailto}?subject=unsubscribe>"] if mailto else [])
    return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _compose(language: str, subject: str, paragraphs: list[str], action: tuple[str, str] | None,
             footer: str, body_html: str | None = None, body_text: str | None = None,
             unsubscribe_url: str = "") -> tuple[str, str]:
    """Text and HTML bodies from the same paragraphs (or a rendered issue), the action link, the footer."""
    _ = translations(language).gettext
    text_parts = [body_text] if body_text is not None else list(paragraphs)
    html_parts = [body_html] if body_html is not None else [f"<p>{escape(p)}</p>" for p in paragraphs]
    if action:
        label, url = action
        text_parts.append(f"{label}:\n{url}")
        html_parts.append(BUTTON.format(url=escape(url), label=escape(label),
                                        fallback=escape(_("If the button does not work, open this link:"))))
    text = "\n\n".join(text_parts) + "\n\n-- \n" + footer + "\n"
    footer_html = Markup("<br>").join(escape(line) for line in footer.split("\n"))
    if unsubscribe_url:
        footer_html = Markup(footer_html).replace(escape(unsubscribe_url), Markup('<a href="{0}">{0}</a>').format(
            unsubscribe_url))
    html = LAYOUT.format(lang=language, subject=escape(subject), body="\n".join(html_parts), footer=footer_html)
    return text, html


def _link_footer(language: str, unsubscribe_url: str) -> str:
    _ = translations(language).gettext
    return "\n".join([
        _("You receive this e-mail because you subscribed to the GDPR assistant's newsletter."),
        _("Unsubscribe in one click: %(url)s") % {"url": unsubscribe_url},
    ])


def confirmation_email(language: str, confirm_url: str) -> MailContent:
    """The double opt-in e-mail: a link to the page whose button confirms."""
    _ = translations(language).gettext
    subject = _("Confirm your subscription to the GDPR newsletter")
    paragraphs = [
        _("Someone, probably you, asked to receive the GDPR assistant's newsletter at this address."),
        _("To confirm, open the link below and press the button on the page. The link works once and "
          "expires in 7 days; without confirmation the request is deleted and you will not hear from us again."),
        _("If you did not ask for anything, ignore this e-mail."),
    ]
    footer = _("GDPR assistant – this one e-mail follows a request made on our website.")
    text, html = _compose(language, subject, paragraphs, (_("Confirm my subscription"), confirm_url), footer)
    return MailContent(subject, text, html)


def rights_email(language: str, rights_url: str) -> MailContent:
    """The magic link to see, download or erase one's newsletter data."""
    _ = translations(language).gettext
    subject = _("Your newsletter data: see, download or erase it")
    paragraphs = [
        _("You asked to access your GDPR newsletter data. The link below opens a page where you can see it, "
          "download it or erase it. It expires in one hour."),
        _("If you did not ask for anything, ignore this e-mail: nothing changes."),
    ]
    footer = _("GDPR assistant – this one e-mail follows a request made on our website.")
    text, html = _compose(language, subject, paragraphs, (_("See my data"), rights_url), footer)
    return MailContent(subject, text, html)


def repermission_email(language: str, keep_url: str, unsubscribe_url: str, mailto: str = "") -> MailContent:
    """After 3 years without activity: keep receiving the newsletter, or be removed in 30 days."""
    _ = translations(language).gettext
    subject = _("Do you still want the GDPR newsletter?")
    paragraphs = [
        _("You subscribed to the GDPR assistant's newsletter more than three years ago and we have not heard "
          "from you since."),
        _("To keep receiving it, open the link below and press the button. Otherwise your address will be "
          "deleted in 30 days, with nothing else to do."),
    ]
    text, html = _compose(language, subject, paragraphs, (_("Keep my subscription"), keep_url),
                          _link_footer(language, unsubscribe_url), unsubscribe_url=unsubscribe_url)
    return MailContent(subject, text, html, unsubscribe_headers(unsubscribe_url, mailto))


def issue_email(language: str, subject: str, body_markdown: str, body_html: str, unsubscribe_url: str,
                mailto: str = "") -> MailContent:
    """One newsletter issue: the Markdown as the text part, its rendering as the HTML part, the unsubscribe link."""
    text, html = _compose(language, subject, [], None, _link_footer(language, unsubscribe_url),
                          body_html=body_html, body_text=body_markdown.strip(), unsubscribe_url=unsubscribe_url)
    return MailContent(subject, text, html, unsubscribe_headers(unsubscribe_url, mailto))
