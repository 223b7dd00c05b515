"""Pipeline items between stages: QA holds and decisions, issues and fixes, views. Never commits.

Who sees what: the requester (and staff) their pipeline, its progress, books and results; a QA
worker only the item they hold or that came back to them; an annotator only the items with an open
issue assigned to them. Anybody else gets "not found".
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from marketplace.errors import (
    InvalidInput,
    IssuesStillOpen,
    ItemNotHeld,
    NotFound,
    NothingToReview,
    QaStopped,
)
from marketplace.ledger import service as ledger
from marketplace.models import (
    IssueStatus,
    ItemIssue,
    ItemStageWork,
    ItemStatus,
    Job,
    Pipeline,
    PipelineItem,
    QaCheck,
    Role,
    StageKind,
    User,
)
from marketplace.pipelines import check_repository as check_repo
from marketplace.pipelines import checks, defects
from marketplace.pipelines import repository as repo
from marketplace.pipelines.items import issue_out, issue_target, item_view, maker, record, stage_name
from marketplace.pipelines.schemas import (
    DecisionIn,
    FixIn,
    ItemOut,
    PipelineOut,
    QaChecksOut,
    RouteOut,
    StageBooksOut,
    StageOut,
)
from marketplace.pipelines.states import FINAL, move_issue, move_item
from marketplace.quality.coco_export import ImageResult, MergedObject, coco_instances

_rng = random.SystemRandom()
#: overdue issues handed to another annotator per sweep
REASSIGN_BATCH = 200


# -- the requester's view ------------------------------------------------------------------------


def get_pipeline_for(session: Session, user: User, pipeline_id: int) -> Pipeline:
    pipeline = repo.get_pipeline(session, pipeline_id)
    staff = user.role in (Role.admin, Role.reviewer)
    if pipeline is None or (not staff and pipeline.requester_id != user.id):
        raise NotFound(f"pipeline {pipeline_id} not found")
    return pipeline


def qa_stage(stages: list[Job]) -> Job:
    return next(j for j in stages if j.stage_kind == StageKind.qa.value)


def annotate_stages(stages: list[Job]) -> list[Job]:
    return [j for j in stages if j.stage_kind == StageKind.annotate.value]


def books(session: Session, job_id: int) -> StageBooksOut:
    b = ledger.job_books(session, job_id)
    return StageBooksOut(
        job_id=job_id,
        funded=str(b.funded),
        fees=str(b.fees),
        paid=str(b.paid),
        refunded=str(b.refunded),
        reserved=str(b.held),
        balanced=b.balanced,
    )


def view(session: Session, pipeline: Pipeline) -> PipelineOut:
    stages = repo.stage_jobs(session, pipeline.id)
    waiting = repo.routed_counts(session, pipeline.id) if pipeline.qa_routes else {}
    return PipelineOut(
        id=pipeline.id,
        title=pipeline.title,
        status=pipeline.status,
        currency=stages[0].currency if stages else "",
        created_at=pipeline.created_at,
        stages=[
            StageOut(
                index=j.stage_index or 0,
                kind=j.stage_kind or "",
                name=stage_name(j, pipeline),
                job_id=j.id,
                labels=list(j.labels),
                status=j.status,
                members=list(j.members) if j.members is not None else None,
                after_job_id=j.after_job_id,
            )
            for j in stages
        ],
        items=repo.status_counts(session, pipeline.id),
        open_issues=repo.open_issue_count(session, pipeline.id),
        books=[books(session, j.id) for j in stages],
        qa_checks=QaChecksOut(
            checks=repo.count_checks(session, pipeline.id),
            decisions=len(results := repo.check_results(session, pipeline.id)),
            caught=sum(results),
            stopped_workers=len(pipeline.qa_banned or []),
        ),
        routes=[
            RouteOut(status=r["status"], members=list(r["members"]), waiting=waiting.get(r["status"], 0))
            for r in pipeline.qa_routes or []
        ],
    )


# -- items as workers see them --------------------------------------------------------------------


def can_see_item(session: Session, user: User, item: PipelineItem) -> bool:
    if user.role in (Role.admin, Role.reviewer):
        return True
    pipeline = repo.get_pipeline(session, item.pipeline_id)
    if pipeline is not None and pipeline.requester_id == user.id:
        return True
    if item.qa_worker_id == user.id and item.status not in FINAL:
        return True
    if item.is_check:  # one they raised issues on, until it has come back and they decided it
        row = check_repo.check_of(session, item.id, user.id)
        return row is not None and row.returns_at is not None
    return any(
        i.assignee_id == user.id and i.status is IssueStatus.open
        for i in repo.issues_of_item(session, item.id)
    )


def item_image(session: Session, user: User, item_id: int) -> tuple[int, int]:
    """(job id, image id) of the item's image, for someone allowed to see it."""
    item = repo.item(session, item_id)
    if item is None or not can_see_item(session, user, item):
        raise NotFound(f"item {item_id} not found")
    work = repo.work_of_item(session, item.id)
    if not work:
        raise NotFound(f"item {item_id} not found")
    return work[0][1].id, work[0][0].image_id


# -- QA ---------------------------------------------------------------------------------------------


def claim(session: Session, worker: User, now: datetime) -> PipelineItem:
    """The item this QA worker reviews next: the one they hold, one whose fixes came back to them, or
    a completed item of an open QA stage whose team they are in (never one they annotated, never a
    hidden check twice, except back "for review" after they raised issues on it)."""
    held = repo.held_by(session, worker.id, now)
    if held is not None:
        return held
    held_check = check_repo.held_return(session, worker.id, now)
    if held_check is not None:
        item = repo.item(session, held_check.item_id)
        assert item is not None
        return item
    open_pipelines = [p for p, _ in repo.qa_pipelines(session)]
    routed = _claim_routed(session, worker, open_pipelines, now)
    if routed is not None:
        return routed
    teams = [p for p in open_pipelines if p.qa_members is None or worker.id in p.qa_members]
    pipelines = {p.id: p for p in teams if worker.id not in (p.qa_banned or [])}
    if teams and not pipelines:
        raise QaStopped(
            "you missed too many of the known defects hidden among the items; QA here is closed to you"
        )
    stopped = sorted({w for p in pipelines.values() for w in p.qa_banned or []})
    returned = checks.claim_returned(session, pipelines, worker, now)
    if returned is not None:
        return returned
    decisions = repo.decision_count(session, list(pipelines), worker.id) if pipelines else 0
    check_first = defects.offer_check(decisions, _rng)
    item = repo.next_for_qa(session, list(pipelines), worker.id, now, stopped, check_first=check_first)
    if item is None:
        raise NothingToReview("no pipeline item waits for QA by you")
    if item.status is ItemStatus.reviewing:  # the previous holder's time ran out
        move_item(item, ItemStatus.completed)
        record(session, item, item.qa_worker_id, "hold_lapsed")
    move_item(item, ItemStatus.reviewing)
    item.qa_worker_id = worker.id
    item.qa_deadline = now + timedelta(seconds=pipelines[item.pipeline_id].qa_time_limit_s)
    record(session, item, worker.id, "claimed")
    return item


def qa_view(session: Session, worker: User, item: PipelineItem) -> ItemOut:
    """The item a QA worker claimed, as they see it (a check back with them: as they left it, fixed)."""
    return item_view(session, item, returned=checks.returned_to(session, item, worker.id))


def _claim_routed(
    session: Session, worker: User, pipelines: list[Pipeline], now: datetime
) -> PipelineItem | None:
    """An item routed to a custom status whose members include this worker (before the QA queue; not
    on a pipeline that stopped them)."""
    routes = {
        p.id: [r["status"] for r in p.qa_routes or [] if worker.id in r["members"]]
        for p in pipelines
        if worker.id not in (p.qa_banned or [])
    }
    item = repo.next_routed(session, {p: r for p, r in routes.items() if r}, worker.id, now)
    if item is None:
        return None
    pipeline = next(p for p in pipelines if p.id == item.pipeline_id)
    if item.status is ItemStatus.reviewing:  # the previous route member's time ran out
        move_item(item, ItemStatus.routed)
        record(session, item, item.qa_worker_id, "hold_lapsed", item.route or "")
    move_item(item, ItemStatus.reviewing)
    item.qa_worker_id = worker.id
    item.qa_deadline = now + timedelta(seconds=pipeline.qa_time_limit_s)
    record(session, item, worker.id, "claimed", item.route or "")
    return item


def _check_route(pipeline: Pipeline, body: DecisionIn) -> None:
    routes = [r["status"] for r in pipeline.qa_routes or []]
    if body.status not in routes:
        raise InvalidInput(
            f"{body.status!r} is not a custom status of this pipeline's QA stage (it has {routes})",
            field="status",
        )


def _route(session: Session, worker: User, item: PipelineItem, body: DecisionIn) -> None:
    """The item set to one of the QA stage's custom statuses: it waits for that route's members."""
    move_item(item, ItemStatus.routed)
    item.route, item.qa_worker_id, item.qa_deadline = body.status, None, None
    record(session, item, worker.id, "route", f"{body.status}: {body.comment}")


def _held(session: Session, worker: User, item_id: int, now: datetime) -> tuple[PipelineItem, QaCheck | None]:
    """The item, locked, if this worker holds it, and for a hidden check that came back to them their
    decision on it. One they decided answers the same whether it was a data item or a hidden check
    (which is no longer theirs once decided, until it comes back)."""
    item = repo.item(session, item_id, for_update=True)
    decided = (
        check_repo.check_of(session, item.id, worker.id, for_update=True) if item and item.is_check else None
    )
    if item is None or (item.qa_worker_id != worker.id and decided is None):
        raise NotFound(f"item {item_id} not found")
    if decided is not None:
        if decided.held_until is None or decided.held_until <= now:
            raise ItemNotHeld(f"item {item_id} is no longer yours to decide (decided, or your time ran out)")
        return item, decided
    if item.status is not ItemStatus.reviewing or item.qa_deadline is None or item.qa_deadline <= now:
        raise ItemNotHeld(f"item {item_id} is no longer yours to decide (decided, or your time ran out)")
    return item, None


def decide(
    session: Session, worker: User, item_id: int, body: DecisionIn, now: datetime
) -> tuple[PipelineItem, ItemStatus]:
    """A QA worker's decision on the item they hold; returns the item and the status the decision
    gives it as the worker sees it (a hidden check answers as a data item would, and scores the
    worker)."""
    item, returned = _held(session, worker, item_id, now)
    pipeline = repo.get_pipeline(session, item.pipeline_id, for_update=item.is_check)
    assert pipeline is not None
    targets = [  # refused before anything changes when an issue points at nothing
        issue_target(session, item, spec.stage_job_id, spec.object_index, spec.geometry is not None, returned)
        for spec in body.issues
    ]
    if body.action == "route":
        _check_route(pipeline, body)
    if item.is_check:
        return item, checks.decide(session, pipeline, worker, item, body, now, returned, targets)
    if body.action == "route":
        _route(session, worker, item, body)
        return item, item.status
    issues = repo.issues_of_item(session, item.id, for_update=True)
    if body.action in ("approve", "discard"):
        still_open = [i.id for i in issues if i.status is IssueStatus.open]
        if still_open:
            raise IssuesStillOpen(f"item {item_id} has open issues {still_open}")
        for issue in issues:
            if issue.status is IssueStatus.fixed:
                move_issue(issue, IssueStatus.resolved)
        move_item(item, ItemStatus.approved if body.action == "approve" else ItemStatus.discarded)
        item.qa_deadline, item.route = None, None
        record(session, item, worker.id, body.action, body.comment)
        return item, item.status
    due = now + timedelta(seconds=pipeline.fix_time_limit_s)
    if body.action == "issue":
        for spec, (work, objects) in zip(body.issues, targets, strict=True):
            index = spec.object_index
            geometry = objects[index]["geometry"] if index is not None else spec.geometry
            repo.add(
                session,
                ItemIssue(
                    item_id=item.id,
                    work_id=work.id,
                    raised_by=worker.id,
                    assignee_id=maker(work, objects, index),
                    object_index=spec.object_index,
                    geometry=geometry,
                    comment=spec.comment,
                    due_at=due,
                ),
            )
        note = "; ".join(s.comment for s in body.issues)
    else:  # reopen fixed issues
        by_id = {i.id: i for i in issues}
        for issue_id in body.reopen:
            reopened = by_id.get(issue_id)
            if reopened is None:
                raise InvalidInput(f"issue {issue_id} is not an issue of item {item_id}", field="reopen")
            move_issue(reopened, IssueStatus.open)
            reopened.due_at = due
        note = body.comment
    move_item(item, ItemStatus.issue_open)
    item.qa_deadline = None
    record(session, item, worker.id, body.action, note)
    return item, item.status


# -- fixes ------------------------------------------------------------------------------------------


def items_to_fix(session: Session, worker: User, limit: int = 50) -> list[ItemOut]:
    out = []
    for item_id in repo.items_with_open_issues_for(session, worker.id, limit):
        item = repo.item(session, item_id)
        assert item is not None
        out.append(item_view(session, item, issues_for=worker.id))
    return out


def fix(session: Session, worker: User, item_id: int, body: FixIn, now: datetime) -> PipelineItem:
    """An annotator's corrected objects for one stage of an item; their open issues there become fixed,
    and once the item has none open it goes back to the QA worker who raised them."""
    item = repo.item(session, item_id, for_update=True)
    work = repo.work(session, item_id, body.stage_job_id, for_update=True) if item is not None else None
    issues = repo.issues_of_item(session, item_id, for_update=True) if work is not None else []
    assert work is None or work.id is not None
    mine = [
        i
        for i in issues
        if work and i.work_id == work.id and i.assignee_id == worker.id and i.status is IssueStatus.open
    ]
    if item is None or work is None or not mine:
        raise NotFound(f"no open issue of yours on item {item_id} in stage {body.stage_job_id}")
    job = repo.stage_jobs(session, item.pipeline_id)
    labels = next(j.labels for j in job if j.id == work.job_id)
    for k, obj in enumerate(body.objects):
        if obj.label not in labels:
            raise InvalidInput(
                f"objects[{k}]: {obj.label!r} is not a label of this stage ({labels})", field="objects"
            )
        if obj.geometry[2] <= 0 or obj.geometry[3] <= 0:
            raise InvalidInput(f"objects[{k}]: a box needs a positive width and height", field="objects")
    work.objects = [{"label": o.label, "geometry": list(o.geometry), "by": worker.id} for o in body.objects]
    work.annotator_id = worker.id
    for issue in mine:
        move_issue(issue, IssueStatus.fixed)
    record(session, item, worker.id, "fixed", f"{len(mine)} issue(s) in stage {work.job_id}")
    if not any(i.status is IssueStatus.open for i in issues):
        move_item(item, ItemStatus.for_review)
        record(session, item, worker.id, "for_review")
    return item


def stage_fixers(session: Session, job: Job) -> list[int]:
    """Who may fix an annotate stage's work: its team, or without one the workers credited with some
    of its work."""
    if job.members is not None:
        return sorted(job.members)
    return repo.stage_annotators(session, job.id)


def reassign_overdue(session: Session, now: datetime) -> int:
    """Issues not fixed in time go to another annotator of the same stage (a member of its team, or
    without one a worker who did some of its work; never the QA worker who raised it); with nobody
    else they stay and get more time."""
    moved = 0
    for issue in repo.overdue_issues(session, now, REASSIGN_BATCH):
        work = session.get(ItemStageWork, issue.work_id)
        item = repo.item(session, issue.item_id)
        assert work is not None and item is not None
        pipeline = repo.get_pipeline(session, item.pipeline_id)
        job = repo.job(session, work.job_id)
        assert pipeline is not None and job is not None
        issue.due_at = now + timedelta(seconds=pipeline.fix_time_limit_s)
        others = [w for w in stage_fixers(session, job) if w not in (issue.assignee_id, issue.raised_by)]
        if not others:
            continue
        issue.assignee_id = others[issue.id % len(others)]
        record(session, item, None, "issue_reassigned", f"issue {issue.id} to worker {issue.assignee_id}")
        moved += 1
    return moved


# -- results ----------------------------------------------------------------------------------------


def history(session: Session, pipeline: Pipeline) -> list[dict[str, Any]]:
    """Every item's statuses and issues, in order."""
    items = [i for i in repo.items(session, pipeline.id) if not i.is_check]
    events: dict[int, list[dict[str, Any]]] = {i.id: [] for i in items}
    for e in repo.events(session, [i.id for i in items]):
        events[e.item_id].append(
            {
                "event": e.event,
                "status": e.status,
                "actor_id": e.actor_id,
                "note": e.note,
                "at": e.at.isoformat(),
            }
        )
    out = []
    for item in items:
        work = {w.id: j.id for w, j in repo.work_of_item(session, item.id)}
        out.append(
            {
                "item_id": item.id,
                "name": item.name,
                "status": item.status.value,
                "events": events[item.id],
                "issues": [
                    issue_out(i, work[i.work_id]).model_dump(mode="json")
                    for i in repo.issues_of_item(session, item.id)
                ],
            }
        )
    return out


def results(session: Session, pipeline: Pipeline) -> dict[str, Any]:
    """COCO instances of the approved items: every annotate stage's objects, fixes included."""
    qa = qa_stage(repo.stage_jobs(session, pipeline.id))
    out = []
    for item in repo.items(session, pipeline.id, ItemStatus.approved):
        work = repo.work_of_item(session, item.id)
        image = repo.image(session, work[0][0].image_id)
        assert image is not None
        objects = [MergedObject(o["label"], o["geometry"], 1.0) for w, _ in work for o in w.objects]
        out.append(ImageResult(image, objects, workers=len({w.annotator_id for w, _ in work})))
    document = coco_instances(qa, out)
    document["info"]["pipeline_id"] = pipeline.id
    return document
