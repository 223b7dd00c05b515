"""Integer arithmetic for a job's money: fee, pay per assignment, remainder. Never floats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from marketplace.errors import InvalidInput

BPS = 10_000


@dataclass(frozen=True)
class JobBudget:
    bounty: int
    fee: int
    chunks: int
    overlap: int
    pay_per_assignment: int

    @property
    def payable_assignments(self) -> int:
        return self.chunks * self.overlap

    @property
    def remainder(self) -> int:
        """What is left over after paying every assignment once; refunded to the requester."""
        return self.bounty - self.fee - self.pay_per_assignment * self.payable_assignments


def chunk_count(data_images: int, assignment_size: int) -> int:
    return -(-data_images // assignment_size)


def platform_fee(bounty: int, fee_bps: int) -> int:
    return bounty * fee_bps // BPS


def budget(bounty: int, fee_bps: int, data_images: int, assignment_size: int, overlap: int) -> JobBudget:
    fee = platform_fee(bounty, fee_bps)
    chunks = chunk_count(data_images, assignment_size)
    per = (bounty - fee) // (chunks * overlap) if chunks else 0
    return JobBudget(bounty=bounty, fee=fee, chunks=chunks, overlap=overlap, pay_per_assignment=per)


def minimum_bounty(fee_bps: int, chunks: int, overlap: int) -> int:
    """The smallest bounty that pays every assignment at least one unit after the fee."""
    needed = chunks * overlap
    bounty = needed
    while (bounty - platform_fee(bounty, fee_bps)) < needed:
        bounty += max(1, needed - (bounty - platform_fee(bounty, fee_bps)))
    return bounty


def require_payable(
    bounty: int,
    fee_bps: int,
    units: int,
    size: int,
    cap: int,
    *,
    what: Callable[[JobBudget], str],
    field: str,
    noun: str = "a bounty",
) -> JobBudget:
    """The budget of ``units`` items cut into ``size`` per assignment, each issued up to ``cap`` times;
    a 422 on ``field`` when it cannot pay every assignment one base unit after the fee, saying
    ``what`` it had to pay and the smallest bounty that would."""
    plan = budget(bounty, fee_bps, units, size, cap)
    if plan.pay_per_assignment < 1:
        raise InvalidInput(
            f"{noun} of {bounty} cannot pay {what(plan)} after the platform fee; "
            f"the minimum is {minimum_bounty(fee_bps, plan.chunks, cap)}",
            field=field,
        )
    return plan


@dataclass(frozen=True)
class ExpectedCosts:
    """What a job's bounty is expected to buy, in its currency's base units (integers)."""

    work: int  # the normal assignments' pay, GT slots included
    gt: int  # the part of ``work`` that pays for GT slots if every worker stays new (the most)
    gt_trusted: int  # ... if every worker is trusted (the spot-check share)
    extra_overlap_reserve: int  # dynamic overlap: refunded when not spent
    fee: int
    remainder: int  # rounding, refunded


def expected_costs(
    plan: JobBudget, overlap: int, size: int, gt_slots: int, spot_check: float
) -> ExpectedCosts:
    """Split ``plan`` (made for ``plan.overlap`` = the cap) into normal work, its GT part, and the reserve."""
    normal = plan.chunks * overlap * plan.pay_per_assignment
    slots = size + gt_slots
    return ExpectedCosts(
        work=normal,
        gt=normal * gt_slots // slots if slots else 0,
        gt_trusted=int(normal * gt_slots * spot_check) // slots if slots else 0,
        extra_overlap_reserve=plan.chunks * (plan.overlap - overlap) * plan.pay_per_assignment,
        fee=plan.fee,
        remainder=plan.remainder,
    )
