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


# -- unknown variables -------------------------------------------------------------------------------


def test_unknown_variable_is_a_warning_outside_production(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TILEWORK_OPERATOR_KEY", "0x01")
    with caplog.at_level("WARNING", logger="marketplace.config"):
        s = Settings()
    assert s.chain_operator_key is None
    assert "TILEWORK_OPERATOR_KEY" in caplog.text and "TILEWORK_CHAIN_OPERATOR_KEY" in caplog.text


def test_unknown_variable_is_an_error_in_production(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILEWORK_ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db/tw")
    monkeypatch.setenv("TILEWORK_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("TILEWORK_STORAGE_ULR", "s3://bucket/platform")
    with pytest.raises(ValidationError, match="TILEWORK_STORAGE_ULR; did you mean TILEWORK_STORAGE_URL"):
        Settings()
    monkeypatch.delenv("TILEWORK_STORAGE_ULR")
    monkeypatch.setenv("TILEWORK_TOKEN", "tw_x")  # the CLI's, not a setting: fine
    monkeypatch.setenv("TILEWORK_TEST_REDIS_URL", "redis://x")  # the tests': fine
    assert Settings().environment == "production"


def test_compose_sets_only_variables_the_settings_read() -> None:
    yaml = pytest.importorskip("yaml")
    from marketplace.config import known_variables

    compose = yaml.safe_load((Path(__file__).resolve().parents[1] / "docker-compose.yml").read_text())
    env = compose["x-tilework-env"]
    plain = ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL")
    ours = [k for k in env if k.startswith("TILEWORK_") or k in plain]
    assert ours and set(ours) <= known_variables(), set(ours) - known_variables()
    for part in ("OPERATOR_KEY", "ESCROW_ADDRESS", "TOKEN_ADDRESS"):
        assert f"TILEWORK_CHAIN_{part}" in env
