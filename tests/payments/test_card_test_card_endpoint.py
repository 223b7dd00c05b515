"""``POST /api/jobs/{id}/fund/test-card``: the job page's test-card path against a local Stripe emulator.

Only the job's requester may use it; it is refused unless the card rail (settings and adapter both)
points at a loopback emulator; and it activates nothing itself — localstripe's signed
``payment_intent.succeeded`` webhook opens the job through the usual signature check and inbox."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.models import InboxEvent, Job, JobStatus
from marketplace.payment_settings import PaymentSettings, is_local_stripe_base
from marketplace.payments.rails import Rails
from marketplace.payments.stripe_adapter import CardPayments, CardRailError
from tests.conftest import UserFactory, job_body
from tests.payments.paytools import emulator_rails, emulator_settings, localstripe_url, serve_app  # noqa: F401


def _card_job(client: TestClient, requester: dict[str, Any], box_dataset: dict[str, Any], **kw: Any) -> int:
    body = job_body(str(box_dataset["root"]), box_dataset["gt"], **{"rail": "card", "currency": "usd", **kw})
    r = client.post("/api/jobs", json=body, headers=requester["headers"])
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _status(settings: Settings, job_id: int) -> JobStatus:
    with session_scope(session_factory(settings)) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job.status


def test_local_base_detection() -> None:
    for base in (
        "http://127.0.0.1:8420",
        "http://localhost:12111/",
        "https://[::1]:9000",
        "HTTP://LocalHost",
    ):
        assert is_local_stripe_base(base), base
    for base in (
        None,
        "",
        "https://api.stripe.com",
        "http://127.0.0.1.evil.example",
        "ftp://127.0.0.1",
        "http://10.0.0.5:8420",
        "127.0.0.1:8420",
    ):
        assert not is_local_stripe_base(base), base
    local = "http://127.0.0.1:1"
    assert PaymentSettings(stripe_secret_key="sk", stripe_api_base=local).card_mode == "emulator"
    assert PaymentSettings(stripe_secret_key="sk", stripe_publishable_key="pk_test_x").card_mode == "stripe"
    assert PaymentSettings(stripe_secret_key="sk").card_mode == "no_publishable_key"
    assert PaymentSettings(stripe_api_base="http://127.0.0.1:1").card_mode == "off"


def test_adapter_refuses_test_card_and_webhook_config_against_real_stripe() -> None:
    real = CardPayments("sk_test_x")  # no network call is made: the guard comes first
    with pytest.raises(CardRailError, match="local Stripe emulator"):
        real.confirm_with_test_card("pi_x")
    with pytest.raises(CardRailError, match="local Stripe emulator"):
        real.register_emulator_webhook(name="x", url="http://127.0.0.1/", secret="s")


def test_test_card_refused_unless_the_card_rail_is_a_local_emulator(
    client: TestClient,
    make_user: UserFactory,
    box_dataset: dict,
    emulator_rails: Rails,  # noqa: F811
) -> None:
    requester = make_user("requester")
    job_id = _card_job(client, requester, box_dataset)
    url = f"/api/jobs/{job_id}/fund/test-card"
    emulator = emulator_rails.card
    # real Stripe: the settings and the adapter both say so
    emulator_rails.settings.stripe_api_base = None
    emulator_rails.card = CardPayments("sk_test_x", api_base="https://api.stripe.com")
    r = client.post(url, headers=requester["headers"])
    assert r.status_code == 409 and "local Stripe emulator" in r.json()["detail"], r.text
    # either one pointing at Stripe is enough to refuse
    emulator_rails.card = emulator
    r = client.post(url, headers=requester["headers"])
    assert r.status_code == 409, r.text
    emulator_rails.settings.stripe_api_base = "http://127.0.0.1:9"
    emulator_rails.card = CardPayments("sk_test_x")
    assert client.post(url, headers=requester["headers"]).status_code == 409
    # the card rail off altogether
    emulator_rails.card = None
    assert client.post(url, headers=requester["headers"]).status_code == 503
    assert _status(client.app.state.settings, job_id) is JobStatus.draft  # type: ignore[attr-defined]


def test_test_card_is_for_the_jobs_requester_only(
    client: TestClient,
    make_user: UserFactory,
    box_dataset: dict,
    emulator_rails: Rails,  # noqa: F811
) -> None:
    owner = make_user("requester")
    job_id = _card_job(client, owner, box_dataset)
    url = f"/api/jobs/{job_id}/fund/test-card"
    assert client.post(url).status_code == 401
    assert client.post(url, headers=make_user("worker")["headers"]).status_code == 403
    assert client.post(url, headers=make_user("reviewer")["headers"]).status_code == 403
    assert client.post(url, headers=make_user("requester")["headers"]).status_code == 404  # not theirs
    assert client.post(url, headers=make_user("admin")["headers"]).status_code == 403  # sees it, pays not
    chain_job = _card_job(client, owner, box_dataset, rail="chain", currency="tusd", bounty_amount=10**9)
    r = client.post(f"/api/jobs/{chain_job}/fund/test-card", headers=owner["headers"])
    assert r.status_code == 409 and "chain" in r.json()["detail"], r.text


def test_test_card_pays_and_the_signed_webhook_opens_the_job(
    client: TestClient,
    make_user: UserFactory,
    box_dataset: dict,
    settings: Settings,
    emulator_rails: Rails,  # noqa: F811
    localstripe_url: str,  # noqa: F811
) -> None:
    requester = make_user("requester")
    job_id = _card_job(client, requester, box_dataset, bounty_amount=10_000)
    with (
        serve_app(settings, **emulator_settings(localstripe_url)) as app_url,
        httpx.Client(base_url=app_url, headers=requester["headers"], timeout=30) as http,
    ):
        r = http.post(f"/api/jobs/{job_id}/fund/test-card")  # starts the funding itself if need be
        assert r.status_code == 200, r.text
        paid = r.json()
        assert paid["status"] == "succeeded" and paid["payment_intent_id"].startswith("pi_")
        # the answer opened nothing: the emulator's webhook does, a moment later
        deadline = time.monotonic() + 20
        while _status(settings, job_id) is not JobStatus.active and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _status(settings, job_id) is JobStatus.active
        # paid once: there is nothing left to pay
        again = http.post(f"/api/jobs/{job_id}/fund/test-card")
        assert again.status_code == 409, again.text
    with session_scope(session_factory(settings)) as s:
        events = s.scalars(select(InboxEvent).where(InboxEvent.type == "payment_intent.succeeded")).all()
        mine = [e for e in events if e.payload["data"]["object"]["id"] == paid["payment_intent_id"]]
        assert len(mine) == 1 and mine[0].status.value == "applied"
        assert mine[0].external_id.startswith("evt_")  # localstripe's own event, through verify + inbox
