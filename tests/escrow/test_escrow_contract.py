"""TileworkEscrow through the ChainEscrow adapter on the embedded chain: every function, every refusal."""

from __future__ import annotations

import pytest
from escrow_helpers import fresh_addresses

from marketplace.escrow.chain import (
    MAX_PACKED_AMOUNT,
    ChainEscrow,
    EscrowRevert,
    EscrowTxFailed,
    JobStatus,
    as_bytes32,
    batch_payout_id,
    deploy_contract,
    pack_payout,
    pack_payouts,
    unpack_payout,
)
from marketplace.escrow.evm import DevChain

HOUR = 3600


def balance(escrow: ChainEscrow, token: str, who: str) -> int:
    return int(escrow.token(token).functions.balanceOf(who).call())


def funded(chain: DevChain, escrow: ChainEscrow, job: str = "job-1", amount: int = 1_000_000) -> str:
    escrow.fund_job(chain.accounts[0], job, chain.token_address, amount, chain.now() + HOUR, "manifest-v1")
    return job


def test_fund_records_job_and_pulls_tokens(chain: DevChain, escrow: ChainEscrow) -> None:
    requester = chain.accounts[0]
    before = balance(escrow, chain.token_address, requester.address)
    deadline = chain.now() + HOUR
    result = escrow.fund_job(requester, "job-1", chain.token_address, 5_000_000, deadline, "manifest-v1")
    assert result.amount == 5_000_000
    assert result.fund.gas_used > 0 and result.approve.gas_used > 0
    job = escrow.get_job("job-1")
    assert job.status is JobStatus.FUNDED
    assert job.requester == requester.address
    assert job.token == chain.token_address
    assert (job.funded, job.remaining, job.refunded, job.paid) == (5_000_000, 5_000_000, 0, 0)
    assert job.deadline == deadline
    assert job.manifest_hash == as_bytes32("manifest-v1")
    assert balance(escrow, chain.token_address, requester.address) == before - 5_000_000
    assert balance(escrow, chain.token_address, escrow.address) == 5_000_000


def test_funded_events_carry_position(chain: DevChain, escrow: ChainEscrow) -> None:
    start = chain.w3.eth.block_number
    r1 = escrow.fund_job(chain.accounts[0], "a", chain.token_address, 10, chain.now() + HOUR)
    r2 = escrow.fund_job(chain.accounts[1], "b", chain.token_address, 20, chain.now() + HOUR)
    events = escrow.funded_events(start)
    assert [e.args["jobId"] for e in events] == [as_bytes32("a"), as_bytes32("b")]
    assert [e.args["amount"] for e in events] == [10, 20]
    assert [e.tx_hash for e in events] == [r1.fund.tx_hash, r2.fund.tx_hash]
    assert events[1].args["requester"] == chain.accounts[1].address
    assert all(e.block_number > start and e.log_index >= 0 for e in events)
    assert events[0].key == f"{r1.fund.tx_hash}:{events[0].log_index}"
    assert escrow.funded_events(events[0].block_number, events[0].block_number) == events[:1]
    assert list(escrow.iter_funded_events(start, chain.w3.eth.block_number, step=1)) == events


def test_bulk_payout_pays_and_books(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow)
    workers = fresh_addresses(3)
    tx = escrow.bulk_pay_out(job, "payout-1", workers, [100, 200, 300])
    assert tx.gas_used > 0 and tx.tx_hash.startswith("0x")
    assert [balance(escrow, chain.token_address, w) for w in workers] == [100, 200, 300]
    info = escrow.get_job(job)
    assert (info.remaining, info.paid) == (1_000_000 - 600, 600)
    assert escrow.is_payout_done("payout-1")
    assert not escrow.is_payout_done("payout-2")
    (event,) = escrow.events("PayoutBatch", tx.block_number, tx.block_number)
    assert event.args["recipients"] == 3 and event.args["total"] == 600
    assert event.args["remaining"] == 1_000_000 - 600


def test_payout_id_reuse_is_refused_even_on_another_job(chain: DevChain, escrow: ChainEscrow) -> None:
    funded(chain, escrow, "job-1")
    funded(chain, escrow, "job-2")
    workers = fresh_addresses(2)
    escrow.bulk_pay_out("job-1", "p", workers, [1, 1])
    with pytest.raises(EscrowRevert) as err:
        escrow.bulk_pay_out("job-1", "p", workers, [1, 1])
    assert err.value.name == "PayoutAlreadyDone"
    assert err.value.error_args == (as_bytes32("p"),)
    with pytest.raises(EscrowRevert, match="PayoutAlreadyDone"):
        escrow.bulk_pay_out("job-2", "p", workers, [1, 1])
    assert balance(escrow, chain.token_address, workers[0]) == 1


def test_retry_without_simulation_mines_a_failed_tx_and_pays_nothing(
    chain: DevChain, escrow: ChainEscrow
) -> None:
    job = funded(chain, escrow)
    workers = fresh_addresses(1)
    escrow.bulk_pay_out(job, "p", workers, [5])
    raw = chain.escrow(simulate=False)
    with pytest.raises(EscrowTxFailed):
        raw.bulk_pay_out(job, "p", workers, [5])
    assert balance(escrow, chain.token_address, workers[0]) == 5


def test_overpay_is_refused(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow, amount=1000)
    with pytest.raises(EscrowRevert) as err:
        escrow.bulk_pay_out(job, "p", fresh_addresses(2), [600, 401])
    assert err.value.name == "InsufficientRemaining"
    assert err.value.error_args == (as_bytes32(job), 1001, 1000)
    escrow.bulk_pay_out(job, "p", fresh_addresses(2), [600, 400])  # exactly everything is fine
    with pytest.raises(EscrowRevert, match="InsufficientRemaining"):
        escrow.bulk_pay_out(job, "p2", fresh_addresses(1), [1])


@pytest.mark.parametrize(
    ("recipients", "amounts", "name", "index"),
    [
        (["0x" + "00" * 20], [1], "InvalidRecipient", 0),
        (fresh_addresses(3), [1, 1, 0], "InvalidAmount", 2),
        (fresh_addresses(2) + ["0x" + "00" * 20], [1, 1, 1], "InvalidRecipient", 2),
        (fresh_addresses(4), [1, 0, 1, 1], "InvalidAmount", 1),
    ],
)
def test_malformed_batches_are_refused(
    chain: DevChain, escrow: ChainEscrow, recipients: list[str], amounts: list[int], name: str, index: int
) -> None:
    job = funded(chain, escrow)
    packed = pack_payouts(recipients, amounts)
    call = escrow.contract.functions.bulkPayOut(as_bytes32(job), as_bytes32("p"), packed, sum(amounts))
    with pytest.raises(EscrowRevert) as err:
        escrow._send(call, chain.operator, 500_000)
    assert err.value.name == name
    assert err.value.error_args == (index,)
    assert not escrow.is_payout_done("p")
    assert all(balance(escrow, chain.token_address, r) == 0 for r in recipients)


def test_adapter_refuses_mismatched_or_empty_input(escrow: ChainEscrow) -> None:
    with pytest.raises(ValueError, match="differ in length"):
        escrow.bulk_pay_out("job-1", "p", fresh_addresses(2), [1])
    with pytest.raises(ValueError, match="empty"):
        escrow.bulk_pay_out("job-1", "p", [], [])
    with pytest.raises(ValueError, match="negative"):
        escrow.bulk_pay_out("job-1", "p", fresh_addresses(1), [-1])
    with pytest.raises(TypeError):
        escrow.bulk_pay_out("job-1", "p", fresh_addresses(1), [1.5])  # type: ignore[list-item]


def test_empty_batch_refused(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow)
    call = escrow.contract.functions.bulkPayOut(as_bytes32(job), as_bytes32("p"), [], 0)
    with pytest.raises(EscrowRevert, match="EmptyBatch"):
        escrow._send(call, chain.operator, 200_000)


@pytest.mark.parametrize("declared", [0, 5, 7, 10**6])
def test_declared_total_must_match_the_entries(chain: DevChain, escrow: ChainEscrow, declared: int) -> None:
    job = funded(chain, escrow)
    workers = fresh_addresses(2)
    call = escrow.contract.functions.bulkPayOut(
        as_bytes32(job), as_bytes32("p"), pack_payouts(workers, [2, 4]), declared
    )
    with pytest.raises(EscrowRevert) as err:
        escrow._send(call, chain.operator, 500_000)
    assert err.value.name == "BatchTotalMismatch"
    assert err.value.error_args == (declared, 6)
    assert not escrow.is_payout_done("p")
    assert escrow.get_job(job).remaining == 1_000_000
    assert [balance(escrow, chain.token_address, w) for w in workers] == [0, 0]


def test_declared_total_above_remaining_is_refused(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow, amount=1000)
    call = escrow.contract.functions.bulkPayOut(
        as_bytes32(job), as_bytes32("p"), pack_payouts(fresh_addresses(1), [10]), 1001
    )
    with pytest.raises(EscrowRevert) as err:
        escrow._send(call, chain.operator, 500_000)
    assert err.value.name == "InsufficientRemaining"
    assert err.value.error_args == (as_bytes32(job), 1001, 1000)


def test_packing_matches_the_contract(escrow: ChainEscrow) -> None:
    for recipient, amount in zip(fresh_addresses(3), [1, 2_500_000, MAX_PACKED_AMOUNT], strict=True):
        packed = pack_payout(recipient, amount)
        assert escrow.contract.functions.packPayout(recipient, amount).call() == packed
        assert unpack_payout(packed) == (recipient, amount)
    with pytest.raises(ValueError, match="96 bits"):
        pack_payout(fresh_addresses(1)[0], MAX_PACKED_AMOUNT + 1)


def test_pack_payouts_splits_amounts_above_96_bits() -> None:
    a, b = fresh_addresses(2)
    big = 2 * MAX_PACKED_AMOUNT + 7
    entries = [unpack_payout(e) for e in pack_payouts([a, b, a], [5, big, MAX_PACKED_AMOUNT])]
    assert entries == [
        (a, 5),
        (b, MAX_PACKED_AMOUNT),
        (b, MAX_PACKED_AMOUNT),
        (b, 7),
        (a, MAX_PACKED_AMOUNT),
    ]
    with pytest.raises(ValueError, match="too large"):
        pack_payouts([a], [2**256 - 1])


def test_payout_above_96_bits_is_split_and_paid(chain: DevChain, escrow: ChainEscrow) -> None:
    requester = chain.accounts[0]
    erc20 = escrow.token(chain.token_address)
    escrow._send(erc20.functions.mint(requester.address, 10**30), chain.admin, 100_000)
    escrow.fund_job(requester, "big", chain.token_address, 10**30, chain.now() + HOUR)
    worker, other = fresh_addresses(2)
    big = 3 * MAX_PACKED_AMOUNT + 11
    tx = escrow.bulk_pay_out("big", "p", [worker, other], [big, 1])
    assert balance(escrow, chain.token_address, worker) == big
    assert balance(escrow, chain.token_address, other) == 1
    (event,) = escrow.events("PayoutBatch", tx.block_number, tx.block_number)
    assert event.args["recipients"] == 5 and event.args["total"] == big + 1  # entries, not workers
    assert escrow.get_job("big").remaining == 10**30 - big - 1


@pytest.mark.parametrize(
    ("mode", "error"),
    [(0, None), (1, None), (2, "SafeERC20FailedOperation"), (3, "Quirk")],
    ids=["returns-true", "returns-nothing", "returns-false", "reverts"],
)
def test_payout_keeps_safe_erc20_rules_for_odd_tokens(
    chain: DevChain, escrow: ChainEscrow, mode: int, error: str | None
) -> None:
    requester = chain.accounts[0]
    token, _ = deploy_contract(chain.w3, chain.admin, "QuirkyToken", gas=2_000_000)
    quirky = chain.w3.eth.contract(address=token, abi=escrow.token(token).abi + _quirky_abi())
    escrow._send(quirky.functions.mint(requester.address, 10**6), chain.admin, 100_000)
    escrow.fund_job(requester, "odd", token, 10**6, chain.now() + HOUR)
    escrow._send(quirky.functions.setMode(mode), chain.admin, 100_000)
    workers = fresh_addresses(3)
    if error is None:
        escrow.bulk_pay_out("odd", "p", workers, [1, 2, 3])
        assert [balance(escrow, token, w) for w in workers] == [1, 2, 3]
        assert balance(escrow, token, escrow.address) == escrow.get_job("odd").remaining == 10**6 - 6
        return
    with pytest.raises(EscrowRevert) as err:
        escrow.bulk_pay_out("odd", "p", workers, [1, 2, 3])
    assert err.value.name == error
    if error == "SafeERC20FailedOperation":
        assert err.value.error_args == (token.lower(),)
    assert not escrow.is_payout_done("p")
    assert balance(escrow, token, escrow.address) == escrow.get_job("odd").remaining == 10**6


def _quirky_abi() -> list[dict[str, object]]:
    from marketplace.escrow.chain import load_artifact

    return [item for item in load_artifact("QuirkyToken")["abi"] if item.get("name") == "setMode"]


def test_only_operator_pays_stores_completes_cancels(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow)
    stranger = ChainEscrow(chain.w3, escrow.address, chain.accounts[3])
    requester_as_operator = ChainEscrow(chain.w3, escrow.address, chain.accounts[0])
    for adapter in (stranger, requester_as_operator):
        for action in (
            lambda a: a.bulk_pay_out(job, "p", fresh_addresses(1), [1]),
            lambda a: a.store_results(job, "s3://b/r.json", "h"),
            lambda a: a.complete(job),
            lambda a: a.cancel(job),
        ):
            with pytest.raises(EscrowRevert) as err:
                action(adapter)
            assert err.value.name == "AccessControlUnauthorizedAccount"
    assert escrow.get_job(job).status is JobStatus.FUNDED
    # The admin can grant the role; then the new operator can pay.
    role = escrow.contract.functions.OPERATOR_ROLE().call()
    escrow._send(escrow.contract.functions.grantRole(role, chain.accounts[3].address), chain.admin, 100_000)
    assert escrow.has_role("OPERATOR_ROLE", chain.accounts[3].address)
    stranger.bulk_pay_out(job, "p", fresh_addresses(1), [1])


def test_double_fund_refused(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow)
    with pytest.raises(EscrowRevert) as err:
        escrow.fund_job(chain.accounts[1], job, chain.token_address, 5, chain.now() + HOUR)
    assert err.value.name == "JobAlreadyExists"
    assert escrow.get_job(job).requester == chain.accounts[0].address


def test_fund_validation(chain: DevChain, escrow: ChainEscrow) -> None:
    requester = chain.accounts[0]
    with pytest.raises(EscrowRevert, match="InvalidDeadline"):
        escrow.fund_job(requester, "j", chain.token_address, 5, chain.now())
    with pytest.raises(EscrowRevert, match="ZeroAmount"):
        escrow.fund_job(requester, "j", chain.token_address, 0, chain.now() + HOUR)
    with pytest.raises(TypeError):
        escrow.fund_job(requester, "j", chain.token_address, 5.0, chain.now() + HOUR)  # type: ignore[arg-type]
    # Not enough allowance: the token's own error comes back, decoded.
    call = escrow.contract.functions.fund(
        as_bytes32("j"), chain.token_address, 10**40, chain.now() + HOUR, b"\0" * 32
    )
    with pytest.raises(EscrowRevert, match="ERC20InsufficientAllowance"):
        escrow._send(call, requester, 300_000)


def test_store_results(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow)
    url = "s3://tilework-results/job-1/coco.json?" + "x" * 100
    tx = escrow.store_results(job, url, "0x" + "ab" * 32)
    info = escrow.get_job(job)
    assert info.results_url == url and info.results_hash == b"\xab" * 32
    (event,) = escrow.events("ResultsStored", tx.block_number)
    assert event.args["url"] == url


def test_complete_refunds_remainder(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow, amount=1000)
    requester = chain.accounts[0].address
    escrow.bulk_pay_out(job, "p", fresh_addresses(1), [300])
    before = balance(escrow, chain.token_address, requester)
    tx = escrow.complete(job)
    info = escrow.get_job(job)
    assert info.status is JobStatus.COMPLETED
    assert (info.funded, info.paid, info.refunded, info.remaining) == (1000, 300, 700, 0)
    assert balance(escrow, chain.token_address, requester) == before + 700
    assert balance(escrow, chain.token_address, escrow.address) == 0
    (event,) = escrow.events("JobCompleted", tx.block_number)
    assert event.args["refund"] == 700


def test_complete_when_fully_paid_refunds_nothing(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow, amount=10)
    escrow.bulk_pay_out(job, "p", fresh_addresses(2), [4, 6])
    escrow.complete(job)
    info = escrow.get_job(job)
    assert (info.status, info.refunded, info.paid) == (JobStatus.COMPLETED, 0, 10)


def test_cancel_refunds_everything(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow, amount=1000)
    requester = chain.accounts[0].address
    before = balance(escrow, chain.token_address, requester)
    escrow.cancel(job)
    info = escrow.get_job(job)
    assert (info.status, info.refunded, info.remaining) == (JobStatus.CANCELLED, 1000, 0)
    assert balance(escrow, chain.token_address, requester) == before + 1000


def test_reclaim_only_after_deadline_and_only_by_requester(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow, amount=1000)
    requester, other = chain.accounts[0], chain.accounts[1]
    escrow.bulk_pay_out(job, "p", fresh_addresses(1), [100])
    with pytest.raises(EscrowRevert) as err:
        escrow.reclaim(requester, job)
    assert err.value.name == "DeadlineNotReached"
    chain.time_travel(HOUR + 1)
    with pytest.raises(EscrowRevert) as err:
        escrow.reclaim(other, job)
    assert err.value.name == "NotRequester"
    with pytest.raises(EscrowRevert) as err:
        escrow.reclaim(chain.operator, job)
    assert err.value.name == "NotRequester"
    # Past the deadline the platform can no longer pay, so the requester's right cannot be raced.
    with pytest.raises(EscrowRevert, match="DeadlinePassed"):
        escrow.bulk_pay_out(job, "p2", fresh_addresses(1), [1])
    before = balance(escrow, chain.token_address, requester.address)
    tx = escrow.reclaim(requester, job)
    info = escrow.get_job(job)
    assert (info.status, info.refunded, info.paid) == (JobStatus.RECLAIMED, 900, 100)
    assert balance(escrow, chain.token_address, requester.address) == before + 900
    (event,) = escrow.events("JobReclaimed", tx.block_number)
    assert event.args["refund"] == 900


@pytest.mark.parametrize("closer", ["complete", "cancel", "reclaim"])
def test_closed_job_refuses_everything(chain: DevChain, escrow: ChainEscrow, closer: str) -> None:
    job = funded(chain, escrow, amount=1000)
    requester = chain.accounts[0]
    if closer == "reclaim":
        chain.time_travel(HOUR + 1)
        escrow.reclaim(requester, job)
    else:
        getattr(escrow, closer)(job)
    actions = {
        "pay": lambda: escrow.bulk_pay_out(job, "late", fresh_addresses(1), [1]),
        "store": lambda: escrow.store_results(job, "u", "h"),
        "complete": lambda: escrow.complete(job),
        "cancel": lambda: escrow.cancel(job),
        "reclaim": lambda: escrow.reclaim(requester, job),
        "refund": lambda: escrow.fund_job(requester, job, chain.token_address, 5, chain.now() + HOUR),
    }
    for name, action in actions.items():
        if name == "store" and closer == "complete":
            continue  # a completed job's results may still be recorded (test_store_results_after_completion)
        with pytest.raises(EscrowRevert) as err:
            action()
        expected = {"refund": "JobAlreadyExists", "store": "ResultsRefused"}.get(name, "JobNotFunded")
        assert err.value.name == expected, name


def test_store_results_after_completion(chain: DevChain, escrow: ChainEscrow) -> None:
    """The export follows the last acceptance (and a reviewer's fix re-exports): the operator records
    the results of a completed job, and may replace them; the money stays where it was."""
    job = funded(chain, escrow, amount=1000)
    escrow.complete(job)
    escrow.store_results(job, "https://t.example/api/jobs/1/results", "0x" + "01" * 32)
    escrow.store_results(job, "https://t.example/api/jobs/1/results", "0x" + "02" * 32)
    info = escrow.get_job(job)
    assert info.status is JobStatus.COMPLETED and info.results_hash == b"\x02" * 32
    assert (info.remaining, info.refunded) == (0, 1000)
    with pytest.raises(EscrowRevert) as err:
        escrow.store_results("never-funded", "u", "h")
    assert err.value.name == "ResultsRefused"


def test_unknown_job_refuses_operator_actions(escrow: ChainEscrow) -> None:
    with pytest.raises(EscrowRevert) as err:
        escrow.complete("nope")
    assert err.value.name == "JobNotFunded"
    assert escrow.get_job("nope").status is JobStatus.NONE


def test_batched_payout_reconciles_on_retry(chain: DevChain, escrow: ChainEscrow) -> None:
    job = funded(chain, escrow, amount=10**6)
    workers = fresh_addresses(25)
    amounts = [1000 + i for i in range(25)]
    small = chain.escrow(batch_size=10)
    # Simulate a crash after the first batch went through: send batch 0 by hand.
    small.bulk_pay_out(job, batch_payout_id("final-payout", 0), workers[:10], amounts[:10])
    results = small.pay_out(job, "final-payout", workers, amounts)
    assert [r.recipients for r in results] == [10, 10, 5]
    assert results[0].tx is None and all(r.tx is not None for r in results[1:])
    assert [balance(escrow, chain.token_address, w) for w in workers] == amounts
    again = small.pay_out(job, "final-payout", workers, amounts)
    assert all(r.tx is None for r in again)
    assert escrow.get_job(job).paid == sum(amounts)


def test_fee_on_transfer_token_records_received_amount(
    chain: DevChain, escrow: ChainEscrow, fee_token: str
) -> None:
    requester = chain.accounts[0]
    result = escrow.fund_job(requester, "fee-job", fee_token, 10_000, chain.now() + HOUR)
    assert result.amount == 9_900  # 1% burnt on the way in
    info = escrow.get_job("fee-job")
    assert info.funded == info.remaining == 9_900
    assert balance(escrow, fee_token, escrow.address) == 9_900
    # Paying out moves exactly the booked amount out of the vault (the worker receives 1% less).
    worker = fresh_addresses(1)[0]
    escrow.bulk_pay_out("fee-job", "p", [worker], [5_000])
    assert balance(escrow, fee_token, worker) == 4_950
    assert balance(escrow, fee_token, escrow.address) == 4_900 == escrow.get_job("fee-job").remaining
    escrow.cancel("fee-job")
    assert balance(escrow, fee_token, escrow.address) == 0
    info = escrow.get_job("fee-job")
    assert info.funded == info.paid + info.refunded


def test_jobs_on_several_tokens_are_isolated(chain: DevChain, escrow: ChainEscrow, fee_token: str) -> None:
    funded(chain, escrow, "plain", amount=1000)
    escrow.fund_job(chain.accounts[1], "fee", fee_token, 1000, chain.now() + HOUR)
    escrow.cancel("plain")
    assert balance(escrow, chain.token_address, escrow.address) == 0
    assert balance(escrow, fee_token, escrow.address) == 990
