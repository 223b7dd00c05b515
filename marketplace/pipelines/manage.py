"""The pipeline manager's moves: one member's items of a stage to another (reassign), or a stage's
open items spread evenly among members (redistribute). Never commits.

What moves, per stage kind:

- annotate stage: *fixes*, an item's open issues on that stage's work assigned to one worker (they
  move together, with a fresh ``fix_time_limit_s``);
- QA stage: data items a QA worker holds for review (with a fresh hold of ``qa_time_limit_s``) and
  items whose fixed issues wait for them (``for_review``). Hidden checks are never handed to a
  named worker: a check the old worker holds goes back to the pool, as if the hold had lapsed.

Who may take them: a member of the stage's team; without a team, a worker who already works in the
stage (credited with some of its work, or who made QA decisions in the pipeline). Never a stopped QA
worker, never a QA worker for an item they annotated, never an annotator for an issue they raised.
Only the pipeline's requester may move anything; anyone else gets "not found". Each moved item gets
an event in its history; all is checked before anything moves (nothing half-done).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from marketplace.errors import InvalidInput, NotFound, WorkerNotEligible
from marketplace.models import ItemIssue, ItemStatus, Job, Pipeline, PipelineItem, StageKind, User
from marketplace.pipelines import checks
from marketplace.pipelines import repository as repo
from marketplace.pipelines.items import record
from marketplace.pipelines.schemas import ManageOut, MovedOut, ReassignIn, RedistributeIn
from marketplace.pipelines.service import stage_fixers
from marketplace.pipelines.states import move_item

Kind = Literal["fix", "review", "re_review"]


@dataclass
class Unit:
    """What moves as one: an item's fixes in one stage for one worker, or one QA item."""

    item: PipelineItem
    holder: int
    kind: Kind
    issues: list[ItemIssue] = field(default_factory=list)
    barred: set[int] = field(default_factory=set)  # who may not take it


def _pipeline_stage(session: Session, user: User, pipeline_id: int, index: int) -> tuple[Pipeline, Job]:
    pipeline = repo.get_pipeline(session, pipeline_id, for_update=True)
    if pipeline is None or pipeline.requester_id != user.id:
        raise NotFound(f"pipeline {pipeline_id} not found")
    stages = repo.stage_jobs(session, pipeline.id)
    if index >= len(stages):
        raise InvalidInput(f"the pipeline has stages 0 to {len(stages) - 1}", field="stage_index")
    return pipeline, stages[index]


def _eligible(session: Session, pipeline: Pipeline, job: Job) -> Callable[[int], bool]:
    """Who may take this stage's items at all (before the per-item rules)."""
    if job.stage_kind == StageKind.annotate.value:
        fixers = set(stage_fixers(session, job))
        return lambda w: w in fixers
    stopped = set(pipeline.qa_banned or [])
    team = set(job.members) if job.members is not None else repo.qa_workers(session, pipeline.id)
    return lambda w: w in team and w not in stopped


def _units(
    session: Session, pipeline: Pipeline, job: Job, worker_id: int | None, now: datetime
) -> list[Unit]:
    if job.stage_kind == StageKind.annotate.value:
        units: dict[tuple[int, int], Unit] = {}
        for issue in repo.open_stage_issues(session, job.id, worker_id):
            assert issue.assignee_id is not None
            key = (issue.item_id, issue.assignee_id)
            if key not in units:
                item = repo.item(session, issue.item_id)
                assert item is not None
                units[key] = Unit(item, issue.assignee_id, "fix")
            units[key].issues.append(issue)
            units[key].barred.add(issue.raised_by)
        return list(units.values())
    items = repo.qa_assigned(session, pipeline.id, now, worker_id)
    return [
        Unit(i, i.qa_worker_id or 0, "re_review" if i.status is ItemStatus.for_review else "review")
        for i in items
    ]


def _bar_own_work(session: Session, units: list[Unit], candidates: list[int]) -> None:
    """QA items: nobody reviews an item they annotated."""
    pairs = repo.annotated_by(session, [u.item.id for u in units if u.kind != "fix"], candidates)
    for u in units:
        u.barred |= {w for i, w in pairs if i == u.item.id}


def _move(session: Session, pipeline: Pipeline, unit: Unit, to: int, actor: User, now: datetime) -> MovedOut:
    if unit.kind == "fix":
        due = now + timedelta(seconds=pipeline.fix_time_limit_s)
        for issue in unit.issues:
            issue.assignee_id, issue.due_at = to, due
        note = f"{len(unit.issues)} issue(s) to fix moved from worker {unit.holder} to worker {to}"
        event = "fix_reassigned"
    else:
        unit.item.qa_worker_id = to
        if unit.kind == "review":
            unit.item.qa_deadline = now + timedelta(seconds=pipeline.qa_time_limit_s)
        note = f"QA moved from worker {unit.holder} to worker {to}"
        event = "review_reassigned"
    record(session, unit.item, actor.id, event, note)
    return MovedOut(item_id=unit.item.id, kind=unit.kind, from_worker=unit.holder, to_worker=to)


def _release_checks(session: Session, pipeline: Pipeline, worker_id: int, now: datetime) -> None:
    """Hidden checks the worker holds go back to the pool (never handed to someone named), and none
    comes back to them for review any more (their data items' re-reviews went to another)."""
    checks.close_returns(session, pipeline.id, worker_id)
    for item in repo.qa_assigned(session, pipeline.id, now, worker_id, checks=True):
        if item.status is ItemStatus.reviewing:
            move_item(item, ItemStatus.completed)
            item.qa_worker_id, item.qa_deadline = None, None
            record(session, item, None, "hold_released")


def reassign(session: Session, user: User, pipeline_id: int, body: ReassignIn, now: datetime) -> ManageOut:
    """Every open item of ``from_worker`` in the stage goes to ``to_worker`` (409 when they may not
    take it, nothing moved)."""
    pipeline, job = _pipeline_stage(session, user, pipeline_id, body.stage_index)
    if not _eligible(session, pipeline, job)(body.to_worker):
        raise WorkerNotEligible(
            f"worker {body.to_worker} cannot take stage {body.stage_index}'s items: not in its team "
            "(or, without a team, not one of its workers), or stopped",
            field="to_worker",
        )
    units = _units(session, pipeline, job, body.from_worker, now)
    _bar_own_work(session, units, [body.to_worker])
    barred = [u.item.id for u in units if body.to_worker in u.barred]
    if barred:
        raise WorkerNotEligible(
            f"worker {body.to_worker} cannot take items {barred}: their own work to review, or an issue "
            "they raised",
            field="to_worker",
        )
    moved = [_move(session, pipeline, u, body.to_worker, user, now) for u in units]
    if job.stage_kind == StageKind.qa.value:
        _release_checks(session, pipeline, body.from_worker, now)
    return ManageOut(stage_index=body.stage_index, moved=moved)


def redistribute(
    session: Session, user: User, pipeline_id: int, body: RedistributeIn, now: datetime
) -> ManageOut:
    """The stage's open items (fixes, or QA holds and re-reviews) spread evenly among ``members``:
    each keeps up to their share of what they have, the rest goes to whoever has most room and may
    take it (409 naming an item nobody listed may take, nothing moved)."""
    pipeline, job = _pipeline_stage(session, user, pipeline_id, body.stage_index)
    eligible = _eligible(session, pipeline, job)
    members = list(body.members)
    refused = [m for m in members if not eligible(m)]
    if refused:
        raise WorkerNotEligible(
            f"workers {refused} cannot take stage {body.stage_index}'s items: not in its team "
            "(or, without a team, not among its workers), or stopped",
            field="members",
        )
    units = _units(session, pipeline, job, None, now)
    _bar_own_work(session, units, members)
    share = {
        m: len(units) // len(members) + (1 if k < len(units) % len(members) else 0)
        for k, m in enumerate(members)
    }
    load = dict.fromkeys(members, 0)
    plan: list[tuple[Unit, int]] = []
    rest = []
    for u in units:  # each member keeps their own up to their share
        if u.holder in load and load[u.holder] < share[u.holder]:
            load[u.holder] += 1
        else:
            rest.append(u)
    for u in rest:
        takers = [m for m in members if m not in u.barred]
        if not takers and u.holder in load:
            load[u.holder] += 1  # nobody else may take it: it stays
            continue
        if not takers:
            raise WorkerNotEligible(
                f"none of workers {members} may take item {u.item.id} (their own work, or their issue)",
                field="members",
            )
        to = min(takers, key=lambda m: (load[m] - share[m], members.index(m)))
        load[to] += 1
        if to != u.holder:
            plan.append((u, to))
    moved = [_move(session, pipeline, u, to, user, now) for u, to in plan]
    return ManageOut(stage_index=body.stage_index, moved=moved, kept=len(units) - len(moved))
