"""The SQL of pipelines, their items, stage work, issues and history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, or_, select
from sqlalchemy.orm import Session

from marketplace.models import (
    IssueStatus,
    ItemEvent,
    ItemIssue,
    ItemStageWork,
    ItemStatus,
    Job,
    JobImage,
    JobStatus,
    Pipeline,
    PipelineItem,
    PipelineStatus,
    QaCheck,
)

#: the events that record a QA decision on a data item
DECISIONS = ("approve", "discard", "issue", "reopen", "route")


def add(session: Session, *rows: Any) -> None:
    session.add_all(rows)
    session.flush()


def get_pipeline(session: Session, pipeline_id: int, *, for_update: bool = False) -> Pipeline | None:
    stmt = select(Pipeline).where(Pipeline.id == pipeline_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def list_pipelines(session: Session, requester_id: int | None, limit: int, offset: int) -> list[Pipeline]:
    stmt = select(Pipeline).order_by(Pipeline.id.desc()).limit(limit).offset(offset)
    if requester_id is not None:
        stmt = stmt.where(Pipeline.requester_id == requester_id)
    return list(session.scalars(stmt))


def job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def stage_jobs(session: Session, pipeline_id: int) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.pipeline_id == pipeline_id).order_by(Job.stage_index)))


def image_names(session: Session, job_id: int) -> list[tuple[str, bool]]:
    """(name, is GT) of a job's images."""
    stmt = select(JobImage.name, JobImage.is_gt).where(JobImage.job_id == job_id).order_by(JobImage.id)
    return [(n, bool(g)) for n, g in session.execute(stmt).tuples()]


def add_check_result(session: Session, row: QaCheck) -> None:
    session.add(row)
    session.flush()


def decision_count(session: Session, pipeline_ids: Sequence[int], worker_id: int) -> int:
    """A QA worker's decisions on these pipelines' data items, plus their hidden checks (one query)."""
    data = (
        select(func.count())
        .select_from(ItemEvent)
        .join(PipelineItem, PipelineItem.id == ItemEvent.item_id)
        .where(
            PipelineItem.pipeline_id.in_(pipeline_ids),
            ItemEvent.actor_id == worker_id,
            ItemEvent.event.in_(DECISIONS),
        )
        .scalar_subquery()
    )
    checks = (
        select(func.count())
        .select_from(QaCheck)
        .where(QaCheck.pipeline_id.in_(pipeline_ids), QaCheck.worker_id == worker_id)
        .scalar_subquery()
    )
    return int(session.scalar(select(data + checks)) or 0)


def count_checks(session: Session, pipeline_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(PipelineItem)
        .where(PipelineItem.pipeline_id == pipeline_id, PipelineItem.is_check.is_(True))
    )
    return int(session.scalar(stmt) or 0)


def check_results(session: Session, pipeline_id: int, worker_id: int | None = None) -> list[bool]:
    """Hidden-check outcomes (caught or not) in order, of one QA worker or of everyone."""
    stmt = select(QaCheck.caught).where(QaCheck.pipeline_id == pipeline_id).order_by(QaCheck.id)
    if worker_id is not None:
        stmt = stmt.where(QaCheck.worker_id == worker_id)
    return [bool(c) for c in session.scalars(stmt)]


def decided_by(session: Session, pipeline_id: int, worker_id: int) -> list[PipelineItem]:
    """Data items a QA worker approved, discarded or holds, locked."""
    stmt = (
        select(PipelineItem)
        .where(
            PipelineItem.pipeline_id == pipeline_id,
            PipelineItem.qa_worker_id == worker_id,
            PipelineItem.is_check.is_(False),
            PipelineItem.status.in_([ItemStatus.approved, ItemStatus.discarded, ItemStatus.reviewing]),
        )
        .order_by(PipelineItem.id)
        .with_for_update()
    )
    return list(session.scalars(stmt))


def delete_items(session: Session, items: Sequence[PipelineItem]) -> None:
    for item in items:
        session.delete(item)
    session.flush()


def add_items(session: Session, pipeline_id: int, names: Sequence[tuple[str, bool]]) -> None:
    """Items ``(name, is a hidden check)`` in the order given (ids follow it)."""
    if names:
        session.execute(
            insert(PipelineItem),
            [
                {
                    "pipeline_id": pipeline_id,
                    "name": n,
                    "is_check": check,
                    "status": ItemStatus.annotating.value,
                }
                for n, check in names
            ],
        )


def items(session: Session, pipeline_id: int, status: ItemStatus | None = None) -> list[PipelineItem]:
    stmt = select(PipelineItem).where(PipelineItem.pipeline_id == pipeline_id).order_by(PipelineItem.id)
    if status is not None:
        stmt = stmt.where(PipelineItem.status == status)
    return list(session.scalars(stmt))


def item(session: Session, item_id: int, *, for_update: bool = False) -> PipelineItem | None:
    stmt = select(PipelineItem).where(PipelineItem.id == item_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def add_work(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(ItemStageWork), list(rows))


def completed_stages_without_work(session: Session, limit: int = 20) -> list[Job]:
    """Completed annotate stages of pipelines still annotating whose work is not on the items."""
    merged = exists().where(ItemStageWork.job_id == Job.id)
    stmt = (
        select(Job)
        .join(Pipeline, Pipeline.id == Job.pipeline_id)
        .where(
            Job.stage_kind == "annotate",
            Job.status == JobStatus.completed,
            Pipeline.status == PipelineStatus.annotating,
            ~merged,
        )
        .order_by(Job.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def stage_has_work(session: Session, job_id: int) -> bool:
    return bool(session.scalar(select(exists().where(ItemStageWork.job_id == job_id))))


def work_of_item(session: Session, item_id: int) -> list[tuple[ItemStageWork, Job]]:
    stmt = (
        select(ItemStageWork, Job)
        .join(Job, Job.id == ItemStageWork.job_id)
        .where(ItemStageWork.item_id == item_id)
        .order_by(Job.stage_index)
    )
    return [(w, j) for w, j in session.execute(stmt).tuples()]


def work(session: Session, item_id: int, job_id: int, *, for_update: bool = False) -> ItemStageWork | None:
    stmt = select(ItemStageWork).where(ItemStageWork.item_id == item_id, ItemStageWork.job_id == job_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def image(session: Session, image_id: int) -> JobImage | None:
    return session.get(JobImage, image_id)


def stage_annotators(session: Session, job_id: int) -> list[int]:
    """Workers credited with some of an annotate stage's work on data items (who can take over an
    overdue fix)."""
    return list(
        session.scalars(
            select(ItemStageWork.annotator_id)
            .join(PipelineItem, PipelineItem.id == ItemStageWork.item_id)
            .where(
                ItemStageWork.job_id == job_id,
                ItemStageWork.annotator_id.is_not(None),
                PipelineItem.is_check.is_(False),
            )
            .distinct()
            .order_by(ItemStageWork.annotator_id)
        )
    )


def qa_pipelines(session: Session) -> list[tuple[Pipeline, Job]]:
    """Pipelines whose QA stage is open: the pipeline reviewing, its QA job active."""
    stmt = (
        select(Pipeline, Job)
        .join(Job, and_(Job.pipeline_id == Pipeline.id, Job.stage_kind == "qa"))
        .where(Pipeline.status == PipelineStatus.reviewing, Job.status == JobStatus.active)
        .order_by(Pipeline.id)
    )
    return [(p, j) for p, j in session.execute(stmt).tuples()]


def next_for_qa(
    session: Session,
    pipeline_ids: Sequence[int],
    worker_id: int,
    now: datetime,
    stopped: Sequence[int],
    *,
    check_first: bool,
) -> PipelineItem | None:
    """The item a QA worker gets next, locked: an item whose fixes wait for this worker (or for a QA
    worker since stopped) first, then one waiting for QA (or whose hold lapsed) that the worker did
    not annotate and, for a hidden check, has not checked before (``check_first``: such a check
    before data items)."""
    if not pipeline_ids:
        return None
    returned = (
        select(PipelineItem)
        .where(
            PipelineItem.pipeline_id.in_(pipeline_ids),
            PipelineItem.status == ItemStatus.for_review,
            or_(PipelineItem.qa_worker_id == worker_id, PipelineItem.qa_worker_id.in_(stopped)),
        )
        .order_by(PipelineItem.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    found = session.scalars(returned).first()
    if found is not None:
        return found
    own_work = exists().where(
        ItemStageWork.item_id == PipelineItem.id, ItemStageWork.annotator_id == worker_id
    )
    checked = exists().where(QaCheck.item_id == PipelineItem.id, QaCheck.worker_id == worker_id)
    waiting = (
        select(PipelineItem)
        .where(
            PipelineItem.pipeline_id.in_(pipeline_ids),
            or_(
                PipelineItem.status == ItemStatus.completed,
                and_(PipelineItem.status == ItemStatus.reviewing, PipelineItem.qa_deadline <= now),
            ),
            PipelineItem.route.is_(None),  # a routed item waits for its route's members only
            ~own_work,
            ~checked,
        )
        .order_by(PipelineItem.is_check.desc() if check_first else PipelineItem.id, PipelineItem.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(waiting).first()


def next_routed(
    session: Session, routes: dict[int, list[str]], worker_id: int, now: datetime
) -> PipelineItem | None:
    """The routed item a route member gets next, locked: one whose fixes came back to them first,
    then one waiting on a route they are in (``routes``: pipeline id -> its statuses they may take),
    or whose holder's time ran out; never one they annotated."""
    if not routes:
        return None
    own_work = exists().where(
        ItemStageWork.item_id == PipelineItem.id, ItemStageWork.annotator_id == worker_id
    )
    returned = and_(PipelineItem.status == ItemStatus.for_review, PipelineItem.qa_worker_id == worker_id)
    stmt = (
        select(PipelineItem)
        .where(
            or_(*(and_(PipelineItem.pipeline_id == p, PipelineItem.route.in_(r)) for p, r in routes.items())),
            or_(
                returned,
                PipelineItem.status == ItemStatus.routed,
                and_(PipelineItem.status == ItemStatus.reviewing, PipelineItem.qa_deadline <= now),
            ),
            ~own_work,
        )
        .order_by(case((returned, 0), else_=1), PipelineItem.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(stmt).first()


def held_by(session: Session, worker_id: int, now: datetime) -> PipelineItem | None:
    stmt = select(PipelineItem).where(
        PipelineItem.status == ItemStatus.reviewing,
        PipelineItem.qa_worker_id == worker_id,
        PipelineItem.qa_deadline > now,
    )
    return session.scalars(stmt.order_by(PipelineItem.id).limit(1)).first()


def issues_of_item(session: Session, item_id: int, *, for_update: bool = False) -> list[ItemIssue]:
    stmt = select(ItemIssue).where(ItemIssue.item_id == item_id).order_by(ItemIssue.id)
    if for_update:
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt))


def items_with_open_issues_for(session: Session, worker_id: int, limit: int) -> list[int]:
    stmt = (
        select(ItemIssue.item_id)
        .where(ItemIssue.assignee_id == worker_id, ItemIssue.status == IssueStatus.open)
        .distinct()
        .order_by(ItemIssue.item_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def overdue_issues(session: Session, now: datetime, limit: int) -> list[ItemIssue]:
    stmt = (
        select(ItemIssue)
        .where(ItemIssue.status == IssueStatus.open, ItemIssue.due_at <= now)
        .order_by(ItemIssue.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def status_counts(session: Session, pipeline_id: int) -> dict[str, int]:
    """Data items per status (hidden checks are not work)."""
    stmt = (
        select(PipelineItem.status, func.count())
        .where(PipelineItem.pipeline_id == pipeline_id, PipelineItem.is_check.is_(False))
        .group_by(PipelineItem.status)
    )
    return {
        str(status.value if hasattr(status, "value") else status): int(n)
        for status, n in session.execute(stmt)
    }


def routed_counts(session: Session, pipeline_id: int) -> dict[str, int]:
    """Data items per custom status they are routed to (not yet decided)."""
    stmt = (
        select(PipelineItem.route, func.count())
        .where(
            PipelineItem.pipeline_id == pipeline_id,
            PipelineItem.is_check.is_(False),
            PipelineItem.route.is_not(None),
        )
        .group_by(PipelineItem.route)
    )
    return {str(route): int(n) for route, n in session.execute(stmt)}


def open_issue_count(session: Session, pipeline_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(ItemIssue)
        .join(PipelineItem, PipelineItem.id == ItemIssue.item_id)
        .where(PipelineItem.pipeline_id == pipeline_id, ItemIssue.status != IssueStatus.resolved)
    )
    return int(session.scalar(stmt) or 0)


def undecided_count(session: Session, pipeline_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(PipelineItem)
        .where(
            PipelineItem.pipeline_id == pipeline_id,
            PipelineItem.is_check.is_(False),
            PipelineItem.status.not_in([ItemStatus.approved, ItemStatus.discarded]),
        )
    )
    return int(session.scalar(stmt) or 0)


def events(session: Session, item_ids: Sequence[int]) -> list[ItemEvent]:
    if not item_ids:
        return []
    stmt = select(ItemEvent).where(ItemEvent.item_id.in_(item_ids)).order_by(ItemEvent.item_id, ItemEvent.id)
    return list(session.scalars(stmt))


def issue_counts_by_assignee(session: Session, job_id: int) -> dict[int, dict[str, int]]:
    """Per annotator of a stage: issues assigned to them by status."""
    stmt = (
        select(ItemIssue.assignee_id, ItemIssue.status, func.count())
        .join(ItemStageWork, ItemStageWork.id == ItemIssue.work_id)
        .where(ItemStageWork.job_id == job_id, ItemIssue.assignee_id.is_not(None))
        .group_by(ItemIssue.assignee_id, ItemIssue.status)
    )
    out: dict[int, dict[str, int]] = {}
    for worker_id, status, n in session.execute(stmt).tuples():
        out.setdefault(int(worker_id or 0), {})[IssueStatus(status).value] = int(n)
    return out


def credited_items(session: Session, job_id: int) -> dict[int, int]:
    """Per annotator of a stage: the data items whose work is credited to them."""
    stmt = (
        select(ItemStageWork.annotator_id, func.count())
        .join(PipelineItem, PipelineItem.id == ItemStageWork.item_id)
        .where(
            ItemStageWork.job_id == job_id,
            ItemStageWork.annotator_id.is_not(None),
            PipelineItem.is_check.is_(False),
        )
        .group_by(ItemStageWork.annotator_id)
    )
    return {int(w or 0): int(n) for w, n in session.execute(stmt).tuples()}


def qa_decisions_by_worker(session: Session, pipeline_id: int) -> dict[int, int]:
    """Per QA worker: decisions on data items (approve, discard, issue, reopen)."""
    stmt = (
        select(ItemEvent.actor_id, func.count())
        .join(PipelineItem, PipelineItem.id == ItemEvent.item_id)
        .where(
            PipelineItem.pipeline_id == pipeline_id,
            PipelineItem.is_check.is_(False),
            ItemEvent.event.in_(DECISIONS),
            ItemEvent.actor_id.is_not(None),
        )
        .group_by(ItemEvent.actor_id)
    )
    return {int(w or 0): int(n) for w, n in session.execute(stmt).tuples()}


def checks_by_worker(session: Session, pipeline_id: int) -> dict[int, tuple[int, int]]:
    """Per QA worker: (hidden checks decided, caught)."""
    stmt = (
        select(QaCheck.worker_id, func.count(), func.sum(case((QaCheck.caught.is_(True), 1), else_=0)))
        .where(QaCheck.pipeline_id == pipeline_id)
        .group_by(QaCheck.worker_id)
    )
    return {int(w): (int(n), int(c or 0)) for w, n, c in session.execute(stmt).tuples()}


# -- the manager's moves ----------------------------------------------------------------------------


def open_stage_issues(session: Session, job_id: int, assignee_id: int | None = None) -> list[ItemIssue]:
    """Open issues on an annotate stage's work (of one assignee, or of anyone assigned), locked, in
    item order."""
    stmt = (
        select(ItemIssue)
        .join(ItemStageWork, ItemStageWork.id == ItemIssue.work_id)
        .where(
            ItemStageWork.job_id == job_id,
            ItemIssue.status == IssueStatus.open,
            ItemIssue.assignee_id.is_not(None),
        )
        .order_by(ItemIssue.item_id, ItemIssue.id)
        .with_for_update(of=ItemIssue)
    )
    if assignee_id is not None:
        stmt = stmt.where(ItemIssue.assignee_id == assignee_id)
    return list(session.scalars(stmt))


def qa_assigned(
    session: Session, pipeline_id: int, now: datetime, worker_id: int | None = None, *, checks: bool = False
) -> list[PipelineItem]:
    """Items with a QA worker (one, or anyone): held for review (the hold not lapsed) or back for
    re-review; data items, or (``checks``) hidden checks; locked, in id order."""
    stmt = (
        select(PipelineItem)
        .where(
            PipelineItem.pipeline_id == pipeline_id,
            PipelineItem.is_check.is_(checks),
            PipelineItem.qa_worker_id.is_not(None),
            PipelineItem.route.is_(None),  # routed items are their route's members' own
            or_(
                PipelineItem.status == ItemStatus.for_review,
                and_(PipelineItem.status == ItemStatus.reviewing, PipelineItem.qa_deadline > now),
            ),
        )
        .order_by(PipelineItem.id)
        .with_for_update()
    )
    if worker_id is not None:
        stmt = stmt.where(PipelineItem.qa_worker_id == worker_id)
    return list(session.scalars(stmt))


def annotated_by(
    session: Session, item_ids: Sequence[int], worker_ids: Sequence[int]
) -> set[tuple[int, int]]:
    """(item id, worker id) pairs where the worker is credited with some stage's work on the item."""
    if not item_ids or not worker_ids:
        return set()
    stmt = select(ItemStageWork.item_id, ItemStageWork.annotator_id).where(
        ItemStageWork.item_id.in_(item_ids), ItemStageWork.annotator_id.in_(worker_ids)
    )
    return {(int(i), int(w or 0)) for i, w in session.execute(stmt).tuples()}


def qa_workers(session: Session, pipeline_id: int) -> set[int]:
    """Workers who have made QA decisions (or hidden-check decisions) in this pipeline."""
    return set(qa_decisions_by_worker(session, pipeline_id)) | set(checks_by_worker(session, pipeline_id))
