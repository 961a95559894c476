"""One typed settings object: environment first, then an optional TOML file, then defaults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pss_ordering.config import Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PSS_DATABASE_URL", "PSS_CONFIG_FILE", "PSS_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///pss-ordering.db"
    assert settings.info_required_timeout == timedelta(days=7)


def test_environment_and_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "pss.toml"
    config.write_text(
        'base_url = "https://pss.example"\n'
        "max_page_limit = 50\n"
        'info_required_timeout = "PT2H"\n'
        'database_url = "sqlite:///from-file.db"\n'
    )
    monkeypatch.setenv("PSS_CONFIG_FILE", str(config))
    monkeypatch.setenv("PSS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x")
    monkeypatch.setenv("PSS_JWT_ALGORITHMS", "RS256, ES256")
    settings = Settings()
    assert settings.base_url == "https://pss.example"
    assert settings.max_page_limit == 50
    assert settings.info_required_timeout == timedelta(hours=2)
    assert settings.database_url.startswith("postgresql://"), "environment wins over the file"
    assert settings.jwt_algorithms == ["RS256", "ES256"]


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSS_SQLITE_SYNCHRONOUS", "sometimes")
    with pytest.raises(ValueError, match="OFF, NORMAL, FULL"):
        Settings()
