"""Hypothesis stateful test of the vault against a Python model of what it must do.

Invariants checked after every step:
* per token, the vault's balance equals the sum of ``remaining`` over the jobs in that token;
* per job, ``funded == paid + refunded + remaining`` and the chain record matches the model;
* no payout id is ever executed twice (a reused id is refused and pays nothing);
* only the operator pays, stores results, completes or cancels;
* reclaim succeeds only after the deadline and only for the requester.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from escrow_helpers import fresh_addresses
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from marketplace.escrow.chain import ChainEscrow, EscrowRevert, JobStatus, deploy_contract
from marketplace.escrow.evm import DevChain, start_dev_chain

MARGIN = 120  # seconds kept clear of a deadline so pending-block timestamps cannot flip an outcome
FEE_BPS = 100


@dataclass
class ModelJob:
    requester: int
    token: str
    deadline: int
    funded: int
    paid: int = 0
    refunded: int = 0
    status: JobStatus = JobStatus.FUNDED

    @property
    def remaining(self) -> int:
        return self.funded - self.paid - self.refunded if self.status is JobStatus.FUNDED else 0


_CHAIN: dict[str, object] = {}


def _chain() -> tuple[DevChain, str]:
    if "dev" not in _CHAIN:
        dev = start_dev_chain(num_accounts=6)
        fee, _ = deploy_contract(dev.w3, dev.admin, "FeeToken", FEE_BPS, gas=2_000_000)
        esc = dev.escrow()
        for account in dev.accounts:
            esc._send(esc.token(fee).functions.mint(account.address, 10**30), dev.admin, 100_000)
        _CHAIN["dev"], _CHAIN["fee"] = dev, fee
    return _CHAIN["dev"], _CHAIN["fee"]  # type: ignore[return-value]


class EscrowMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.dev, self.fee_token = _chain()
        self.snap = self.dev.snapshot()
        self.escrow = self.dev.escrow()
        # actor 0..3 are requesters/strangers (dev accounts), "op" is the operator
        self.actors = list(self.dev.accounts)
        self.jobs: dict[str, ModelJob] = {}
        self.payouts: set[str] = set()
        self.workers = fresh_addresses(8, seed=7)
        self.counter = 0

    def teardown(self) -> None:
        if hasattr(self, "snap"):
            self.dev.revert(self.snap)

    def adapter(self, actor: int | None) -> ChainEscrow:
        if actor is None:
            return self.escrow
        return ChainEscrow(self.dev.w3, self.escrow.address, self.actors[actor])

    def tokens(self) -> list[str]:
        return [self.dev.token_address, self.fee_token]

    def expect(self, error: str | None, action) -> bool:  # type: ignore[no-untyped-def]
        if error is None:
            action()
            return True
        with pytest.raises(EscrowRevert) as err:
            action()
        assert err.value.name == error
        return False

    # ------------------------------------------------------------------ rules

    @rule(
        requester=st.integers(0, 3),
        amount=st.integers(1, 10**9),
        duration=st.sampled_from([2_000, 20_000]),
        fee=st.booleans(),
    )
    def fund(self, requester: int, amount: int, duration: int, fee: bool) -> None:
        self.counter += 1
        job_id = f"job-{self.counter}"
        token = self.fee_token if fee else self.dev.token_address
        deadline = self.dev.now() + duration
        self.escrow.fund_job(self.actors[requester], job_id, token, amount, deadline)
        received = amount - amount * FEE_BPS // 10_000 if fee else amount
        self.jobs[job_id] = ModelJob(requester, token, deadline, received)

    @precondition(lambda self: bool(self.jobs))
    @rule(data=st.data(), as_operator=st.booleans(), reuse=st.booleans(), n=st.integers(1, 3))
    def pay(self, data: st.DataObject, as_operator: bool, reuse: bool, n: int) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.jobs)))
        job = self.jobs[job_id]
        amounts = data.draw(st.lists(st.integers(1, max(1, job.funded // 2)), min_size=n, max_size=n))
        if reuse and self.payouts:
            payout_id = data.draw(st.sampled_from(sorted(self.payouts)))
        else:
            payout_id = f"payout-{len(self.payouts)}-{job_id}"
        now = self.dev.now()
        if job.status is JobStatus.FUNDED:
            assume(abs(now - job.deadline) > MARGIN)
        recipients = [self.workers[data.draw(st.integers(0, 7))] for _ in range(n)]
        actor = None if as_operator else data.draw(st.integers(0, 3))
        if actor is not None:
            error: str | None = "AccessControlUnauthorizedAccount"
        elif job.status is not JobStatus.FUNDED:
            error = "JobNotFunded"
        elif now > job.deadline:
            error = "DeadlinePassed"
        elif payout_id in self.payouts:
            error = "PayoutAlreadyDone"
        elif sum(amounts) > job.remaining:
            error = "InsufficientRemaining"
        else:
            error = None
        ok = self.expect(
            error, lambda: self.adapter(actor).bulk_pay_out(job_id, payout_id, recipients, amounts)
        )
        if ok:
            job.paid += sum(amounts)
            self.payouts.add(payout_id)

    @precondition(lambda self: bool(self.jobs))
    @rule(data=st.data(), which=st.sampled_from(["complete", "cancel", "store"]), as_operator=st.booleans())
    def operator_action(self, data: st.DataObject, which: str, as_operator: bool) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.jobs)))
        job = self.jobs[job_id]
        actor = None if as_operator else data.draw(st.integers(0, 3))
        if actor is not None:
            error: str | None = "AccessControlUnauthorizedAccount"
        elif job.status is not JobStatus.FUNDED:
            error = "JobNotFunded"
        else:
            error = None
        adapter = self.adapter(actor)
        if which == "store":
            if actor is None and job.status is JobStatus.COMPLETED:
                error = None  # a completed job's results may still be recorded
            elif error == "JobNotFunded":
                error = "ResultsRefused"
            self.expect(error, lambda: adapter.store_results(job_id, f"s3://r/{job_id}", job_id))
            return
        if self.expect(error, lambda: getattr(adapter, which)(job_id)):
            job.refunded = job.remaining
            job.status = JobStatus.COMPLETED if which == "complete" else JobStatus.CANCELLED

    @precondition(lambda self: bool(self.jobs))
    @rule(data=st.data(), actor=st.integers(0, 4))
    def reclaim(self, data: st.DataObject, actor: int) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.jobs)))
        job = self.jobs[job_id]
        now = self.dev.now()
        if job.status is JobStatus.FUNDED:
            assume(abs(now - job.deadline) > MARGIN)
        account = self.dev.operator if actor == 4 else self.actors[actor]
        if job.status is not JobStatus.FUNDED:
            error: str | None = "JobNotFunded"
        elif actor != job.requester:
            error = "NotRequester"
        elif now <= job.deadline:
            error = "DeadlineNotReached"
        else:
            error = None
        if self.expect(error, lambda: self.escrow.reclaim(account, job_id)):
            job.refunded = job.remaining
            job.status = JobStatus.RECLAIMED

    @rule(seconds=st.sampled_from([600, 5_000]))
    def time_passes(self, seconds: int) -> None:
        self.dev.time_travel(seconds)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def vault_holds_exactly_the_remaining_funds(self) -> None:
        if not hasattr(self, "jobs"):
            return
        for token in self.tokens():
            held = self.escrow.token(token).functions.balanceOf(self.escrow.address).call()
            assert held == sum(j.remaining for j in self.jobs.values() if j.token == token)

    @invariant()
    def jobs_match_the_model(self) -> None:
        if not hasattr(self, "jobs"):
            return
        for job_id, model in self.jobs.items():
            info = self.escrow.get_job(job_id)
            assert info.status is model.status
            assert info.funded == info.paid + info.refunded + info.remaining
            assert (info.funded, info.paid, info.refunded, info.remaining) == (
                model.funded,
                model.paid,
                model.refunded,
                model.remaining,
            )
            assert info.requester == self.actors[model.requester].address

    @invariant()
    def payout_ids_are_recorded(self) -> None:
        if not hasattr(self, "payouts"):
            return
        for payout_id in self.payouts:
            assert self.escrow.is_payout_done(payout_id)


EscrowMachine.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEscrowStateMachine = EscrowMachine.TestCase
