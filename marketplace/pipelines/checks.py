"""Hidden checks for QA workers at work: a decision on one scored, a QA worker who misses too many
stopped, and a check a QA worker raised issues on coming back to them "for review". Never commits.

A QA worker learns what became of the items they raised issues on: a data item comes back once its
annotator fixed it. A check that never came back would tell them, after the fact, which items were
checks, and a group comparing notes could then spot them; so a check comes back too, after a time
drawn from the pipeline's real fix times, with its defect repaired and their issues marked fixed. They
decide it as they would a data item (approve, reopen, more issues); only the first decision is scored.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from marketplace.errors import InvalidInput
from marketplace.models import (
    IssueStatus,
    ItemIssue,
    ItemStageWork,
    ItemStatus,
    Pipeline,
    PipelineItem,
    QaCheck,
    User,
)
from marketplace.pipelines import check_repository as check_repo
from marketplace.pipelines import defects, items
from marketplace.pipelines import repository as repo
from marketplace.pipelines.schemas import DecisionIn
from marketplace.pipelines.states import move_item

_rng = random.SystemRandom()
#: an issue's stage work and that stage's objects as the QA worker sees them (:func:`items.issue_target`)
Target = tuple[ItemStageWork, list[dict[str, Any]]]
#: what each decision shows the QA worker, on a check as on a data item
SHOWN = {"approve": ItemStatus.approved, "discard": ItemStatus.discarded, "route": ItemStatus.routed}


def decide(
    session: Session,
    pipeline: Pipeline,
    worker: User,
    item: PipelineItem,
    body: DecisionIn,
    now: datetime,
    returned: QaCheck | None,
    targets: list[Target],
) -> ItemStatus:
    """A decision on a hidden check (``targets``: what each of its issues points at), first
    (``returned`` None: scored, the check freed for the next QA worker, the worker stopped when the
    sequential test says so) or after it came back to them. Answers the status a data item would
    have got."""
    if returned is not None:
        return _decide_returned(session, pipeline, worker, item, body, now, returned, targets)
    if body.action == "reopen":  # a check never has issues to reopen
        raise InvalidInput(f"issue {body.reopen[0]} is not an issue of item {item.id}", field="reopen")
    assert item.defect is not None
    pointed = [(i.stage_job_id, i.object_index, i.geometry) for i in body.issues]
    caught = body.action == "issue" and defects.caught(item.defect, pointed)
    row = QaCheck(pipeline_id=pipeline.id, item_id=item.id, worker_id=worker.id, caught=caught, at=now)
    if body.action == "issue":
        _raise(session, pipeline, worker, item, body, now, row, targets)
    repo.add_check_result(session, row)
    move_item(item, ItemStatus.completed)
    item.qa_worker_id, item.qa_deadline = None, None
    if defects.should_stop(repo.check_results(session, pipeline.id, worker.id)):
        stop_qa_worker(session, pipeline, worker.id)
    return SHOWN.get(body.action, ItemStatus.issue_open)


def _decide_returned(
    session: Session,
    pipeline: Pipeline,
    worker: User,
    item: PipelineItem,
    body: DecisionIn,
    now: datetime,
    row: QaCheck,
    targets: list[Target],
) -> ItemStatus:
    raised = row.raised or []
    if body.action in SHOWN:  # decided: it does not come back again
        row.raised = [{**r, "status": _closed(r["status"])} for r in raised]
        row.returns_at, row.held_until = None, None
        return SHOWN[body.action]
    if body.action == "reopen":
        ids = {r["id"] for r in raised}
        for issue_id in body.reopen:
            if issue_id not in ids:
                raise InvalidInput(f"issue {issue_id} is not an issue of item {item.id}", field="reopen")
        due = _due(pipeline, now)
        row.raised = [
            {**r, "status": IssueStatus.open.value, "due_at": due} if r["id"] in body.reopen else r
            for r in raised
        ]
        _send_back(session, pipeline, row, now)
    else:
        _raise(session, pipeline, worker, item, body, now, row, targets)
    return ItemStatus.issue_open


def _closed(status: str) -> str:
    return IssueStatus.resolved.value if status == IssueStatus.fixed.value else status


def _due(pipeline: Pipeline, now: datetime) -> str:
    return (now + timedelta(seconds=pipeline.fix_time_limit_s)).isoformat()


def _raise(
    session: Session,
    pipeline: Pipeline,
    worker: User,
    item: PipelineItem,
    body: DecisionIn,
    now: datetime,
    row: QaCheck,
    targets: list[Target],
) -> None:
    """The issues a QA worker raised on a check (``targets``: the stage work each points at and its
    objects as the worker saw them, the defect repaired after a return), kept as they would see them
    on a data item (ids from the issues' sequence, the maker of the flagged object as assignee); the
    check will come back."""
    due = now + timedelta(seconds=pipeline.fix_time_limit_s)
    placeholder = ItemIssue(
        item_id=item.id, work_id=targets[0][0].id, raised_by=worker.id, comment="", due_at=due
    )
    ids = check_repo.next_issue_ids(session, len(body.issues), placeholder)
    entries: list[dict[str, Any]] = []
    for issue_id, spec, (work, objects) in zip(ids, body.issues, targets, strict=True):
        index = spec.object_index
        entries.append(
            {
                "id": issue_id,
                "stage_job_id": spec.stage_job_id,
                "status": IssueStatus.open.value,
                "object_index": index,
                "geometry": objects[index]["geometry"] if index is not None else spec.geometry,
                "comment": spec.comment,
                "raised_by": worker.id,
                "assignee_id": items.maker(work, objects, index),
                "due_at": due.isoformat(),
            }
        )
    row.raised = [*(row.raised or []), *entries]
    _send_back(session, pipeline, row, now)


def _send_back(session: Session, pipeline: Pipeline, row: QaCheck, now: datetime) -> None:
    delay = defects.return_delay(check_repo.fix_times(session, pipeline.id), pipeline.fix_time_limit_s, _rng)
    row.returns_at, row.held_until = now + timedelta(seconds=delay), None


def claim_returned(
    session: Session, pipelines: dict[int, Pipeline], worker: User, now: datetime
) -> PipelineItem | None:
    """A check due back to this QA worker, now held by them with their issues fixed."""
    row = check_repo.due_return(session, list(pipelines), worker.id, now)
    if row is None:
        return None
    row.raised = [
        {**r, "status": IssueStatus.fixed.value} if r["status"] == IssueStatus.open.value else r
        for r in row.raised or []
    ]
    row.held_until = now + timedelta(seconds=pipelines[row.pipeline_id].qa_time_limit_s)
    item = repo.item(session, row.item_id)
    assert item is not None
    return item


def returned_to(session: Session, item: PipelineItem, worker_id: int) -> QaCheck | None:
    """This worker's decision on a check, when the check is back with them (None otherwise)."""
    row = check_repo.check_of(session, item.id, worker_id) if item.is_check else None
    return row if row is not None and row.held_until is not None else None


def close_returns(session: Session, pipeline_id: int, worker_id: int | None = None) -> None:
    """No check comes back any more: to anyone (the pipeline is complete), or to one QA worker whose
    re-reviews went to another (as their data items do not come back to them either)."""
    for row in check_repo.pending_returns(session, pipeline_id, worker_id):
        row.raised = [{**r, "status": _closed(r["status"])} for r in row.raised or []]
        row.returns_at, row.held_until = None, None


def stop_qa_worker(session: Session, pipeline: Pipeline, worker_id: int) -> None:
    """Stop a QA worker on this pipeline: what they hold or approved or discarded is reviewed again by
    others; issues they raised stay (their fixes go to any QA worker)."""
    pipeline.qa_banned = sorted({*(pipeline.qa_banned or []), worker_id})
    for item in repo.decided_by(session, pipeline.id, worker_id):
        # (a routed item they held waits for its route's members again)
        held_routed = item.route is not None and item.status is ItemStatus.reviewing
        move_item(item, ItemStatus.routed if held_routed else ItemStatus.completed)
        item.qa_worker_id, item.qa_deadline = None, None
        items.record(
            session, item, None, "qa_worker_stopped", "reviewed again: its QA worker missed hidden defects"
        )
