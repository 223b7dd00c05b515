"""Dynamic overlap: an image whose answer is still uncertain goes to one more worker, not to a reviewer.

When a chunk is done, the posterior of each of its images' labels is computed from the answers it has
(:func:`marketplace.quality.adaptive.answer_posterior`: each worker weighted by their accuracy on
this job, shrunk towards the crowd's, with the GT's label frequencies as the prior and the accepted
crowd's confusions on GT as the shape of its errors). A worker's accuracy is their GT record plus,
at half weight, how often their answers matched images the others settled
(:func:`~marketplace.quality.adaptive.agreements`, counted when an image needs no more answers,
``worker_agreement``): far more evidence than the few GT items adaptive GT shows a trusted worker, so
a worker who keeps agreeing is trusted with a lone answer sooner, and one who keeps disagreeing gets a
second opinion more often. It only decides who answers next; the SPRT, pay and bans stay on GT. An image below
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
    agreements,
    answer_accuracy,
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


class _ClassAnswers:
    """A classification job's accepted answers on some images, each with its worker's accuracy (GT
    record and agreement record, shrunk towards the worker's record elsewhere or the crowd's), and
    what the job's GT says about the labels (prior) and the crowd's errors (confusion)."""

    def __init__(self, session: Session, job: Job, image_ids: Sequence[int]) -> None:
        self.job, self.image_ids = job, list(image_ids)
        self.n_labels = len(job.labels)
        index = {label: k for k, label in enumerate(job.labels)}
        records = {r.worker_id: r for r in repo.worker_records(session, job.id)}
        agreement = repo.agreement_records(session, job.id)
        crowd = gt_accuracy(
            sum(r.gt_passed for r in records.values()), sum(r.gt_items for r in records.values())
        )
        gt_ids = assignments_repo.image_ids(session, job.id, gt=True)
        truth = {a.image_id: index[a.label] for a in repo.gt_annotations(session, gt_ids) if a.label in index}
        self.prior = class_prior(list(truth.values()), self.n_labels)
        on_gt = [
            (truth[image_id], index[label])
            for image_id, _, answer in repo.gt_answers(session, job.id, accepted_only=True)
            if image_id in truth and (label := single_label(answer)) in index
        ]
        self.confusion = (
            crowd_confusion([t for t, _ in on_gt], [g for _, g in on_gt], self.n_labels) if on_gt else None
        )
        self.count: dict[int, int] = defaultdict(int)
        self.given: dict[int, list[tuple[int, int, float]]] = defaultdict(list)  # (worker, label, accuracy)
        for image_id, worker_id, answer in overlap_repo.accepted_answers_on(session, image_ids):
            self.count[image_id] += 1
            label = single_label(answer)
            if label not in index:
                continue
            r = records.get(worker_id)
            centre = r.prior_accuracy if r is not None and r.prior_accuracy is not None else crowd
            passed, scored = (r.gt_passed, r.gt_items) if r is not None else (0, 0)
            agreed, compared = agreement.get(worker_id, (0, 0))
            accuracy = answer_accuracy(passed, scored, agreed, compared, centre, CROWD_PRIOR_STRENGTH)
            self.given[image_id].append((worker_id, index[label], accuracy))

    def _arrays(self, image_id: int) -> tuple[np.ndarray, np.ndarray]:
        given = self.given.get(image_id, [])
        return np.array([k for _, k, _ in given], dtype=np.intp), np.array([a for _, _, a in given])

    def uncertain(self) -> list[int]:
        out = []
        for image_id in self.image_ids:
            posterior = answer_posterior(*self._arrays(image_id), self.n_labels, self.prior, self.confusion)
            if wants_another_worker(
                float(posterior.max()),
                self.count[image_id],
                self.job.confidence_threshold,
                self.job.overlap_cap,
            ):
                out.append(image_id)
        return out

    def agreement(self, settled: Sequence[int]) -> dict[int, tuple[int, int]]:
        """worker id -> (answers matching, answers checked) on the ``settled`` images."""
        out: dict[int, tuple[int, int]] = {}
        for image_id in settled:
            matches = agreements(*self._arrays(image_id), self.n_labels, self.prior, self.confusion)
            for (worker_id, _, _), match in zip(self.given.get(image_id, []), matches, strict=True):
                if match is not None:
                    agreed, compared = out.get(worker_id, (0, 0))
                    out[worker_id] = (agreed + int(match), compared + 1)
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
    if job.type is JobType.boxes:
        uncertain = uncertain_box_images(session, job, images)
    else:
        answers = _ClassAnswers(session, job, images)
        uncertain = answers.uncertain()
        waiting = set(uncertain)
        repo.add_agreements(session, job.id, answers.agreement([i for i in images if i not in waiting]))
    overlap_repo.queue(session, job.id, uncertain)
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
