"""Settings: environment and overrides, and errors that name the variable."""

from __future__ import annotations

import pytest

from evshare.config import load_settings
from evshare.errors import ConfigError


def test_defaults_are_the_embedded_store_and_profile_1_2_0() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///evshare.db"
    assert settings.profile == "1.2.0"
    assert settings.root_path == ""


def test_overrides_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVSHARE_PORT", "9000")
    assert load_settings().port == 9000
    assert load_settings(port=9100).port == 9100
    assert load_settings(port=None).port == 9000


def test_a_trailing_slash_on_the_root_path_is_dropped() -> None:
    assert load_settings(root_path="/default/").root_path == "/default"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("EVSHARE_PORT", "70000"),
        ("EVSHARE_WORKERS", "0"),
        ("EVSHARE_PROFILE", "1.1"),
        ("EVSHARE_ROOT_PATH", "stage"),
        ("EVSHARE_DATABASE_URL", "mysql://db"),
        ("EVSHARE_LIMITER_FAILURE", "sometimes"),
    ],
)
def test_each_bad_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()
