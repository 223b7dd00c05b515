"""Moves of a job that other domains trigger (funding activates it; the last acceptance completes it)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.jobs.states import transition
from marketplace.models import Job, JobStatus


def activate_job(session: Session, job: Job) -> None:
    """Called once the job's money is secured (payments): open it for work."""
    transition(job, JobStatus.active)
    from marketplace.assignments.service import open_job_for_work  # the assignments domain imports jobs

    open_job_for_work(session, job)
