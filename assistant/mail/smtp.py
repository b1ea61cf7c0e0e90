"""Building messages and handing them to a relay (SMTP_URL) or, in development, to .eml files."""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from ..config import SmtpServer
from ..errors import MailError

log = logging.getLogger("assistant.mail")
SMTP_TIMEOUT = 20.0
# Headers the mailer writes itself; a feature's extra headers may not replace them.
RESERVED_HEADERS = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "content-type",
                    "content-transfer-encoding", "mime-version", "sender"}
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,75}$")


def new_message_id(mail_from: str) -> str:
    """A Message-ID on the sender's domain."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)


def build_message(mail_from: str, to: str, subject: str, text: str, html: str | None, headers: dict[str, str],
                  message_id: str) -> EmailMessage:
    """The MIME message: text/plain, plus text/html as multipart/alternative when given."""
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def check_headers(headers: dict[str, str]) -> None:
    """ValueError on a header the mailer owns, a malformed name or a value spanning lines."""
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a header name (letters, digits and '-')")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {name} is written by the mailer; it cannot be given")
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            raise ValueError(f"header {name} must be one line of text")


class Transport:
    """Hands a message to its next hop."""

    def send(self, msg: EmailMessage) -> None:
        """Deliver ``msg``; MailError (``permanent`` or not) when it cannot."""
        raise NotImplementedError


class SmtpTransport(Transport):
    """A connection per message to the relay of SMTP_URL (smtp, smtps, or smtp with STARTTLS; login when given)."""

    def __init__(self, server: SmtpServer, timeout: float = SMTP_TIMEOUT):
        self.server = server
        self.timeout = timeout

    def send(self, msg: EmailMessage) -> None:
        """Send through the relay; MailError saying what the relay answered or why it cannot be reached."""
        s = self.server
        where = f"the SMTP relay {s.host}:{s.port} (SMTP_URL)"
        try:
            cls = smtplib.SMTP_SSL if s.tls else smtplib.SMTP
            kwargs = {"context": ssl.create_default_context()} if s.tls else {}
            with cls(s.host, s.port, timeout=self.timeout, **kwargs) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    smtp.login(s.username, s.password.reveal() if s.password else "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as e:
            codes = sorted({code for code, _ in e.recipients.values()})
            raise _mail_error(f"{where} refused the recipient (SMTP {', '.join(map(str, codes))})",
                              all(c >= 500 for c in codes)) from None
        except smtplib.SMTPAuthenticationError as e:
            raise _mail_error(f"{where} refused the login (SMTP {e.smtp_code}): check the user and password in "
                              "SMTP_URL", True) from None
        except smtplib.SMTPResponseException as e:
            reply = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
            raise _mail_error(f"{where} answered SMTP {e.smtp_code}: {reply[:200]}", e.smtp_code >= 500) from None
        except (smtplib.SMTPException, OSError) as e:
            raise _mail_error(f"cannot reach {where}: {type(e).__name__}: {e}"[:300], False) from None


class FileTransport(Transport):
    """Development without SMTP_URL: each message becomes a .eml file in DATA_DIR/mail/ (open it in a mail app)."""

    def __init__(self, directory: Path):
        self.directory = directory

    def send(self, msg: EmailMessage) -> None:
        """Write the message; the log names the file, never the recipient."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        path = self.directory / name
        path.write_bytes(bytes(msg))
        path.chmod(0o600)
        log.info("no SMTP_URL: e-mail written to %s (development)", path)


def _mail_error(message: str, permanent: bool) -> MailError:
    return MailError(message, permanent=permanent)
