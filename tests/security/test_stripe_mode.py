"""A live Stripe key never runs with the local Connect stand-in (issue 11, item 10): payouts would be
marked paid while no money moves."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from marketplace.config import Settings

PROD = {
    "environment": "production",
    "secret_key": "x" * 40,
    "database_url": "postgresql+psycopg://u@db/tw",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith(("TILEWORK_", "DATABASE_URL", "REDIS_URL")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("key", ["sk_live_abc123", "rk_live_abc123"])
def test_live_key_with_standin_connect_is_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="TILEWORK_STRIPE_CONNECT=stripe"):
        Settings(**PROD, stripe_secret_key=key)
    with pytest.raises(ValidationError, match="stand-in"):
        Settings(environment="development", stripe_secret_key=key, stripe_connect="standin")
    assert Settings(**PROD, stripe_secret_key=key, stripe_connect="stripe").stripe_connect == "stripe"


def test_live_key_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILEWORK_ENVIRONMENT", "production")
    monkeypatch.setenv("TILEWORK_SECRET_KEY", "y" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db/tw")
    monkeypatch.setenv("TILEWORK_STRIPE_SECRET_KEY", "sk_live_from_env")
    with pytest.raises(ValidationError, match="stand-in"):
        Settings()
    monkeypatch.setenv("TILEWORK_STRIPE_CONNECT", "stripe")
    assert Settings().card_enabled


def test_production_against_real_stripe_needs_real_connect() -> None:
    """Even a test-mode key: production talking to Stripe itself must use Stripe's Connect."""
    with pytest.raises(ValidationError, match="stand-in"):
        Settings(**PROD, stripe_secret_key="sk_test_abc")
    # a local emulator (localstripe) with the stand-in is the tested setup, allowed
    ok = Settings(**PROD, stripe_secret_key="sk_test_abc", stripe_api_base="http://127.0.0.1:8420")
    assert ok.stripe_emulated and ok.stripe_connect == "standin"


def test_development_test_key_with_standin_is_fine() -> None:
    assert Settings(stripe_secret_key="sk_test_abc").stripe_connect == "standin"
