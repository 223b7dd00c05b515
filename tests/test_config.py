"""Settings: embedded defaults with no environment, real parts by variable, no placeholder secrets in
production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from marketplace.config import PLACEHOLDER_SECRET, Settings

ENV_PREFIXES = ("TILEWORK_", "DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith(ENV_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_no_environment_means_embedded_defaults(clean_env: None, tmp_path: Path) -> None:
    s = Settings()
    assert s.effective_database_url == f"sqlite:///{tmp_path / '.tilework' / 'tilework.db'}"
    assert s.effective_storage_url == str(tmp_path / ".tilework" / "storage")
    assert s.background_in_process and s.chain_rpc_url is None and not s.card_enabled


def test_variables_switch_to_the_real_parts(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db/tw")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("TILEWORK_STORAGE_URL", "s3://bucket/platform")
    s = Settings()
    assert s.effective_database_url.startswith("postgresql")
    assert not s.background_in_process
    assert s.effective_storage_url == "s3://bucket/platform"


def test_production_refuses_placeholder_secrets(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILEWORK_ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db/tw")
    with pytest.raises(ValidationError, match="TILEWORK_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("TILEWORK_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings()
    monkeypatch.setenv("TILEWORK_SECRET_KEY", "x" * 40)
    assert Settings().secret_key != PLACEHOLDER_SECRET
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings()
