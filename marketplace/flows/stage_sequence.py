"""A pipeline's annotate stages in sequence: a stage's work opens as the stage before finishes it.

A pipeline created with ``in_sequence`` chains its annotate stages (``jobs.after_job_id``): the cars
stage first, then the pedestrians stage on the same images, seeing the cars (Dataloop's micro-tasks
one after another). Each later stage's chunks start ``waiting`` (:func:`open_job_for_work`), and
:func:`open_ready` opens a chunk once every image in it is done in the stage before: each chunk there
holding the image is done and no extra answer on it is pending. Called after each scoring in a stage
that has a stage after it, and by the periodic sweep for what other paths finish (reviewer decisions).

What the later stage's workers see of the earlier stages is each image's ``context``: the earlier
stages' merged objects. GT images need the same, or they would be the images without it; so a GT image
of the later stage is mixed into its assignments only once every earlier stage's crowd has answered it
(as a GT slot there), and its context is those crowd answers merged the way a data image's are (as
many as a stage's data image gets) - never the requester's tidy GT. A stage's chunks open only when
enough of its GT images are in use to fill an assignment's GT slots.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from marketplace.assignments import sequence_repository as sequence_repo
from marketplace.assignments.service import open_gt_images
from marketplace.assignments.states import open_waiting
from marketplace.flows.pipeline import sample_gt_answers
from marketplace.jobs import repository as jobs_repo
from marketplace.models import Job, JobStatus, StageKind
from marketplace.pipelines import repository as pipelines_repo
from marketplace.quality import export
from marketplace.quality import repository as quality_repo


def open_ready(session: Session, before: Job) -> int:
    """Open the waiting chunks of the stage after ``before`` whose images ``before`` has finished
    (with their images' context); returns how many opened."""
    opened = 0
    for job in jobs_repo.jobs_after(session, before.id):
        if job.status is JobStatus.active:
            opened += _open_stage(session, job, before)
    return opened


def _open_stage(session: Session, job: Job, before: Job) -> int:
    waiting = sequence_repo.waiting_chunks(session, job.id)
    if not waiting:
        return 0
    names = sorted({name for images in waiting.values() for _, name in images})
    done = sequence_repo.finished_image_names(session, before.id, names)
    ready = [c for c, images in waiting.items() if all(name in done for _, name in images)]
    if not ready:
        return 0
    earlier = [
        j
        for j in pipelines_repo.stage_jobs(session, job.pipeline_id or 0)
        if j.stage_kind == StageKind.annotate.value and (j.stage_index or 0) < (job.stage_index or 0)
    ]
    if not _gt_in_use(session, job, earlier):
        return 0
    chunks = sequence_repo.lock_waiting_chunks(session, ready)
    images = {image_id: name for chunk in chunks for image_id, name in waiting[chunk.id]}
    sequence_repo.set_context(session, _data_context(session, earlier, images))
    for chunk in chunks:
        open_waiting(chunk, chunk.overlap or job.overlap)
    return len(chunks)


def _data_context(
    session: Session, earlier: list[Job], images: dict[int, str]
) -> dict[int, list[dict[str, Any]]]:
    """image id -> the earlier stages' merged objects on the same data image."""
    out: dict[int, list[dict[str, Any]]] = {image_id: [] for image_id in images}
    for stage in earlier:
        ids = {i.name: i.id for i in quality_repo.job_images(session, stage.id)}
        theirs = {ids[name]: image_id for image_id, name in images.items() if name in ids}
        answers: dict[int, list[tuple[int, Any]]] = {i: [] for i in theirs}
        for image_id, worker_id, _, answer, _ in quality_repo.accepted_answers(
            session, stage.id, list(theirs)
        ):
            answers[image_id].append((worker_id, answer or []))
        for merged in export.merge_like_data(session, stage, answers):
            out[theirs[merged.image.id]] += _objects(merged)
    return out


def _gt_in_use(session: Session, job: Job, earlier: list[Job]) -> bool:
    """Bring into use the stage's GT images that every earlier stage's crowd has answered (their
    context written first); whether enough are in use to fill an assignment's GT slots."""
    candidates = sequence_repo.gt_images_not_in_use(session, job.id)
    usable: dict[int, str] = {}
    if candidates:
        context: dict[str, list[dict[str, Any]]] = {name: [] for name in candidates.values()}
        answered = set(context)
        for stage in earlier:
            ids = {i.name: i.id for i in quality_repo.job_images(session, stage.id) if i.name in context}
            picked = sample_gt_answers(session, stage, set(ids.values()), max(1, stage.overlap))
            names = {v: k for k, v in ids.items()}
            answered &= {names[i] for i, a in picked.items() if a}
            for merged in export.merge_like_data(session, stage, picked):
                context[names[merged.image.id]] += _objects(merged)
        usable = {image_id: name for image_id, name in candidates.items() if name in answered}
        sequence_repo.set_context(session, {image_id: context[name] for image_id, name in usable.items()})
        open_gt_images(session, job.id, sorted(usable))
    in_use = job.gt_count - len(candidates) + len(usable)
    return in_use >= min(job.gt_per_assignment, job.gt_count) or not any(
        j.status is JobStatus.active for j in earlier
    )  # the earlier stages will answer no more GT: open with what there is


def _objects(merged: Any) -> list[dict[str, Any]]:
    return [{"label": o.label, "geometry": list(o.geometry)} for o in merged.objects if o.geometry]


def open_all_ready(session: Session) -> int:
    """The periodic catch-up: every active stage in sequence, checked against the stage before."""
    opened = 0
    for job in jobs_repo.jobs_waiting_on_a_stage(session):
        before = jobs_repo.get_job(session, job.after_job_id or 0)
        if before is not None:
            opened += _open_stage(session, job, before)
    return opened
