"""One exception tree for the whole assistant.

    AssistantError                  every error a user can cause or meet; message says what to do
    ├── ConfigError                 a setting has a bad value
    ├── InputError                  a question or request is not acceptable (empty, too long, binary)
    ├── CorpusError                 a bundled corpus file is malformed (names file and field)
    ├── OfficialTextError           an EUR-Lex file cannot be parsed, or is incomplete
    ├── FetchError                  downloading an official text failed (offline, timeout, HTTP error)
    ├── IndexMissingError           no index in the data dir: says which command builds it
    ├── IndexBuildError             building the index failed; the previous index still serves
    ├── VectorStoreUnavailable      the Chroma server cannot be reached
    ├── DatabaseUnavailable         the database cannot be reached (says to check DATABASE_URL)
    ├── DatabaseNotReady            the schema is missing or behind: says to run `gdpr-assistant db upgrade`
    ├── DecryptionError             an encrypted field no key in FIELD_KEYS opens (says what to put back)
    ├── MailError                   a message cannot be sent (SMTP refused, unreachable, not configured)
    ├── JobError                    a job name is unknown, its arguments are not JSON, or the queue is down
    └── SignInError                 a sign-in step failed: wrong credentials, locked, disabled (code, retry_at)
"""

from __future__ import annotations

from datetime import datetime


class AssistantError(Exception):
    """Base of every error the assistant reports to a user."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigError(AssistantError):
    """A setting (environment variable or option) has a bad value."""

    exit_code = 2


class InputError(AssistantError):
    """A question or request is not acceptable."""

    exit_code = 2
    http_status = 400

    def __init__(self, message: str, code: str = "invalid_input", http_status: int = 400):
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class CorpusError(AssistantError):
    """One or more bundled corpus files are malformed."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


class OfficialTextError(AssistantError):
    """An EUR-Lex file is not the GDPR, is truncated, or cannot be parsed."""


class FetchError(AssistantError):
    """Downloading an official text failed."""


class IndexMissingError(AssistantError):
    """No index has been built in the data dir."""

    http_status = 503


class IndexBuildError(AssistantError):
    """Building the index failed; the previous index is untouched."""


class VectorStoreUnavailable(AssistantError):
    """The Chroma server cannot be reached."""

    http_status = 503


class DatabaseUnavailable(AssistantError):
    """The database cannot be reached."""

    http_status = 503


class DatabaseNotReady(AssistantError):
    """The database schema is missing, behind or ahead of the code's migrations."""

    http_status = 503


class DecryptionError(AssistantError):
    """A stored encrypted field cannot be opened with any key of FIELD_KEYS."""


class MailError(AssistantError):
    """A message cannot be sent: SMTP refused it, the relay is unreachable, or none is configured.

    ``permanent``: the relay refused for good (5xx); trying again would not help.
    """

    http_status = 503

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class JobError(AssistantError):
    """A job cannot be queued or run: unknown name, arguments that are not JSON, or the queue unreachable."""


class SignInError(AssistantError):
    """A sign-in step was refused; ``code`` says why, ``retry_at`` when a lock ends."""

    exit_code = 2

    def __init__(self, message: str, code: str, http_status: int = 400, retry_at: datetime | None = None):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.retry_at = retry_at
