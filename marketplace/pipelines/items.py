"""Pipeline items as the people working on them see them, and their history. Never commits.

A hidden check is one item row that many QA workers review in turn; one who raised issues on it sees
it come back "for review" with its defect repaired and their issues fixed, as a data item would
(:class:`~marketplace.models.QaCheck` holds that worker's state). :func:`item_view` builds either view
from the same code, so the two cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.errors import InvalidInput, NotFound
from marketplace.models import (
    IssueStatus,
    ItemEvent,
    ItemIssue,
    ItemStageWork,
    ItemStatus,
    Job,
    Pipeline,
    PipelineItem,
    QaCheck,
)
from marketplace.pipelines import defects
from marketplace.pipelines import repository as repo
from marketplace.pipelines.schemas import IssueOut, ItemOut, StageWorkOut


def record(session: Session, item: PipelineItem, actor_id: int | None, event: str, note: str = "") -> None:
    """One step of the item's history, with the status it left the item in."""
    repo.add(
        session,
        ItemEvent(item_id=item.id, actor_id=actor_id, event=event, status=item.status.value, note=note),
    )


def stage_name(job: Job, pipeline: Pipeline) -> str:
    return job.title.removeprefix(f"{pipeline.title} · ")


def shown_objects(
    item: PipelineItem, work: ItemStageWork, job: Job, returned: QaCheck | None
) -> list[dict[str, Any]]:
    """A stage's objects on the item as its viewer sees them: for a hidden check that came back to
    the QA worker who raised issues on it (``returned``), with its defect repaired."""
    if returned is None or item.defect is None or item.defect["job_id"] != job.id:
        return list(work.objects)
    return defects.repair(work.objects, item.defect, job.labels[0] if job.labels else "")


def public_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects as workers see them: no worker ids."""
    return [{"label": o["label"], "geometry": o["geometry"]} for o in objects]


def issue_out(issue: ItemIssue, stage_job_id: int) -> IssueOut:
    return IssueOut(
        id=issue.id,
        stage_job_id=stage_job_id,
        status=issue.status,
        object_index=issue.object_index,
        geometry=issue.geometry,
        comment=issue.comment,
        raised_by=issue.raised_by,
        assignee_id=issue.assignee_id,
        due_at=issue.due_at,
    )


def raised_out(raised: dict[str, Any]) -> IssueOut:
    """An issue a QA worker raised on a hidden check, shown as an issue of a data item."""
    return IssueOut(**{**raised, "due_at": datetime.fromisoformat(raised["due_at"])})


def item_view(
    session: Session, item: PipelineItem, *, issues_for: int | None = None, returned: QaCheck | None = None
) -> ItemOut:
    """An item with every stage's objects; its issues (``issues_for``: only those assigned to that
    annotator). ``returned``: a hidden check back with the QA worker who raised issues on it, held by
    them until ``returned.held_until``."""
    work = repo.work_of_item(session, item.id)
    if not work:
        raise NotFound(f"item {item.id} not found")
    image = repo.image(session, work[0][0].image_id)
    assert image is not None
    pipeline = repo.get_pipeline(session, item.pipeline_id)
    assert pipeline is not None
    if returned is not None:
        issues = [raised_out(r) for r in returned.raised or []]
        status, deadline = ItemStatus.reviewing, returned.held_until
    else:
        job_of_work = {w.id: j.id for w, j in work}
        issues = [
            issue_out(i, job_of_work[i.work_id])
            for i in repo.issues_of_item(session, item.id)
            if issues_for is None or (i.assignee_id == issues_for and i.status is IssueStatus.open)
        ]
        status = item.status
        deadline = item.qa_deadline if issues_for is None else min((i.due_at for i in issues), default=None)
    return ItemOut(
        id=item.id,
        status=status,
        image_url=f"/api/pipeline-items/{item.id}/image",
        width=image.width,
        height=image.height,
        work=[
            StageWorkOut(
                stage_job_id=j.id,
                stage=stage_name(j, pipeline),
                labels=list(j.labels),
                objects=public_objects(shown_objects(item, w, j, returned)),
            )
            for w, j in work
        ],
        issues=issues,
        deadline=deadline,
        route=item.route,
        routes=[r["status"] for r in pipeline.qa_routes or []] if issues_for is None else [],
    )


def issue_target(
    session: Session,
    item: PipelineItem,
    stage_job_id: int,
    index: int | None,
    placed: bool,
    returned: QaCheck | None = None,
) -> tuple[ItemStageWork, list[dict[str, Any]]]:
    """The stage work an issue is about and its objects as the QA worker sees them, refusing an issue
    that points at nothing."""
    found = next(((w, j) for w, j in repo.work_of_item(session, item.id) if j.id == stage_job_id), None)
    if found is None:
        raise InvalidInput(f"job {stage_job_id} is not an annotate stage of item {item.id}", field="issues")
    objects = shown_objects(item, *found, returned)
    if index is not None and index >= len(objects):
        raise InvalidInput(
            f"stage {stage_job_id} has {len(objects)} objects on item {item.id}; there is no object {index}",
            field="issues",
        )
    if index is None and not placed:
        raise InvalidInput("an issue about a missing object needs its geometry", field="issues")
    return found[0], objects


def maker(work: ItemStageWork, objects: list[dict[str, Any]], index: int | None) -> int | None:
    """Who an issue goes back to: the worker who drew the flagged object, or for a missing object (or
    one nobody is credited with) the worker credited with the item's work in that stage."""
    if index is not None and index < len(objects) and objects[index].get("by") is not None:
        return int(objects[index]["by"])
    return work.annotator_id
