"""Earnings, payout batches, settlement and exactly-once execution on both rails (in-process faults)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.errors import Conflict
from marketplace.escrow.chain import JobStatus as ChainJobStatus
from marketplace.escrow.evm import DevChain
from marketplace.flows import cancellation
from marketplace.flows import funding as funding_flow
from marketplace.ledger import service as ledger
from marketplace.models import (
    FundingStatus,
    JobStatus,
    PayoutDestination,
    PayoutSchedule,
    Rail,
    Role,
    utcnow,
)
from marketplace.payments import repository as payments_repo
from marketplace.payments import service as payments
from marketplace.payments.rails import Rails
from marketplace.payouts import execution, repository, service, tasks
from tests.payments.paytools import FakeAssignment, add_job, add_user, complete_job


def fresh_address(i: int, seed: str = "w") -> str:
    return to_checksum_address(keccak(f"{seed}-{i}".encode())[12:])


def _setup(
    settings: Settings,
    rails: Rails,
    chain: DevChain | None,
    *,
    rail: Rail,
    workers: int,
    schedule: PayoutSchedule = PayoutSchedule.on_completion,
    bounty: int = 1_000_000,
    data_images: int = 40,
    overlap: int = 1,
    max_overlap: int | None = None,
) -> dict[str, Any]:
    with session_scope(session_factory(settings)) as s:
        requester = add_user(s, Role.requester)
        ws = [add_user(s) for _ in range(workers)]
        for i, w in enumerate(ws):
            dest = fresh_address(i, rails.settings.payout_namespace) if rail is Rail.chain else None
            if dest is None:
                dest = rails.need_connect().create_account(email=w.email, idempotency_key=f"acct-{w.id}")
            s.add(PayoutDestination(user_id=w.id, rail=rail, destination=dest, verified_at=utcnow()))
        job = add_job(
            s,
            requester,
            rail=rail,
            bounty=bounty,
            data_images=data_images,
            assignment_size=1,
            overlap=overlap,
            max_overlap=max_overlap,
            currency="tusd" if rail is Rail.chain else "usd",
        )
        out = payments.start_funding(s, job, rails, fee_bps=500, schedule=schedule)
        ids = {"requester": requester.id, "workers": [w.id for w in ws], "job": job.id, "fund": out}
    if rail is Rail.chain:
        assert chain is not None
        requester_acct = chain.accounts[0]
        rails.need_chain().fund_job(requester_acct, out.chain_job_id, out.token_address, bounty, out.deadline)
        ids["requester_address"] = requester_acct.address
        with session_scope(session_factory(settings)) as s:
            assert funding_flow.poll_chain_funding(s, rails) == 1
    else:
        with session_scope(session_factory(settings)) as s:
            funding = payments_repo.funding_for_job(s, job.id)
            assert funding is not None
            assert funding_flow.funds_arrived(s, funding, bounty, source="test")
    with session_scope(session_factory(settings)) as s:
        job_row = repository.job(s, job.id)
        assert job_row is not None and job_row.status is JobStatus.active
    return ids


def _accept_all(settings: Settings, ids: dict[str, Any], count: int, first_id: int = 1) -> None:
    with session_scope(session_factory(settings)) as s:
        for k in range(count):
            worker = ids["workers"][k % len(ids["workers"])]
            service.earn(s, FakeAssignment(first_id + k, ids["job"], worker))


def _drain_all(rounds: int = 20) -> None:
    for _ in range(rounds):
        tasks.drain(time_budget_s=60)
        with session_scope(session_factory()) as s:
            if not repository.due_outbox_ids(s, utcnow() + _far(), 10):
                return
    raise AssertionError("outbox did not drain")


def _far():  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(days=1)


def _token_balance(rails: Rails, token: str, address: str) -> int:
    return int(rails.need_chain().token(token).functions.balanceOf(address).call())


def test_pay_per_assignment_and_remainder(settings: Settings, rails: Rails, chain: DevChain) -> None:
    # 40 chunks x overlap 1; bounty 1_000_003 -> fee 50_000, per = 950_003 // 40 = 23_750, rest 3.
    ids = _setup(settings, rails, chain, rail=Rail.card, workers=3, bounty=1_000_003)
    with session_scope(session_factory(settings)) as s:
        funding = payments_repo.funding_for_job(s, ids["job"])
        assert funding is not None and funding.status is FundingStatus.succeeded
        assert (funding.fee_amount, funding.pay_per_assignment, funding.payable_assignments) == (
            50_000,
            23_750,
            40,
        )
    _accept_all(settings, ids, 10)
    # Accepting the same assignment again (a replayed hook) changes nothing.
    _accept_all(settings, ids, 10)
    with session_scope(session_factory(settings)) as s:
        assert ledger.job_books(s, ids["job"]).payable == 10 * 23_750
        # A reviewer overturn of assignment 99 makes it payable once.
        assert service.make_payable(s, FakeAssignment(99, ids["job"], ids["workers"][0])) == 23_750
        assert service.make_payable(s, FakeAssignment(99, ids["job"], ids["workers"][0])) == 0


def test_chain_on_completion_pays_everyone_once(settings: Settings, rails: Rails, chain: DevChain) -> None:
    ids = _setup(settings, rails, chain, rail=Rail.chain, workers=120, data_images=120)
    token = ids["fund"].token_address
    before_requester = _token_balance(rails, token, ids["requester_address"])
    _accept_all(settings, ids, 120)
    with session_scope(session_factory(settings)) as s:
        job = repository.job(s, ids["job"])
        complete_job(s, job)  # type: ignore[arg-type]
    _drain_all()
    with session_scope(session_factory(settings)) as s:
        books = ledger.check_balanced(s, ids["job"])
        paid = ledger.paid_by_worker(s, ids["job"])
        payouts = repository.payouts_for_job(s, ids["job"])
    assert books.payable == 0 and books.unearned == 0 and books.held == 0
    assert len(paid) == 120
    assert sum(1 for p in payouts if p.kind == "workers") == 3  # 120 recipients in batches of 50
    for i, _ in enumerate(ids["workers"]):
        wid = ids["workers"][i]
        assert _token_balance(rails, token, fresh_address(i, rails.settings.payout_namespace)) == paid[wid]
    info = rails.need_chain().get_job(ids["fund"].chain_job_id)
    assert info.status is ChainJobStatus.COMPLETED and info.remaining == 0
    assert _token_balance(rails, token, ids["requester_address"]) - before_requester == books.refunded
    assert info.funded == books.funded and info.refunded == books.refunded
    assert info.paid == books.paid + books.fees


@pytest.mark.parametrize("rail", [Rail.chain, Rail.card])
def test_crash_after_send_never_pays_twice(
    settings: Settings, rails: Rails, chain: DevChain, rail: Rail, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process 'dies' right after the money moved and before our commit, several times; the next
    attempts reconcile with the rail and pay nobody again."""
    monkeypatch.setattr(service, "_enqueue", lambda session, ids: None)  # only the drain sends
    ids = _setup(
        settings, rails, chain, rail=rail, workers=60, data_images=60, schedule=PayoutSchedule.on_acceptance
    )
    _accept_all(settings, ids, 60)
    crashes = {"n": 0}

    def fault(stage: str, payout: Any) -> None:
        if crashes["n"] < 5 and stage in ("after_send", "before_send") and (crashes["n"] + payout.id) % 2:
            crashes["n"] += 1
            raise execution.CrashForTest(stage)

    execution.fault_hook = fault
    try:
        with session_scope(session_factory(settings)) as s:
            service.tick(s)
        for _ in range(30):
            try:
                tasks.drain(time_budget_s=60)
            except execution.CrashForTest:
                continue
            with session_scope(session_factory(settings)) as s:
                if not repository.due_outbox_ids(s, utcnow() + _far(), 10):
                    break
        with session_scope(session_factory(settings)) as s:
            job = repository.job(s, ids["job"])
            cancellation.cancel_job(s, repository.user(s, ids["requester"]), ids["job"])  # type: ignore[arg-type]
            assert job is not None
        for _ in range(30):
            try:
                tasks.drain(time_budget_s=60)
            except execution.CrashForTest:
                continue
            with session_scope(session_factory(settings)) as s:
                if not repository.due_outbox_ids(s, utcnow() + _far(), 10):
                    break
    finally:
        execution.fault_hook = None
    assert crashes["n"] >= 3
    with session_scope(session_factory(settings)) as s:
        books = ledger.check_balanced(s, ids["job"])
        paid = ledger.paid_by_worker(s, ids["job"])
        dests = repository.verified_destinations(s, ids["workers"], rail)
        assert all(p.status == "done" for p in repository.payouts_for_job(s, ids["job"]))
    assert books.held == 0 and books.paid == 60 * (950_000 // 60)
    assert len(paid) == 60
    if rail is Rail.chain:
        token = ids["fund"].token_address
        for wid in ids["workers"]:
            assert _token_balance(rails, token, dests[wid]) == paid[wid]
        info = rails.need_chain().get_job(ids["fund"].chain_job_id)
        assert info.status is ChainJobStatus.CANCELLED and info.refunded == books.refunded
    else:
        connect = rails.need_connect()
        totals = connect.totals_by_destination()  # type: ignore[attr-defined]
        assert connect.transfer_count() == 60  # type: ignore[attr-defined]
        for wid in ids["workers"]:
            assert totals[dests[wid]] == paid[wid]


def test_an_unused_dynamic_overlap_reserve_is_refunded(
    settings: Settings, rails: Rails, chain: DevChain
) -> None:
    # 40 chunks, overlap 1, up to 3 answers per image: the bounty is divided over 120 assignments up
    # front (the reserve); only the 40 normal ones are worked, so 80 assignments' pay goes back.
    ids = _setup(settings, rails, chain, rail=Rail.card, workers=3, bounty=1_200_000, max_overlap=3)
    per = (1_200_000 - 60_000) // 120
    with session_scope(session_factory(settings)) as s:
        funding = payments_repo.funding_for_job(s, ids["job"])
        assert funding is not None
        assert (funding.pay_per_assignment, funding.payable_assignments) == (per, 120)
    _accept_all(settings, ids, 40)
    with session_scope(session_factory(settings)) as s:
        complete_job(s, repository.job(s, ids["job"]))  # type: ignore[arg-type]
    _drain_all()
    with session_scope(session_factory(settings)) as s:
        books = ledger.check_balanced(s, ids["job"])
    assert books.paid == 40 * per and books.fees == 60_000
    assert books.refunded == 1_200_000 - 60_000 - 40 * per == 80 * per
    card = rails.need_card()
    assert sum(r.amount for r in card.refunds.values()) == books.refunded  # type: ignore[attr-defined]


def test_cancel_pays_accepted_and_refunds_rest(settings: Settings, rails: Rails, chain: DevChain) -> None:
    ids = _setup(settings, rails, chain, rail=Rail.card, workers=2, bounty=100_000, data_images=10)
    _accept_all(settings, ids, 3)
    with session_scope(session_factory(settings)) as s:
        requester = repository.user(s, ids["requester"])
        stranger = add_user(s, Role.requester)
        with pytest.raises(Exception, match="not found"):
            cancellation.cancel_job(s, stranger, ids["job"])
        cancellation.cancel_job(s, requester, ids["job"])  # type: ignore[arg-type]
    _drain_all()
    with session_scope(session_factory(settings)) as s:
        books = ledger.check_balanced(s, ids["job"])
        with pytest.raises(Conflict):
            service.make_payable(s, FakeAssignment(50, ids["job"], ids["workers"][0]))
    per = (100_000 - 5_000) // 10
    assert books.paid == 3 * per and books.fees == 5_000
    assert books.refunded == 100_000 - 5_000 - 3 * per
    card = rails.need_card()
    assert sum(r.amount for r in card.refunds.values()) == books.refunded  # type: ignore[attr-defined]
