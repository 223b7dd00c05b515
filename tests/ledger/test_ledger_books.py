"""The double-entry ledger: balanced transactions, idempotency, no overdraft, the per-job invariant."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.ledger import service as ledger
from marketplace.ledger.service import LedgerError, Line
from marketplace.models import AccountType, EntryKind, Role
from tests.payments.paytools import add_job, add_user, sqlite_session_factory


def _movements(session, job, requester, w1, w2) -> None:  # type: ignore[no-untyped-def]
    ledger.record_funding(
        session, job_id=job.id, requester_id=requester.id, currency="usd", amount=10_000, idem_key="fund"
    )
    ledger.record_fee(session, job_id=job.id, currency="usd", amount=500, idem_key="fee")
    ledger.record_earning(session, job_id=job.id, worker_id=w1.id, currency="usd", amount=950, idem_key="e1")
    ledger.record_earning(session, job_id=job.id, worker_id=w2.id, currency="usd", amount=950, idem_key="e2")
    ledger.record_payout(session, job_id=job.id, worker_id=w1.id, currency="usd", amount=950, idem_key="p1")
    ledger.record_refund(
        session, job_id=job.id, requester_id=requester.id, currency="usd", amount=1000, idem_key="r1"
    )


def test_books_on_postgres(settings: Settings) -> None:
    with session_factory(settings)() as session:
        requester = add_user(session, Role.requester)
        w1, w2 = add_user(session), add_user(session)
        job = add_job(session, requester)
        _movements(session, job, requester, w1, w2)
        # Replays are no-ops.
        _movements(session, job, requester, w1, w2)
        books = ledger.check_balanced(session, job.id)
        assert (books.funded, books.fees, books.paid, books.refunded) == (10_000, 500, 950, 1000)
        assert books.payable == 950 and books.unearned == 10_000 - 500 - 1900 - 1000
        assert books.held == books.unearned + books.payable
        assert ledger.payable_by_worker(session, job.id) == {w2.id: 950}
        assert ledger.paid_by_worker(session, job.id) == {w1.id: 950}
        with pytest.raises(LedgerError):
            ledger.record_payout(
                session, job_id=job.id, worker_id=w1.id, currency="usd", amount=1, idem_key="p1-again"
            )
        with pytest.raises(LedgerError):
            ledger.record_refund(
                session,
                job_id=job.id,
                requester_id=requester.id,
                currency="usd",
                amount=books.unearned + 1,
                idem_key="r-too-much",
            )
        session.commit()
        # Append-only at the database: updates and deletes are refused.
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("UPDATE ledger_entries SET amount = 0"))
        session.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("DELETE FROM ledger_transactions"))
        session.rollback()


def test_unbalanced_and_float_refused(settings: Settings) -> None:
    with session_factory(settings)() as session:
        requester = add_user(session, Role.requester)
        job = add_job(session, requester)
        with pytest.raises(ValueError, match="unbalanced"):
            ledger.post(
                session,
                idem_key="x",
                kind=EntryKind.funding,
                job_id=job.id,
                currency="usd",
                lines=[Line(AccountType.job_escrow, 5), Line(AccountType.requester, -4, requester.id)],
            )
        with pytest.raises(TypeError):
            ledger.record_funding(
                session, job_id=job.id, requester_id=requester.id, currency="usd", amount=1.5, idem_key="f"
            )  # type: ignore[arg-type]
        session.rollback()


def test_huge_token_amounts_roundtrip(settings: Settings) -> None:
    big = 2**255 + 12345
    with session_factory(settings)() as session:
        requester = add_user(session, Role.requester)
        job = add_job(session, requester, rail="chain", currency="tUSD")  # type: ignore[arg-type]
        ledger.record_funding(
            session, job_id=job.id, requester_id=requester.id, currency="tUSD", amount=big, idem_key="big"
        )
        ledger.record_fee(session, job_id=job.id, currency="tUSD", amount=big // 20, idem_key="bigfee")
        books = ledger.check_balanced(session, job.id)
        assert books.funded == big and books.unearned == big - big // 20
        session.rollback()


_tmp = Path(tempfile.mkdtemp(prefix="tw-ledger-"))
_factory = sqlite_session_factory(_tmp)

op = st.one_of(
    st.tuples(st.just("earn"), st.integers(0, 3), st.integers(1, 3000)),
    st.tuples(st.just("pay"), st.integers(0, 3), st.integers(1, 3000)),
    st.tuples(st.just("refund"), st.just(0), st.integers(1, 5000)),
    st.tuples(st.just("fee"), st.just(0), st.integers(1, 2000)),
    st.tuples(st.just("replay"), st.integers(0, 50), st.just(0)),
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(funded=st.integers(1, 20_000), ops=st.lists(op, max_size=25))
def test_invariant_holds_for_any_sequence(funded: int, ops: list[tuple[str, int, int]]) -> None:
    """Whatever happens, funded = fees + paid + refunded + held, every line set sums to zero, no
    account but the requester's is ever negative, and balances match a plain model."""
    with _factory() as session:
        requester = add_user(session, Role.requester)
        workers = [add_user(session) for _ in range(4)]
        job = add_job(session, requester)
        ledger.record_funding(
            session,
            job_id=job.id,
            requester_id=requester.id,
            currency="usd",
            amount=funded,
            idem_key=f"j{job.id}:fund",
        )
        model = {"unearned": funded, "fees": 0, "refunded": 0, "payable": [0] * 4, "paid": [0] * 4}
        done: list[tuple[str, str, int, int]] = []  # (key, kind, who, amount) of every created posting
        for i, (kind, who, amount) in enumerate(ops):
            key = f"j{job.id}:{i}"
            if kind == "replay":
                if not done:
                    continue
                key, kind, who, amount = done[who % len(done)]
            try:
                created = _apply(session, kind, key, job.id, requester.id, workers[who].id, amount)
            except LedgerError:
                continue
            if not created:
                continue
            done.append((key, kind, who, amount))
            if kind == "earn":
                model["unearned"] -= amount  # type: ignore[operator]
                model["payable"][who] += amount  # type: ignore[index]
            elif kind == "pay":
                model["payable"][who] -= amount  # type: ignore[index]
                model["paid"][who] += amount  # type: ignore[index]
            elif kind == "refund":
                model["unearned"] -= amount  # type: ignore[operator]
                model["refunded"] += amount  # type: ignore[operator]
            else:
                model["unearned"] -= amount  # type: ignore[operator]
                model["fees"] += amount  # type: ignore[operator]
            books = ledger.check_balanced(session, job.id)
            assert books.unearned == model["unearned"] >= 0
            assert books.fees == model["fees"] and books.refunded == model["refunded"]
            assert ledger.payable_by_worker(session, job.id) == {
                workers[k].id: v
                for k, v in enumerate(model["payable"])
                if v  # type: ignore[arg-type]
            }
            assert books.paid == sum(model["paid"])  # type: ignore[arg-type]
        books = ledger.check_balanced(session, job.id)
        assert books.funded == funded
        assert all(b >= 0 for b in ledger.payable_by_worker(session, job.id).values())
        session.rollback()


def _apply(session, kind: str, key: str, job_id: int, requester_id: int, worker_id: int, amount: int) -> bool:  # type: ignore[no-untyped-def]
    if kind == "earn":
        return ledger.record_earning(
            session, job_id=job_id, worker_id=worker_id, currency="usd", amount=amount, idem_key=key
        )[1]
    if kind == "pay":
        return ledger.record_payout(
            session, job_id=job_id, worker_id=worker_id, currency="usd", amount=amount, idem_key=key
        )[1]
    if kind == "refund":
        return ledger.record_refund(
            session, job_id=job_id, requester_id=requester_id, currency="usd", amount=amount, idem_key=key
        )[1]
    return ledger.record_fee(session, job_id=job_id, currency="usd", amount=amount, idem_key=key)[1]
