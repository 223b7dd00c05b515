"""A newcomer on the embedded defaults, without a browser wallet: creates a job in the form, funds it with
the development chain's wallet (clearly marked, never in production), and a worker can work on it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from marketplace.config import Settings
from marketplace.escrow.evm import DevChain
from marketplace.payments.rails import Rails
from tests.assignments.conftest import claim, right_answers, submit
from tests.web.conftest import fill_new_job_form, screenshot, sign_in


def test_web_newcomer_funds_a_job_with_the_dev_wallet_and_a_worker_submits(
    browser_page: Any,
    client: TestClient,
    make_user: Any,
    box_dataset: dict[str, Any],
    settings: Settings,
    rails: Rails,
    chain: DevChain,
    tmp_path: Path,
) -> None:
    rails.extra["dev_chain"] = chain  # what the embedded default's rails hold: its in-process chain
    page = browser_page
    requester = make_user("requester")
    sign_in(page, requester["email"])
    fill_new_job_form(page, box_dataset, tmp_path, title="My first job", rail="chain", bounty="250")
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    page.wait_for_function("document.body.dataset.loaded === '1'")
    job_id = int(page.url.rsplit("/", 1)[1])

    assert "never in production" in page.locator("#dev-wallet").inner_text()
    page.get_by_role("button", name="Development chain: fund with the dev wallet").click()
    page.wait_for_function("document.getElementById('job-status').textContent === 'active'", timeout=20_000)
    screenshot(page, "web_requester_dev_wallet_funded")
    books = client.get(f"/api/jobs/{job_id}/books", headers=requester["headers"]).json()
    assert books["funded"] == 250_000_000 and books["currency"] == "tusd"
    # the cost split: the job's GT share at most and at least, in whole tokens
    page.wait_for_selector("#costs table")
    costs = page.locator("#costs").inner_text()
    assert "of which GT" in costs and "extra workers on uncertain images" in costs and "tUSD" in costs

    worker = make_user("worker")
    body = claim(client, worker, job_id).json()
    r = submit(client, worker, body["assignment_id"], right_answers(settings, body))
    assert r.status_code == 200, r.text
    mine = client.get("/api/assignments/mine", headers=worker["headers"]).json()
    assert mine[0]["status"] == "accepted"


def test_the_dev_wallet_is_refused_in_production_and_on_real_chains(
    client: TestClient,
    make_user: Any,
    box_dataset: dict[str, Any],
    settings: Settings,
    rails: Rails,
    chain: DevChain,
) -> None:
    from marketplace.db import session_factory, session_scope
    from marketplace.errors import DevWalletUnavailable
    from marketplace.models import Job
    from marketplace.payments import service
    from tests.conftest import job_body

    requester = make_user("requester")
    job = client.post(
        "/api/jobs",
        json=job_body(str(box_dataset["root"]), box_dataset["gt"], rail="chain", currency="tusd",
                      bounty_amount=10**9),
        headers=requester["headers"],
    ).json()  # fmt: skip
    # rails without the embedded chain (a configured RPC node): no dev wallet
    r = client.post(f"/api/jobs/{job['id']}/fund/dev-wallet", headers=requester["headers"])
    assert r.status_code == 409 and r.json()["reason"] == "dev_wallet_unavailable"
    assert client.get(f"/api/jobs/{job['id']}", headers=requester["headers"]).json()["status"] == "draft"
    # the embedded chain, but a production deployment: refused all the same
    rails.extra["dev_chain"] = chain
    production = settings.model_copy(update={"environment": "production"})
    with session_scope(session_factory(settings)) as s:
        row = s.get(Job, job["id"])
        assert row is not None
        with pytest.raises(DevWalletUnavailable):
            service.fund_from_dev_wallet(s, row, rails, 500, production)
