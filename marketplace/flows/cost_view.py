"""What a job costs, split the way a requester decides: work, the GT inside it, extra overlap, review.

Expected (from the budget, before any work: GT at its most, every worker new, and at its least, every
worker trusted; the dynamic-overlap reserve) and actual (from the accepted work so far, at the pay per
assignment frozen when the job was funded). Review is counted, not priced: reviewers are not paid from
the bounty.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.assignments import overlap_repository as overlap_repo
from marketplace.assignments.exposure import gt_exposure
from marketplace.config import Settings
from marketplace.jobs import economics
from marketplace.jobs.schemas import ActualCostsOut, CostsOut, ExpectedCostsOut, GtExposureOut
from marketplace.jobs.service import get_job_for
from marketplace.models import User
from marketplace.payments import repository as payments_repo
from marketplace.reviews import service as reviews


def job_costs(session: Session, user: User, job_id: int, settings: Settings) -> CostsOut:
    job = get_job_for(session, user, job_id)
    funding = payments_repo.funding_for_job(session, job.id)
    fee_bps = settings.platform_fee_bps
    plan = economics.budget(job.bounty_amount, fee_bps, *job.work_units, job.overlap_cap)
    pay = funding.pay_per_assignment if funding is not None else plan.pay_per_assignment
    expected = economics.expected_costs(
        plan, job.overlap, job.assignment_size, job.gt_per_assignment, job.gt_spot_check
    )
    normal, extra, gt_items, work_items = overlap_repo.accepted_work(session, job.id)
    paid = (normal + extra) * pay
    shown = gt_items + work_items
    low_agreement = reviews.dispute_counts(session, job.id).get("low_agreement", {})
    exposure = gt_exposure(plan.chunks, job.overlap, job.gt_per_assignment, job.gt_spot_check, job.gt_count)
    return CostsOut(
        job_id=job.id,
        currency=job.currency,
        pay_per_assignment=str(pay),
        expected=ExpectedCostsOut.of(expected, job.gt_per_assignment, job.assignment_size, job.gt_spot_check),
        actual=ActualCostsOut(
            assignments=normal,
            extra_overlap_assignments=extra,
            paid=str(paid),
            gt_items=gt_items,
            work_items=work_items,
            gt_share=round(gt_items / shown, 4) if shown else 0.0,
            gt_cost=str(paid * gt_items // shown if shown else 0),
            extra_overlap_cost=str(extra * pay),
            reviews=sum(low_agreement.values()),
        ),
        gt_exposure=GtExposureOut(**vars(exposure)),
    )
