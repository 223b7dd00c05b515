"""The Stripe webhook refuses timestamps outside the tolerance in both directions and answers 400 to a
signed body that is not an event object (issue 11, low items)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.models import InboxEvent
from marketplace.payment_settings import PaymentSettings
from marketplace.payments import rails as rails_mod
from marketplace.payments import service as payments_service

SECRET = "whsec_security_test"


@pytest.fixture
def webhook_rails() -> Iterator[None]:
    rails_mod.install(rails_mod.Rails(settings=PaymentSettings(stripe_webhook_secret=SECRET)))
    yield
    rails_mod.install(None)


def sign(payload: bytes, ts: int, secret: str = SECRET) -> str:
    sig = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={sig}"


def event(event_id: str) -> bytes:
    return json.dumps({"id": event_id, "type": "customer.created", "data": {"object": {}}}).encode()


def inbox_count(settings: Settings) -> int:
    with session_scope(session_factory(settings)) as s:
        return int(s.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def post(client: TestClient, payload: bytes, signature: str) -> object:
    return client.post(
        "/api/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


def test_future_timestamps_are_refused(client: TestClient, settings: Settings, webhook_rails: None) -> None:
    now = int(time.time())
    payload = event("evt_future")
    r = post(client, payload, sign(payload, now + 3600))
    assert r.status_code == 400 and r.json()["error"] == "bad_signature", r.text  # type: ignore[attr-defined]
    assert "future" in r.json()["detail"]  # type: ignore[attr-defined]
    r = post(client, payload, sign(payload, now - 3600))
    assert r.status_code == 400  # type: ignore[attr-defined]
    assert inbox_count(settings) == 0
    # within the tolerance either way (clock skew of a few seconds) is fine
    r = post(client, payload, sign(payload, now + 5))
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert inbox_count(settings) == 1


@pytest.mark.parametrize("body", [b"[1, 2, 3]", b'"evt"', b"42", b"null", b'{"id": 5, "type": "x"}'])
def test_signed_non_object_is_a_400(
    client: TestClient, settings: Settings, webhook_rails: None, body: bytes
) -> None:
    r = post(client, body, sign(body, int(time.time())))
    assert r.status_code == 400, r.text  # type: ignore[attr-defined]
    assert r.json()["error"] == "invalid_input"  # type: ignore[attr-defined]
    assert inbox_count(settings) == 0


def test_signed_invalid_json_is_a_400(client: TestClient, webhook_rails: None) -> None:
    body = b'{"id": "evt_x", '
    r = post(client, body, sign(body, int(time.time())))
    assert r.status_code == 400, r.text  # type: ignore[attr-defined]


def test_the_webhook_stores_its_event_off_the_event_loop(
    client: TestClient, settings: Settings, webhook_rails: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its database work runs in a worker thread: on the event loop it would stall every other request
    of the process while PostgreSQL answers."""
    on_loop: list[bool] = []
    store = payments_service.store_stripe_event

    def spy(session: Any, event: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return store(session, event)

    monkeypatch.setattr(payments_service, "store_stripe_event", spy)
    payload = event("evt_off_loop")
    r = post(client, payload, sign(payload, int(time.time())))
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert on_loop == [False] and inbox_count(settings) == 1
