"""Settings: parsing, validation messages, secrets, development keys, and documentation of every field."""

import re
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from assistant.config import FIELDS, PROJECT_ROOT, Secret, Settings, normalise_origin, with_development_keys
from assistant.errors import ConfigError

KEY = Fernet.generate_key().decode()
STRONG = "k" * 40
PRODUCTION = {"ASSISTANT_ENV": "production", "SECRET_KEY": STRONG, "FIELD_KEYS": KEY,
              "SMTP_URL": "smtp://relay.example.fr:587"}


def test_defaults_and_environment():
    s = Settings.from_env(environ={"ASSISTANT_TOP_K": "7", "ASSISTANT_DATA_DIR": "/tmp/x"})
    assert s.top_k == 7
    assert s.data_dir == Path("/tmp/x")
    assert s.index_dir == Path("/tmp/x/index")
    assert s.sqlalchemy_url.startswith("sqlite:///")
    assert Path(s.embedding_model_path).is_dir()


def test_overrides_win_over_environment():
    s = Settings.from_env(environ={"ASSISTANT_TOP_K": "7"}, top_k=3)
    assert s.top_k == 3


@pytest.mark.parametrize("env,value,needle", [
    ("ASSISTANT_TOP_K", "abc", "ASSISTANT_TOP_K (top_k) must be int"),
    ("ASSISTANT_TOP_K", "0", "between 1 and 50"),
    ("ASSISTANT_DENSE_WEIGHT", "-1", "between 0 and 10"),
    ("ASSISTANT_DEFAULT_LANGUAGE", "de", "must be one of fr, en"),
    ("CHROMA_URL", "localhost:8000", "http://host:port"),
    ("DATABASE_URL", "assistant.db", "SQLAlchemy URL"),
    ("PORT", "70000", "between 1 and 65535"),
    ("ASSISTANT_EURLEX_URL", "https://example.org/x", "{LANG}"),
    ("ASSISTANT_ENV", "staging", "ASSISTANT_ENV (env) must be one of development, production"),
    ("ASSISTANT_EMBEDDER", "fake", "must be one of model, hash"),
    ("TRUSTED_PROXIES", "two", "TRUSTED_PROXIES (trusted_proxies) must be int"),
    ("TRUSTED_PROXIES", "-1", "between 0 and 10"),
    ("SMTP_URL", "mail.example.fr:25", "SMTP_URL (smtp_url) must look like smtp://"),
    ("SMTP_URL", "http://mail.example.fr", "must look like smtp://"),
    ("SMTP_URL", "smtp://mail.example.fr:port", "must look like smtp://"),
    ("PUBLIC_ORIGIN", "assistant.example.fr", "PUBLIC_ORIGIN (public_origin) takes origins like"),
    ("PUBLIC_ORIGIN", "https://assistant.example.fr/chat", "no path), got 'https://assistant.example.fr/chat'"),
    ("ASSISTANT_WIDGET_ORIGINS", "https://ok.example, ftp://no.example", "'ftp://no.example'"),
    ("FIELD_KEYS", f"{KEY},not-a-key", "FIELD_KEYS (field_keys) item 2 holds a value that is not a Fernet key"),
])
def test_bad_values_name_the_variable(env, value, needle):
    with pytest.raises(ConfigError) as e:
        Settings.from_env(environ={env: value})
    assert needle in e.value.message


def test_unknown_setting_is_rejected():
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.create(nope=1)


def test_every_setting_is_documented_in_readme():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [f.env for f in FIELDS if f"`{f.env}`" not in readme]
    assert not missing, f"README configuration table lacks {missing}"
    assert all(f.doc.strip() for f in FIELDS)


def test_settings_fields_match_declarations():
    import dataclasses

    assert [f.name for f in dataclasses.fields(Settings)] == [f.name for f in FIELDS]


def test_secrets_are_never_printed():
    s = Settings.from_env(environ={"SECRET_KEY": "s3cr3t-value-" * 3, "LLM_API_KEY": "sk-live-123",
                                   "FIELD_KEYS": KEY, "SMTP_URL": "smtp://mailer:pa55word@mail.example.fr:587",
                                   "DATABASE_URL": "postgresql://app:dbpa55@db.example/assistant"})
    shown = repr(s) + str(s) + f"{s.secret_key} {s.field_keys} {s.llm_api_key}"
    for secret in ("s3cr3t-value", "sk-live-123", KEY, "pa55word", "dbpa55"):
        assert secret not in shown
    assert "Secret('***')" in shown and "smtp://mailer:***@mail.example.fr:587" in shown
    assert s.secret_key.reveal() == "s3cr3t-value-" * 3 and s.field_keys[0].reveal() == KEY
    assert s.llm_api_key.reveal() == "sk-live-123"


def test_bad_urls_mask_their_password():
    with pytest.raises(ConfigError) as e:
        Settings.from_env(environ={"SMTP_URL": "ftp://user:hunter2@mail.example.fr"})
    assert "hunter2" not in e.value.message and "user:***@" in e.value.message


def test_bad_field_key_is_not_quoted():
    with pytest.raises(ConfigError) as e:
        Settings.from_env(environ={"FIELD_KEYS": "almost-a-key-but-not-quite"})
    assert "almost-a-key" not in e.value.message and "Fernet.generate_key()" in e.value.message


def test_lists_and_smtp_are_parsed():
    s = Settings.from_env(environ={"ASSISTANT_WIDGET_ORIGINS": " https://a.example ,https://B.example:443/,",
                                   "FIELD_KEYS": f"{KEY}, {Fernet.generate_key().decode()}",
                                   "SMTP_URL": "smtps://user%40site:p%3Ass@mail.example.fr"})
    assert s.widget_origins == ("https://a.example", "https://B.example:443/")
    assert s.allowed_origins == ("https://a.example", "https://b.example")
    assert len(s.field_keys) == 2 and s.field_keys[0].reveal() == KEY  # newest first, order kept
    smtp = s.smtp
    assert (smtp.host, smtp.port, smtp.tls, smtp.username) == ("mail.example.fr", 465, True, "user%40site")
    assert Settings.from_env(environ={"SMTP_URL": "smtp://relay:2525"}).smtp.port == 2525
    assert Settings.from_env(environ={}).smtp is None
    assert s.with_(top_k=3).field_keys == s.field_keys  # a copy keeps list and secret values
    unset = Settings.from_env(environ={}).with_(top_k=3)
    assert unset.secret_key is None and unset.field_keys == () and unset.llm_api_key is None


@pytest.mark.parametrize("origin,expected", [
    ("https://Assistant.Example.fr:443/", "https://assistant.example.fr"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://example.fr:80", "http://example.fr"),
    ("https://[::1]:8443", "https://[::1]:8443"),
])
def test_normalise_origin(origin, expected):
    assert normalise_origin(origin) == expected


@pytest.mark.parametrize("missing,needle", [
    ("SECRET_KEY", "SECRET_KEY is required when ASSISTANT_ENV=production"),
    ("FIELD_KEYS", "FIELD_KEYS is required when ASSISTANT_ENV=production"),
    ("SMTP_URL", "SMTP_URL is required when ASSISTANT_ENV=production"),
])
def test_production_requires_keys(missing, needle):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env(environ=env)


@pytest.mark.parametrize("env,needle", [
    ({"JOBS_BACKEND": "rq"}, "JOBS_BACKEND=rq needs REDIS_URL"),
    ({"JOBS_BACKEND": "celery"}, "JOBS_BACKEND (jobs_backend) must be one of inline, thread, rq"),
    ({"MAIL_FROM": "nobody"}, "MAIL_FROM (mail_from) must be an address like"),
    ({"MAIL_FROM": "A <a@b.fr>\r\nBcc: x@y.fr"}, "MAIL_FROM (mail_from) must be an address like"),
    ({"JOBS_QUEUE": "a queue"}, "JOBS_QUEUE (jobs_queue) takes letters"),
])
def test_mail_and_jobs_settings(env, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        Settings.from_env(environ=env)
    s = Settings.from_env(environ={"JOBS_BACKEND": "rq", "REDIS_URL": "redis://127.0.0.1:6379/0",
                                   "MAIL_FROM": "Assistant RGPD <rgpd@example.fr>"})
    assert (s.jobs_backend, s.jobs_queue, s.mail_from) == ("rq", "gdpr-assistant", "Assistant RGPD <rgpd@example.fr>")
    assert Settings.from_env(environ={}).jobs_backend == "thread"


def test_production_rejects_a_weak_secret_key_and_plain_http_origin():
    with pytest.raises(ConfigError, match="SECRET_KEY is too weak") as e:
        Settings.from_env(environ={**PRODUCTION, "SECRET_KEY": "short-but-secret"})
    assert "short-but-secret" not in e.value.message
    with pytest.raises(ConfigError, match="PUBLIC_ORIGIN must be an https:// origin"):
        Settings.from_env(environ={**PRODUCTION, "PUBLIC_ORIGIN": "http://assistant.example.fr"})
    s = Settings.from_env(environ={**PRODUCTION, "PUBLIC_ORIGIN": "https://assistant.example.fr"})
    assert s.is_production and with_development_keys(s) is s  # production never generates keys


def test_development_keys_are_generated_once_with_private_permissions(tmp_path):
    s = Settings.from_env(environ={}, data_dir=tmp_path / "data")
    assert s.secret_key is None and s.field_keys == ()
    first = with_development_keys(s)
    again = with_development_keys(Settings.from_env(environ={}, data_dir=tmp_path / "data"))
    assert first.secret_key == again.secret_key and len(first.secret_key.reveal()) >= 32
    assert first.field_keys == again.field_keys
    Fernet(first.field_keys[0].reveal().encode())  # a usable key
    for name in ("secret_key", "field_key"):
        assert stat.S_IMODE((s.keys_dir / name).stat().st_mode) == 0o600
    assert sorted(p.name for p in s.keys_dir.iterdir()) == ["field_key", "secret_key"]  # no temp files left
    given = with_development_keys(s.with_(secret_key="mine-" * 8))
    assert given.secret_key.reveal() == "mine-" * 8  # a key set in the environment wins


def test_development_key_readable_by_others_is_refused(tmp_path):
    s = Settings.from_env(environ={}, data_dir=tmp_path)
    with_development_keys(s)
    (s.keys_dir / "secret_key").chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        with_development_keys(s)


def test_secret_equality_and_emptiness():
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b") and Secret("a") != "a"
    assert Settings.from_env(environ={"SECRET_KEY": "  "}).secret_key is None
