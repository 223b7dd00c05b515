"""Dynamic overlap: an image whose answer is still uncertain goes to one more worker, not to a reviewer.

When a chunk is done, the posterior of each of its images' labels is computed from the answers it has
(:func:`marketplace.quality.adaptive.answer_posterior`: each worker weighted by their GT accuracy on
this job, shrunk towards the crowd's, with the GT's label frequencies as the prior and the accepted
crowd's confusions on GT as the shape of its errors). An image below
the job's ``confidence_threshold`` with fewer than ``max_overlap`` answers joins the job's queue;
every ``assignment_size`` queued images become an *extra chunk*, issued once, to a worker who has not
seen any of its images. When its chunk is done the same test runs again. When the rest of the job is
done, what is left in the queue is cut too (a short last chunk), so the job completes only after the
extra answers are in; an image that reaches the cap still uncertain goes to reviewers at export
(``low_agreement``).

Money: the bounty was divided as if every normal chunk were issued ``max_overlap`` times, so the pay
per assignment is fixed up front and an extra chunk is paid like any assignment. Extra chunks are cut
only while that reserve has room (:func:`~marketplace.assignments.overlap_repository.reserve_left`);
what is not spent is the refund at completion. Classification and box jobs (boxes: the
GT-calibrated merge's uncertain or lone boxes, :func:`uncertain_box_images`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from sqlalchemy.orm import Session

from marketplace.assignments import overlap_repository as overlap_repo
from marketplace.assignments import repository as assignments_repo
from marketplace.models import Job, JobType
from marketplace.quality import repository as repo
from marketplace.quality.adaptive import (
    answer_posterior,
    class_prior,
    crowd_confusion,
    gt_accuracy,
    wants_another_worker,
)
from marketplace.quality.box_calibration import (
    DYNAMIC_MAX_UNCERTAINTY,
    learn_box_calibration,
    merge_boxes_calibrated,
    needs_another_worker,
)
from marketplace.quality.export import box_calibration_for, box_set, gt_objects, single_label
from marketplace.quality.merging import WorkerBoxes
from marketplace.quality.workers import POLICY, worker_weight

UNCALIBRATED = learn_box_calibration({}, {})  # too little GT yet: boxes are merged as drawn
CROWD_PRIOR_STRENGTH = 4.0  # a worker's GT record counts against this many of the crowd's GT items


DYNAMIC_TYPES = (JobType.classification, JobType.boxes)


def enabled(job: Job) -> bool:
    return job.type in DYNAMIC_TYPES and job.overlap_cap > job.overlap


def uncertain_images(session: Session, job: Job, image_ids: Sequence[int]) -> list[int]:
    """The images among ``image_ids`` that want one more answer (below the threshold, under the cap)."""
    if job.type is JobType.boxes:
        return uncertain_box_images(session, job, image_ids)
    labels = list(job.labels)
    index = {label: k for k, label in enumerate(labels)}
    records = {r.worker_id: r for r in repo.worker_records(session, job.id)}
    crowd = gt_accuracy(sum(r.gt_passed for r in records.values()), sum(r.gt_items for r in records.values()))
    gt_ids = assignments_repo.image_ids(session, job.id, gt=True)
    truth = {a.image_id: index[a.label] for a in repo.gt_annotations(session, gt_ids) if a.label in index}
    prior = class_prior(list(truth.values()), len(labels))
    on_gt = [
        (truth[image_id], index[label])
        for image_id, _, answer in repo.gt_answers(session, job.id, accepted_only=True)
        if image_id in truth and (label := single_label(answer)) in index
    ]
    confusion = crowd_confusion([t for t, _ in on_gt], [g for _, g in on_gt], len(labels)) if on_gt else None
    answers: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for image_id, worker_id, answer in overlap_repo.accepted_answers_on(session, image_ids):
        label = single_label(answer)
        record = records.get(worker_id)
        passed, total = (record.gt_passed, record.gt_items) if record else (0, 0)
        centre = record.prior_accuracy if record and record.prior_accuracy is not None else crowd
        accuracy = gt_accuracy(passed, total, centre, CROWD_PRIOR_STRENGTH)
        answers[image_id].append((index.get(label, -1) if label is not None else -1, accuracy))
    out = []
    for image_id in image_ids:
        given = [(k, a) for k, a in answers.get(image_id, []) if k >= 0]
        posterior = answer_posterior(
            np.array([k for k, _ in given], dtype=np.intp),
            np.array([a for _, a in given]),
            len(labels),
            prior,
            confusion,
        )
        count = len(answers.get(image_id, []))
        if wants_another_worker(float(posterior.max()), count, job.confidence_threshold, job.overlap_cap):
            out.append(image_id)
    return out


def uncertain_box_images(session: Session, job: Job, image_ids: Sequence[int]) -> list[int]:
    """Boxes: an image wants one more worker while its GT-calibrated merge has a box drawn by one
    worker only or whose corners are uncertain (above ``DYNAMIC_MAX_UNCERTAINTY`` of its size)."""
    gt_ids = assignments_repo.image_ids(session, job.id, gt=True)
    calibration = box_calibration_for(session, job, gt_ids, gt_objects(session, gt_ids)) or UNCALIBRATED
    weights = {r.worker_id: worker_weight(r) for r in repo.worker_records(session, job.id)}
    answers: dict[int, list[WorkerBoxes]] = defaultdict(list)
    for image_id, worker_id, answer in overlap_repo.accepted_answers_on(session, image_ids):
        answers[image_id].append(WorkerBoxes(worker_id, box_set(answer or []), weights.get(worker_id, 0.5)))
    out = []
    for image_id in image_ids:
        given = answers.get(image_id, [])
        if len(given) >= job.overlap_cap:
            continue
        merged = merge_boxes_calibrated(given, calibration, quorum=POLICY.quorum)
        if len(needs_another_worker(merged, max_uncertainty=DYNAMIC_MAX_UNCERTAINTY)):
            out.append(image_id)
    return out


def after_chunk_done(session: Session, job: Job, chunk_id: int) -> int:
    """Queue the chunk's uncertain images; cut extra chunks when a full one is queued. Returns chunks cut."""
    if not enabled(job):
        return 0
    images = assignments_repo.chunk_image_ids(session, chunk_id)
    overlap_repo.queue(session, job.id, uncertain_images(session, job, images))
    if overlap_repo.pending_count(session, job.id) < job.assignment_size:
        return 0
    return cut(session, job, final=False)


def cut(session: Session, job: Job, *, final: bool) -> int:
    """Cut the queue into extra chunks of ``assignment_size`` (``final``: the short rest too) while the
    reserve has room; with ``final``, what does not fit is dropped (its images go to reviewers)."""
    if not enabled(job):
        return 0
    assignments_repo.lock_job(session, job.id)  # one cutter at a time: positions and the reserve
    queued = overlap_repo.pending(session, job.id)
    size = job.assignment_size
    batches = [queued[i : i + size] for i in range(0, len(queued), size)]
    if batches and len(batches[-1]) < size and not final:
        batches.pop()
    batches = batches[: max(overlap_repo.reserve_left(session, job), 0)]
    for batch in batches:
        overlap_repo.add_extra_chunk(session, job.id, batch)
    taken = [i for batch in batches for i in batch]
    overlap_repo.dequeue(session, queued if final else taken)
    return len(batches)
