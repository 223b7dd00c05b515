"""Multi-stage pipelines across domains: creating the stages' jobs, handing an item from the annotate
stages to QA, and paying the QA stage per decided item.

1. :func:`create_pipeline`: every annotate stage becomes an ordinary boxes job over the pipeline's
   images with its labels only (its part of the GT, its own bounty, so its own escrow and ledger
   line); the QA stage becomes a job without chunks whose budget is one pay unit per data image.
   Each stage is funded on its own (the jobs' funding endpoints); stages run side by side, or in
   sequence (:mod:`marketplace.flows.stage_sequence`).
2. :func:`stage_completed` (task ``pipelines.stage_completed``, sent after the commit of
   :func:`marketplace.flows.completion.complete_if_done`; swept periodically): an annotate stage's
   merged work is copied onto the pipeline's items, each object credited to the worker who drew it
   (:mod:`marketplace.pipelines.credit`); when every annotate stage's work is there the items are
   ``completed`` and the QA stage opens.
3. :func:`decide`: a QA decision. The pipeline's GT images are hidden checks for QA workers: each
   carries one known defect (:mod:`marketplace.pipelines.defects`), and a QA worker who misses too
   many is stopped and what they decided is reviewed again. With every data item decided, each
   earns the QA worker who decided it the stage's pay once (ledger key per item), and the QA job
   completes and settles (unspent money back to the requester). Fixing an issue is not paid again:
   the annotator was paid for the accepted work.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from marketplace.accounts import service as accounts
from marketplace.config import Settings
from marketplace.db import session_scope
from marketplace.errors import InvalidInput
from marketplace.jobs import economics
from marketplace.jobs import repository as jobs_repo
from marketplace.jobs import service as jobs
from marketplace.jobs.schemas import JobSpec
from marketplace.jobs.states import transition
from marketplace.models import (
    ItemStatus,
    Job,
    JobStatus,
    JobType,
    Pipeline,
    PipelineItem,
    PipelineStatus,
    Rail,
    StageKind,
    User,
    utcnow,
)
from marketplace.payouts import service as payouts
from marketplace.pipelines import checks, defects, service
from marketplace.pipelines import repository as repo
from marketplace.pipelines.credit import credit
from marketplace.pipelines.items import record
from marketplace.pipelines.schemas import AnnotateStage, DecisionIn, PipelineSpec, QaStage
from marketplace.pipelines.states import FINAL, move_item, move_pipeline
from marketplace.quality import export
from marketplace.quality import repository as quality_repo
from marketplace.quality.coco_export import ImageResult
from marketplace.storage import Storage
from workers.enqueue import enqueue_after_release

_rng = random.SystemRandom()


def stage_gt(coco: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    """The part of a COCO GT file a stage sees: every GT image, only its labels' objects."""
    categories = [c for c in coco.get("categories") or [] if isinstance(c, dict) and c.get("name") in labels]
    kept = {c.get("id") for c in categories}
    return {
        **coco,
        "categories": categories,
        "annotations": [
            a for a in coco.get("annotations") or [] if isinstance(a, dict) and a.get("category_id") in kept
        ],
    }


def _annotate_spec(body: PipelineSpec, stage: AnnotateStage, index: int) -> JobSpec:
    try:
        return JobSpec.model_validate(
            {
                "type": JobType.boxes.value,
                "title": f"{body.title} · {stage.name}"[:200],
                "description": body.description,
                "labels": stage.labels,
                "rail": body.rail,
                "currency": body.currency,
                "bounty_amount": stage.bounty_amount,
                "accuracy_target": stage.accuracy_target,
                "assignment_size": stage.assignment_size,
                "gt_per_assignment": stage.gt_per_assignment,
                "overlap": stage.overlap,
                "time_limit_s": stage.time_limit_s,
            }
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(problems, field=f"stages[{index}]") from exc


def create_pipeline(
    session: Session,
    requester: User,
    body: PipelineSpec,
    *,
    gt: dict[str, Any],
    storage: Storage,
    settings: Settings,
) -> Pipeline:
    """The pipeline, one draft job per stage, and one item per data image (nothing half-written: a
    stage that fails its checks fails the whole request)."""
    qa = body.stages[-1]
    assert isinstance(qa, QaStage)
    for index, stage in enumerate(body.stages):
        if stage.members is not None:
            accounts.require_workers(session, stage.members, f"stages[{index}].members")
    for k, route in enumerate(qa.routes):
        accounts.require_workers(
            session, route.members, f"stages[{len(body.stages) - 1}].routes[{k}].members"
        )
    pipeline = Pipeline(
        requester_id=requester.id,
        title=body.title,
        status=PipelineStatus.annotating,
        qa_members=qa.members,
        qa_routes=[r.model_dump() for r in qa.routes] or None,
        qa_time_limit_s=qa.time_limit_s,
        fix_time_limit_s=qa.fix_time_limit_s,
    )
    repo.add(session, pipeline)
    first: Job | None = None
    previous: Job | None = None
    for index, stage in enumerate(body.stages[:-1]):
        assert isinstance(stage, AnnotateStage)
        job = jobs.create_job(
            session,
            requester,
            _annotate_spec(body, stage, index),
            data_uri=storage.uri,
            storage=storage,
            gt_raw=stage_gt(gt, stage.labels),
            settings=settings,
        )
        job.pipeline_id, job.stage_index, job.stage_kind = pipeline.id, index, StageKind.annotate.value
        job.members = sorted(set(stage.members)) if stage.members is not None else None
        job.after_job_id = previous.id if body.in_sequence and previous is not None else None
        first, previous = first or job, job
    assert first is not None
    names = repo.image_names(session, first.id)  # GT images become the QA workers' hidden checks
    _rng.shuffle(names)  # ids in no telling order: checks and data items interleaved
    data_count = sum(1 for _, is_gt in names if not is_gt)
    economics.require_payable(  # the QA stage pays one unit per data item
        qa.bounty_amount,
        settings.platform_fee_bps,
        data_count,
        1,
        1,
        what=lambda _: f"{data_count} items",
        field=f"stages[{len(body.stages) - 1}].bounty_amount",
        noun="a QA bounty",
    )
    labels = [label for s in body.stages[:-1] if isinstance(s, AnnotateStage) for label in s.labels]
    jobs_repo.add_job(
        session,
        Job(
            requester_id=requester.id,
            type=JobType.boxes,
            status=JobStatus.draft,
            title=f"{body.title} · {qa.name}"[:200],
            description=body.description,
            labels=labels,
            data_uri=storage.uri,
            accuracy_target=0.0,
            iou_threshold=0.5,
            point_tolerance=0.1,
            bounty_amount=qa.bounty_amount,
            currency=body.currency,
            rail=Rail(body.rail),
            assignment_size=1,  # the budget: one pay unit per item
            gt_per_assignment=0,
            time_limit_s=qa.time_limit_s,
            overlap=1,
            max_attempts=1,
            image_count=data_count,
            gt_count=0,
            pipeline_id=pipeline.id,
            stage_index=len(body.stages) - 1,
            stage_kind=StageKind.qa.value,
            members=sorted(set(qa.members)) if qa.members is not None else None,
        ),
    )
    repo.add_items(session, pipeline.id, names)
    return pipeline


def schedule_stage_merge(session: Session, job: Job) -> None:
    """An annotate stage's job completed: after commit, its work goes onto the items (task
    ``pipelines.stage_completed``; a big stage's merge is not part of the transaction that completed
    it). The pipelines' periodic sweep catches a merge whose task was lost."""
    if job.pipeline_id is None or job.stage_kind != StageKind.annotate.value:
        return
    job_id = job.id
    enqueue_after_release(
        session, "pipelines.stage_completed", lambda factory: run_stage_merge(factory, job_id), job_id
    )


def run_stage_merge(factory: Callable[[], Session] | None, job_id: int) -> None:
    with session_scope(factory) as session:
        job = jobs_repo.get_job(session, job_id)
        if job is not None and job.status is JobStatus.completed:
            stage_completed(session, job)


def merge_missed_stages(session: Session) -> int:
    """The sweep: completed annotate stages whose work is not on the items yet; merged now."""
    stages = repo.completed_stages_without_work(session)
    for job in stages:
        stage_completed(session, job)
    return len(stages)


def stage_completed(session: Session, job: Job) -> None:
    """An annotate stage's job completed: its work goes onto the items (once); when every annotate
    stage's work is there, QA opens."""
    if job.pipeline_id is None or job.stage_kind != StageKind.annotate.value:
        return
    pipeline = repo.get_pipeline(session, job.pipeline_id, for_update=True)
    assert pipeline is not None
    if repo.stage_has_work(session, job.id):  # (read under the pipeline's lock: merged once)
        return
    answers: dict[int, list[tuple[int, Any]]] = {}
    for image_id, worker_id, _, answer, _ in quality_repo.accepted_answers(session, job.id):
        answers.setdefault(image_id, []).append((worker_id, answer or []))
    items = {i.name: i for i in repo.items(session, pipeline.id)}
    rows, per_image = [], []
    merged = export.merge_job(session, job)
    for r in merged:
        if r.is_gt or r.image.name not in items:
            continue
        per_image.append(len(answers.get(r.image.id, [])))
        rows.append(_work_row(items[r.image.name].id, job, r, answers.get(r.image.id, [])))
    picked = _check_answers(
        session, job, {r.image.id for r in merged if r.is_gt and r.image.name in items}, per_image
    )
    for r in export.merge_like_data(session, job, picked):
        rows.append(_work_row(items[r.image.name].id, job, r, picked[r.image.id]))
    repo.add_work(session, rows)
    stages = service.annotate_stages(repo.stage_jobs(session, pipeline.id))
    if all(s.status is JobStatus.completed and repo.stage_has_work(session, s.id) for s in stages):
        _open_qa(session, pipeline, list(items.values()), len(stages))


def _work_row(item_id: int, job: Job, merged: ImageResult, answers: list[tuple[int, Any]]) -> dict[str, Any]:
    """What a stage made of an item: its merged objects, each credited to the worker who drew it."""
    objects = [{"label": o.label, "geometry": o.geometry} for o in merged.objects]
    by, annotator = credit(objects, answers)
    return {
        "item_id": item_id,
        "job_id": job.id,
        "image_id": merged.image.id,
        "annotator_id": annotator,
        "objects": [{**o, "by": w} for o, w in zip(objects, by, strict=True)],
    }


def _check_answers(
    session: Session, job: Job, gt_images: set[int], per_image: list[int]
) -> dict[int, list[tuple[int, Any]]]:
    """For each GT image that becomes a hidden check: as many of the crowd's accepted answers on it
    as a data image of the stage typically got. Merged like a data image's, they make the check look
    like one: crowd-drawn boxes, credited to crowd workers, never the requester's tidy GT. A GT image
    nobody answered gets nothing (its check is dropped)."""
    count = max(1, int(statistics.median_low(per_image))) if per_image else 1
    return sample_gt_answers(session, job, gt_images, count)


def sample_gt_answers(
    session: Session, job: Job, gt_images: set[int], count: int
) -> dict[int, list[tuple[int, Any]]]:
    """Up to ``count`` of the crowd's accepted answers (given as GT slots) on each of these GT images
    of a stage's job, one per worker, drawn at random: image id -> [(worker id, answer)]."""
    answers: dict[int, dict[int, Any]] = {}
    for image_id, worker_id, answer in quality_repo.gt_answers(session, job.id, accepted_only=True):
        if image_id in gt_images:
            answers.setdefault(image_id, {}).setdefault(worker_id, answer or [])
    return {
        image_id: _rng.sample(sorted(by_worker.items(), key=lambda a: a[0]), min(count, len(by_worker)))
        for image_id, by_worker in answers.items()
    }


def _open_qa(session: Session, pipeline: Pipeline, items: list[PipelineItem], stage_count: int) -> None:
    """Every annotate stage is done: each hidden check gets its one defect, and every item waits for
    QA. A check that some stage never answered, or without any object to spoil, is dropped (it would
    not look like a data item)."""
    dropped = []
    for item in items:
        if item.is_check:
            work = {w.job_id: w for w, _ in repo.work_of_item(session, item.id)}
            spoiled = defects.inject({j: w.objects for j, w in work.items()}, _rng)
            if spoiled is None or len(work) < stage_count:
                dropped.append(item)
                continue
            for job_id, objects in spoiled[0].items():
                work[job_id].objects = objects
            item.defect = spoiled[1]
        move_item(item, ItemStatus.completed)
        record(session, item, None, "annotated")
    repo.delete_items(session, dropped)
    move_pipeline(pipeline, PipelineStatus.reviewing)


def decide(
    session: Session, worker: User, item_id: int, body: DecisionIn, now: datetime | None = None
) -> ItemStatus:
    """A QA decision (see :func:`marketplace.pipelines.service.decide`); the last one completes the
    pipeline."""
    item, shown = service.decide(session, worker, item_id, body, now or utcnow())
    if shown in FINAL and not item.is_check:
        finish_if_done(session, item.pipeline_id)
    return shown


def finish_if_done(session: Session, pipeline_id: int) -> None:
    """Every data item decided: each earns the QA worker who decided it the stage's pay (once per
    item: a decision by a QA worker later stopped was made again by another), then the QA job
    completes and settles (paid out, unspent money refunded); hidden checks still on their way back
    to a QA worker never come back (and their images are no longer theirs to see, as the data items')."""
    pipeline = repo.get_pipeline(session, pipeline_id, for_update=True)
    assert pipeline is not None
    if pipeline.status is not PipelineStatus.reviewing or repo.undecided_count(session, pipeline_id):
        return
    qa = service.qa_stage(repo.stage_jobs(session, pipeline_id))
    for item in repo.items(session, pipeline_id):
        if item.status in FINAL and item.qa_worker_id is not None:
            payouts.earn_unit(
                session, qa.id, item.qa_worker_id, f"pipeline-item:{item.id}", f"QA of item {item.id}"
            )
    move_pipeline(pipeline, PipelineStatus.completed)
    checks.close_returns(session, pipeline_id)  # decided like the data items: no longer to be seen
    transition(qa, JobStatus.completed)
    payouts.settle_completed(session, qa)
