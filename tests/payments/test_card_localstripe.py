"""Card rail against localstripe (127.0.0.1, own state file): PaymentIntent at funding, activation on the
signed webhook, replayed and forged webhooks, refund on cancel."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from marketplace.app import create_app
from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.ledger import service as ledger
from marketplace.models import Job, JobStatus
from marketplace.payments.rails import Rails
from marketplace.payments.stripe_adapter import CardPayments
from marketplace.payouts import tasks
from tests.conftest import UserFactory, job_body
from tests.payments.paytools import free_port, localstripe_url, wait_port  # noqa: F401

SECRET = "whsec_localstripe_test"


@pytest.fixture
def live_app(settings: Settings, rails: Rails) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def card_rails(rails: Rails, localstripe_url: str, live_app: str) -> Rails:  # noqa: F811
    rails.card = CardPayments("sk_test_tilework", api_base=localstripe_url)
    rails.settings.stripe_webhook_secret = SECRET
    r = httpx.post(
        f"{localstripe_url}/_config/webhooks/tilework",
        data={"url": f"{live_app}/api/webhooks/stripe", "secret": SECRET},
    )
    assert r.status_code == 200
    return rails


def _status(settings: Settings, job_id: int) -> JobStatus:
    with session_scope(session_factory(settings)) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job.status


def _sign(payload: bytes, secret: str = SECRET, ts: int | None = None) -> str:
    ts = ts or int(time.time())
    sig = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={sig}"


def test_card_funding_webhook_and_refund(
    client: TestClient, make_user: UserFactory, box_dataset: dict, card_rails: Rails, settings: Settings
) -> None:
    requester = make_user("requester")
    body = job_body(
        str(box_dataset["root"]), box_dataset["gt"], rail="card", currency="usd", bounty_amount=10_000
    )
    job = client.post("/api/jobs", json=body, headers=requester["headers"]).json()
    r = client.post(f"/api/jobs/{job['id']}/fund", headers=requester["headers"])
    assert r.status_code == 200, r.text
    fund = r.json()
    assert fund["client_secret"] and fund["payment_intent_id"].startswith("pi_")
    # Funding again returns the same PaymentIntent.
    assert (
        client.post(f"/api/jobs/{job['id']}/fund", headers=requester["headers"]).json()["payment_intent_id"]
        == (fund["payment_intent_id"])
    )
    assert _status(settings, job["id"]) is JobStatus.awaiting_funds

    # The browser confirms the card payment (here: straight through the SDK against localstripe).
    stripe_client = card_rails.need_card().client
    pm = stripe_client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    # (localstripe confirms only a PaymentIntent that already has its payment method attached.)
    stripe_client.v1.payment_intents.update(fund["payment_intent_id"], {"payment_method": pm["id"]})
    stripe_client.v1.payment_intents.confirm(fund["payment_intent_id"])

    deadline = time.monotonic() + 20
    while _status(settings, job["id"]) is not JobStatus.active and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _status(settings, job["id"]) is JobStatus.active

    # A forged event (wrong secret) and a stale one are refused; nothing changes.
    fake = json.dumps(
        {
            "id": "evt_forged",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": fund["payment_intent_id"], "amount": 10_000, "currency": "usd"}},
        }
    )
    assert (
        client.post(
            "/api/webhooks/stripe",
            content=fake,
            headers={"Stripe-Signature": _sign(fake.encode(), "whsec_wrong")},
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/webhooks/stripe",
            content=fake,
            headers={"Stripe-Signature": _sign(fake.encode(), ts=int(time.time()) - 3600)},
        ).status_code
        == 400
    )
    # A replay of a genuine event id is stored once and applied once.
    with session_scope(session_factory(settings)) as s:
        from sqlalchemy import select

        from marketplace.models import InboxEvent

        real = s.scalars(select(InboxEvent).where(InboxEvent.type == "payment_intent.succeeded")).one()
        payload = json.dumps(real.payload).encode()
    replay = client.post(
        "/api/webhooks/stripe", content=payload, headers={"Stripe-Signature": _sign(payload)}
    )
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    with session_scope(session_factory(settings)) as s:
        books = ledger.check_balanced(s, job["id"])
        assert books.funded == 10_000 and books.fees == 500

    # Cancel: nothing was accepted, so all but the fee goes back to the card.
    r = client.post(f"/api/jobs/{job['id']}/cancel", headers=requester["headers"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    tasks.drain(time_budget_s=30)
    refunds = stripe_client.v1.refunds.list({"payment_intent": fund["payment_intent_id"]})
    assert [x["amount"] for x in refunds.data] == [9_500]
    # Draining again (a retry) finds the refund by its key and sends nothing.
    tasks.drain(time_budget_s=30)
    assert len(stripe_client.v1.refunds.list({"payment_intent": fund["payment_intent_id"]}).data) == 1
    with session_scope(session_factory(settings)) as s:
        books = ledger.check_balanced(s, job["id"])
        assert books.refunded == 9_500 and books.held == 0
