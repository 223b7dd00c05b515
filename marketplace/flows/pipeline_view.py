"""The pipeline manager's view of its people: per stage, each annotator's accepted and rejected
work, time per item and working time, the items credited to them and the issues that came back;
each QA worker's decisions and hidden checks caught. Reads only."""

from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.assignments import progress_repository as progress_repo
from marketplace.models import IssueStatus, StageKind, User
from marketplace.pipelines import repository as repo
from marketplace.pipelines import service
from marketplace.pipelines.schemas import StageWorkerOut


def stage_workers(session: Session, user: User, pipeline_id: int) -> list[StageWorkerOut]:
    pipeline = service.get_pipeline_for(session, user, pipeline_id)
    out: list[StageWorkerOut] = []
    for job in repo.stage_jobs(session, pipeline.id):
        if job.stage_kind == StageKind.qa.value:
            decisions = repo.qa_decisions_by_worker(session, pipeline.id)
            checks = repo.checks_by_worker(session, pipeline.id)
            for worker_id in sorted(set(decisions) | set(checks)):
                seen, caught = checks.get(worker_id, (0, 0))
                out.append(
                    StageWorkerOut(
                        stage_job_id=job.id,
                        worker_id=worker_id,
                        role="qa",
                        items=decisions.get(worker_id, 0),
                        checks=seen,
                        checks_caught=caught,
                        stopped=worker_id in (pipeline.qa_banned or []),
                    )
                )
            continue
        work = progress_repo.work_by_worker(session, job.id)
        credited = repo.credited_items(session, job.id)
        issues = repo.issue_counts_by_assignee(session, job.id)
        for worker_id in sorted(set(work) | set(credited) | set(issues)):
            w = work.get(worker_id, {"accepted": 0, "rejected": 0, "items": 0, "seconds": 0.0})
            mine = issues.get(worker_id, {})
            out.append(
                StageWorkerOut(
                    stage_job_id=job.id,
                    worker_id=worker_id,
                    role="annotator",
                    assignments_accepted=w["accepted"],
                    assignments_rejected=w["rejected"],
                    items=w["items"],
                    seconds_working=round(w["seconds"], 1),
                    seconds_per_item=round(w["seconds"] / w["items"], 2) if w["items"] else None,
                    items_credited=credited.get(worker_id, 0),
                    issues_open=mine.get(IssueStatus.open.value, 0),
                    issues_fixed=mine.get(IssueStatus.fixed.value, 0)
                    + mine.get(IssueStatus.resolved.value, 0),
                )
            )
    return out
