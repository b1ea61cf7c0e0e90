"""Settings: parsing, validation messages, and documentation of every field."""

from pathlib import Path

import pytest

from assistant.config import FIELDS, PROJECT_ROOT, Settings
from assistant.errors import ConfigError


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
