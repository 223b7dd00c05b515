"""Chain funding: JobFunded logs go into the inbox once, only after confirmations, across restarts and
re-orgs of unconfirmed blocks."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.escrow.evm import DevChain
from marketplace.flows import funding as funding_flow
from marketplace.ledger import service as ledger
from marketplace.models import InboxEvent, Job, JobStatus
from marketplace.payments import service as payments
from marketplace.payments.rails import Rails
from tests.conftest import UserFactory, job_body


def _poll(settings: Settings, rails: Rails) -> int:
    with session_scope(session_factory(settings)) as s:
        return funding_flow.poll_chain_funding(s, rails)


def _status(settings: Settings, job_id: int) -> JobStatus:
    with session_scope(session_factory(settings)) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job.status


def test_fund_on_chain_with_confirmations_and_reorg(
    client: TestClient,
    make_user: UserFactory,
    box_dataset: dict,
    rails: Rails,
    chain: DevChain,
    settings: Settings,
) -> None:
    rails.chain_confirmations = 3
    requester = make_user("requester")
    body = job_body(
        str(box_dataset["root"]), box_dataset["gt"], rail="chain", currency="tusd", bounty_amount=10**9
    )
    job = client.post("/api/jobs", json=body, headers=requester["headers"]).json()
    r = client.post(
        f"/api/jobs/{job['id']}/fund", json={"payout_schedule": "on_acceptance"}, headers=requester["headers"]
    )
    assert r.status_code == 200, r.text
    fund = r.json()
    assert fund["vault_address"] == chain.escrow_address and fund["token_address"] == chain.token_address
    assert fund["amount"] == 10**9 and len(fund["chain_job_id"]) == 66
    assert _status(settings, job["id"]) is JobStatus.awaiting_funds

    escrow = rails.need_chain()
    wallet = chain.accounts[0]
    snap = chain.snapshot()
    escrow.fund_job(wallet, fund["chain_job_id"], fund["token_address"], fund["amount"], fund["deadline"])
    # Seen but not yet buried under 3 blocks: nothing happens.
    assert _poll(settings, rails) == 0 and _status(settings, job["id"]) is JobStatus.awaiting_funds
    # Re-org: the funding block disappears. Nothing was ingested, so nothing needs undoing.
    chain.revert(snap)
    chain.tester.mine_blocks(4)
    assert _poll(settings, rails) == 0
    # Funded for real this time; confirmed after 3 more blocks.
    escrow.fund_job(wallet, fund["chain_job_id"], fund["token_address"], fund["amount"], fund["deadline"])
    assert _poll(settings, rails) == 0
    chain.tester.mine_blocks(3)
    assert _poll(settings, rails) == 1
    assert _status(settings, job["id"]) is JobStatus.active
    # Restart: the cursor and the inbox make polling again (even from scratch) a no-op.
    assert _poll(settings, rails) == 0
    with session_scope(session_factory(settings)) as s:
        from marketplace.models import ChainCursor

        s.get(ChainCursor, payments.CURSOR).block = 0  # type: ignore[union-attr]
    assert _poll(settings, rails) == 0
    with session_scope(session_factory(settings)) as s:
        assert s.scalar(select(func.count()).select_from(InboxEvent)) == 1
        books = ledger.check_balanced(s, job["id"])
        assert books.funded == 10**9 and books.fees == 10**9 * 500 // 10_000


def test_wrong_token_is_ignored(
    client: TestClient,
    make_user: UserFactory,
    box_dataset: dict,
    rails: Rails,
    chain: DevChain,
    settings: Settings,
) -> None:
    from marketplace.escrow.chain import deploy_contract

    requester = make_user("requester")
    body = job_body(
        str(box_dataset["root"]), box_dataset["gt"], rail="chain", currency="tusd", bounty_amount=10**6
    )
    job = client.post("/api/jobs", json=body, headers=requester["headers"]).json()
    fund = client.post(f"/api/jobs/{job['id']}/fund", headers=requester["headers"]).json()
    other, _ = deploy_contract(chain.w3, chain.admin, "TestToken", "Other", "OTH", 6, gas=2_000_000)
    escrow = rails.need_chain()
    escrow._send(escrow.token(other).functions.mint(chain.accounts[0].address, 10**9), chain.admin, 100_000)
    escrow.fund_job(chain.accounts[0], fund["chain_job_id"], other, fund["amount"], fund["deadline"])
    assert _poll(settings, rails) == 0
    assert _status(settings, job["id"]) is JobStatus.awaiting_funds
