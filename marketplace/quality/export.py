"""Merging a finished job's accepted work and exporting it. Takes a session, never commits.

* overlap 1: the accepted worker's annotations are final (confidence 1);
* overlap >= 2: boxes and points are clustered across workers and combined with weights from each
  worker's GT record (:mod:`marketplace.quality.merging`). When the workers' answers on GT images
  hold enough matched boxes, boxes are first corrected for each worker's localisation bias and
  merged with GT-learned reliability (:mod:`marketplace.quality.box_calibration`); each box then
  carries an ``uncertainty`` and an uncertain box marks its image low-agreement. Classification
  goes through the aggregator the job's own GT chooses (majority vote, Dawid-Skene smoothed or
  pooled, one-coin, GLAD, each also with the GT answers clamped; :mod:`marketplace.quality.selection`).
  Which one and why (every candidate's held-out GT accuracy) goes into ``summary.json`` as ``aggregation`` and
  into a job notice for the dashboard. Items whose
  confidence stays low after dynamic overlap go to reviewers as ``low_agreement``.

Files (under ``results/<job_id>/`` of the platform storage):
``instances.json`` (COCO boxes; for polygon jobs segmentations, plus ``instances_rle.json`` with
every mask as an RLE: :mod:`marketplace.quality.polygon_export`) |
``keypoints.json`` (COCO, one keypoint per category) |
``classification.json`` + ``classification.csv`` (image, label, confidence); always
``interactions.json`` (what the browser recorded per item) and ``summary.json``. GT images carry the
requester's GT (``"is_gt": true`` on the COCO image).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from marketplace.config import Settings
from marketplace.errors import Forbidden, NotFound, WrongJobType
from marketplace.jobs import attributes
from marketplace.jobs.service import get_job_for
from marketplace.models import DisputeKind, GtAnnotation, Job, JobImage, JobStatus, JobType, Role, User
from marketplace.quality import repository as repo
from marketplace.quality.aggregation import CrowdAnswers
from marketplace.quality.box_calibration import (
    BoxCalibration,
    learn_box_calibration,
    merge_boxes_calibrated,
    needs_another_worker,
)
from marketplace.quality.coco_export import ImageResult, MergedObject, coco_instances, coco_keypoints
from marketplace.quality.merging import WorkerBoxes, WorkerPoints, merge_boxes, merge_points
from marketplace.quality.polygon_export import merge_image
from marketplace.quality.scoring import BoxSet
from marketplace.quality.selection import Selection, min_expected_cost, select_aggregator
from marketplace.quality.service import point_tolerance_fractions
from marketplace.quality.video_export import build_video_files, open_stitch_disputes, unlinked_by_video
from marketplace.quality.workers import POLICY, worker_weight
from marketplace.reviews import service as reviews
from marketplace.storage import Storage, open_storage
from workers.enqueue import enqueue

RESULTS_PREFIX = "results"
CONTENT_TYPES = {
    ".json": "application/json",
    ".csv": "text/csv",
    ".xml": "application/xml",
    ".txt": "text/plain",
}


# -- merging --------------------------------------------------------------------------------------


def _answers_by_image(rows: Sequence[tuple[int, int, int, Any, Any]]) -> dict[int, list[tuple[int, Any]]]:
    out: dict[int, list[tuple[int, Any]]] = defaultdict(list)
    for image_id, worker_id, _assignment_id, answer, _ in rows:
        out[image_id].append((worker_id, answer or []))
    return out


@dataclass
class JobMerge:
    results: list[ImageResult]
    aggregation: dict[str, Any] | None = None  # classification: the chosen aggregator and why


def merge_job(session: Session, job: Job) -> list[ImageResult]:
    return merge_job_report(session, job).results


def merge_job_report(session: Session, job: Job) -> JobMerge:
    if job.is_video:  # its answers are tracks: see video_export
        raise WrongJobType(
            f"job {job.id} is a video job: its results are its files (/api/jobs/{job.id}/results)"
        )
    images = repo.job_images(session, job.id)
    weights = {r.worker_id: worker_weight(r) for r in repo.worker_records(session, job.id)}
    answers = _answers_by_image(repo.accepted_answers(session, job.id))
    gt = gt_objects(session, [i.id for i in images if i.is_gt])
    results = [ImageResult(img, gt.get(img.id, []), 0, True) for img in images if img.is_gt]
    data = [img for img in images if not img.is_gt]
    aggregation = None
    if job.type is JobType.classification:
        classified, selection = _classify(session, job, data, answers, weights, gt)
        results += classified
        aggregation = selection.report() if selection else None
    else:
        calibration = box_calibration_for(session, job, [img.id for img in images if img.is_gt], gt)
        results += [_merge_geometry(job, img, answers.get(img.id, []), weights, calibration) for img in data]
    return JobMerge(sorted(results, key=lambda r: r.image.id), aggregation)


def merge_like_data(
    session: Session, job: Job, picked: Mapping[int, Sequence[tuple[int, Any]]]
) -> list[ImageResult]:
    """Chosen answers ``(worker id, answer)`` on some of a geometry job's images (by image id: its GT
    images, say) merged as its data images' answers are: the same worker weights, the same box
    calibration."""
    images = repo.job_images(session, job.id)
    gt_ids = [i.id for i in images if i.is_gt]
    weights = {r.worker_id: worker_weight(r) for r in repo.worker_records(session, job.id)}
    calibration = box_calibration_for(session, job, gt_ids, gt_objects(session, gt_ids))
    return [
        _merge_geometry(job, img, list(picked[img.id]), weights, calibration)
        for img in images
        if img.id in picked
    ]


def gt_objects(session: Session, image_ids: Sequence[int]) -> dict[int, list[MergedObject]]:
    out: dict[int, list[MergedObject]] = defaultdict(list)
    for ann in repo.gt_annotations(session, image_ids):
        out[ann.image_id].append(_gt_object(ann))
    return out


def _gt_object(ann: GtAnnotation) -> MergedObject:
    geometry = ann.geometry
    return MergedObject(ann.label, geometry if isinstance(geometry, list | dict) and geometry else None, 1.0)


def box_set(objects: Sequence[dict[str, Any]]) -> BoxSet:
    return BoxSet.of([o["geometry"] for o in objects], [o["label"] for o in objects])


def box_calibration_for(
    session: Session, job: Job, gt_images: Sequence[int], gt: dict[int, list[MergedObject]]
) -> BoxCalibration | None:
    """What the workers' answers on GT images teach about their boxes (None: nothing learned)."""
    if job.type is not JobType.boxes or job.overlap_cap < 2:
        return None
    drawn: dict[Hashable, dict[Hashable, BoxSet]] = defaultdict(dict)
    for image_id, worker_id, answer in repo.gt_answers(session, job.id):
        drawn[image_id][worker_id] = box_set(answer or [])
    truth: dict[Hashable, BoxSet] = {
        i: BoxSet.of([o.geometry for o in gt.get(i, [])], [o.label for o in gt.get(i, [])]) for i in gt_images
    }
    calibration = learn_box_calibration(drawn, truth, overlap=max(job.overlap, 2))
    return calibration if calibration.learned else None


def _merge_geometry(
    job: Job,
    image: JobImage,
    answers: list[tuple[int, Any]],
    weights: dict[int, float],
    calibration: BoxCalibration | None = None,
) -> ImageResult:
    result = ImageResult(image, workers=len(answers))
    voted = attributes.voter(job.attributes or [], answers, weights)
    if len(answers) == 1:
        worker, objects = answers[0]
        result.objects = [
            MergedObject(a["label"], a["geometry"], 1.0, attributes=voted([(worker, n)]))
            for n, a in enumerate(objects)
        ]
        return result
    if not answers:
        return result
    if job.type is JobType.polygons:
        merged_shapes = merge_image(
            image.height, image.width, answers, weights, iou_threshold=job.iou_threshold, quorum=POLICY.quorum
        )
        result.objects = [
            MergedObject(label, rings, conf, support, attributes=voted(members))
            for label, rings, conf, support, members in merged_shapes
        ]
        result.low_confidence = any(o.confidence < POLICY.box_low_confidence for o in result.objects)
        return result
    if job.type is JobType.boxes and calibration is not None:
        calibrated = merge_boxes_calibrated(
            [WorkerBoxes(w, box_set(ans), weights.get(w, 0.5)) for w, ans in answers],
            calibration,
            quorum=POLICY.quorum,
        )
        merged = calibrated.merged
        uncertain = needs_another_worker(calibrated, min_support=0)
        result.objects = [
            MergedObject(
                str(label), [float(v) for v in coords], float(conf), int(support), float(sd), voted(members)
            )
            for coords, label, conf, support, sd, members in zip(
                merged.coords,
                merged.labels,
                merged.confidence,
                merged.support,
                calibrated.uncertainty,
                merged.members,
                strict=True,
            )
        ]
        result.low_confidence = len(uncertain) > 0 or any(
            o.confidence < POLICY.box_low_confidence for o in result.objects
        )
        return result
    if job.type is JobType.boxes:
        merged = merge_boxes(
            [
                WorkerBoxes(
                    w, BoxSet.of([a["geometry"] for a in ans], [a["label"] for a in ans]), weights.get(w, 0.5)
                )
                for w, ans in answers
            ],
            iou_threshold=job.iou_threshold,
            quorum=POLICY.quorum,
        )
    else:
        _, rel_image = point_tolerance_fractions(job)
        merged = merge_points(
            [
                WorkerPoints(
                    w,
                    np.asarray([a["geometry"] for a in ans], dtype=np.float64).reshape(-1, 2),
                    np.asarray([a["label"] for a in ans], dtype=object),
                    weights.get(w, 0.5),
                )
                for w, ans in answers
            ],
            tolerance_px=rel_image * float(np.hypot(image.width, image.height)),
            quorum=POLICY.quorum,
        )
    result.objects = [
        MergedObject(
            str(label), [float(v) for v in coords], float(conf), int(support), attributes=voted(members)
        )
        for coords, label, conf, support, members in zip(
            merged.coords, merged.labels, merged.confidence, merged.support, merged.members, strict=True
        )
    ]
    result.low_confidence = any(o.confidence < POLICY.box_low_confidence for o in result.objects)
    return result


def single_label(answer: Any) -> str | None:
    labels = sorted({a["label"] for a in answer or []})
    return labels[0] if len(labels) == 1 else None


def _classify(
    session: Session,
    job: Job,
    data: Sequence[JobImage],
    answers: dict[int, list[tuple[int, Any]]],
    weights: dict[int, float],
    gt: dict[int, list[MergedObject]],
) -> tuple[list[ImageResult], Selection | None]:
    triples = [
        (img.id, w, label)
        for img in data
        for w, ans in answers.get(img.id, [])
        if (label := single_label(ans)) is not None
    ]
    triples += [(i, w, label) for i, w, a in repo.gt_answers(session, job.id) if (label := single_label(a))]
    results = {img.id: ImageResult(img, workers=len(answers.get(img.id, []))) for img in data}
    selection = None
    if triples:
        crowd = CrowdAnswers.from_triples(triples, labels=list(job.labels))
        known = crowd.label_indices({i: objs[0].label for i, objs in gt.items() if objs})
        selection = select_aggregator(crowd, known)
        aggregate = selection.aggregate
        label_index = {label: k for k, label in enumerate(crowd.label_ids)}
        decided = aggregate.labels
        if job.cost_matrix:  # the label of least expected cost, not the most likely one
            order = [list(job.labels).index(str(label)) for label in crowd.label_ids]
            costs = np.asarray(job.cost_matrix)[np.ix_(order, order)]
            decided = min_expected_cost(aggregate.posterior, costs)
        for index, item_id in enumerate(crowd.item_ids):
            if item_id in results:
                chosen = int(decided[index])
                single = answers.get(int(item_id), [])
                if job.overlap == 1 and len(single) == 1 and single_label(single[0][1]) in label_index:
                    # overlap 1: the accepted worker's answer is final; the posterior only rates it
                    chosen = label_index[single_label(single[0][1])]
                label = str(crowd.label_ids[chosen])
                confidence = float(aggregate.posterior[index, chosen])
                result = results[int(item_id)]
                result.objects = [MergedObject(label, None, confidence, result.workers)]
                result.low_confidence = result.workers > 1 and confidence < POLICY.class_low_confidence
    return list(results.values()), selection


# -- files ----------------------------------------------------------------------------------------


def classification_rows(results: Sequence[ImageResult]) -> list[dict[str, Any]]:
    return [
        {
            "image": r.image.name,
            "label": r.objects[0].label if r.objects else None,
            "confidence": r.objects[0].confidence if r.objects else None,
            "is_gt": r.is_gt,
            "workers": r.workers,
        }
        for r in results
    ]


def classification_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "label", "confidence"])
    for row in rows:
        confidence = "" if row["confidence"] is None else f"{row['confidence']:.6f}"
        writer.writerow([row["image"], row["label"] or "", confidence])
    return buffer.getvalue().encode()


def interactions_json(session: Session, job: Job) -> dict[str, Any]:
    records = [
        {
            "assignment_id": assignment_id,
            "worker_id": worker_id,
            "position": position,
            "image": name,
            "is_gt": is_gt,
            "interactions": interactions,
        }
        for assignment_id, worker_id, position, name, is_gt, interactions in repo.all_interactions(
            session, job.id
        )
    ]
    return {"job_id": job.id, "records": records}


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=1, sort_keys=False).encode()


def build_files(
    session: Session, job: Job, results: Sequence[ImageResult], aggregation: dict[str, Any] | None = None
) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if job.type is JobType.boxes:
        files["instances.json"] = _json(coco_instances(job, results))
    elif job.type is JobType.polygons:
        files["instances.json"] = _json(coco_instances(job, results))
        files["instances_rle.json"] = _json(coco_instances(job, results, rle=True))
    elif job.type is JobType.points:
        files["keypoints.json"] = _json(coco_keypoints(job, results))
    else:
        rows = classification_rows(results)
        files["classification.json"] = _json({"job_id": job.id, "labels": job.labels, "items": rows})
        files["classification.csv"] = classification_csv(rows)
    files["interactions.json"] = _json(interactions_json(session, job))
    low = [r.image.name for r in results if r.low_confidence]
    files["summary.json"] = _json(
        {
            "job_id": job.id,
            "type": job.type.value,
            "overlap": job.overlap,
            "images": len(results),
            "low_agreement": low,
            **({"aggregation": aggregation} if aggregation else {}),
        }
    )
    return files


# -- finalizing -----------------------------------------------------------------------------------


def results_storage(settings: Settings) -> Storage:
    return open_storage(settings.effective_storage_url, settings)


def result_key(job_id: int, name: str) -> str:
    return f"{RESULTS_PREFIX}/{job_id}/{name}"


def finalize_job(session: Session, job_id: int, settings: Settings, *, force: bool = False) -> bool:
    """Merge and export a completed job (once; ``force`` re-exports after a reviewer's fix)."""
    job = repo.lock_job(session, job_id)
    if job is None or job.status is not JobStatus.completed:
        return False
    if repo.result_files(session, job.id) and not force:
        return False
    if job.is_video:
        decided = reviews.decided_subjects(session, job.id, DisputeKind.ambiguous_stitch)
        video = build_video_files(session, job, unlinked_by_video(job, decided))
        open_stitch_disputes(session, job, video.ambiguous, decided)
        store_files(session, job, video.files, results_storage(settings))
        enqueue(session, "payouts.record_results", job.id)
        return True
    merged = merge_job_report(session, job)
    open_low_agreement_disputes(session, job, merged.results)
    if merged.aggregation:
        repo.add_notice(session, job.id, "aggregation", aggregation_notice(merged.aggregation))
    store_files(
        session, job, build_files(session, job, merged.results, merged.aggregation), results_storage(settings)
    )
    enqueue(session, "payouts.record_results", job.id)  # the results' hash on the job's rail
    return True


def aggregation_notice(report: dict[str, Any]) -> str:
    """One line for the dashboard: the method chosen, why, and the candidates' GT accuracy."""
    scores = ", ".join(
        f"{name} {100 * value:.1f}%" for name, value in report["gt_accuracy"].items() if value is not None
    )
    text = f"Labels aggregated by {report['method']}: {report['reason']}."
    return f"{text} Held-out GT accuracy: {scores}." if scores else text


def results_digest(session: Session, job_id: int) -> bytes | None:
    """The hash that stands for a job's exported results: SHA-256 of their manifest, one line
    ``<name> <sha256 hex>\n`` per file, by name (what ``GET /api/jobs/{id}/results`` lists, so a
    requester can recompute it). ``None`` before the export."""
    files = sorted(repo.result_files(session, job_id), key=lambda f: f.name)
    if not files:
        return None
    return hashlib.sha256("".join(f"{f.name} {f.sha256}\n" for f in files).encode()).digest()


def store_files(session: Session, job: Job, files: dict[str, bytes], storage: Storage) -> None:
    rows = []
    for name, data in files.items():
        key = result_key(job.id, name)
        storage.write(key, data)
        rows.append(
            {
                "name": name,
                "storage_key": key,
                "content_type": CONTENT_TYPES.get(name[name.rfind(".") :], "application/octet-stream"),
                "size_bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    repo.replace_result_files(session, job.id, rows)


def open_low_agreement_disputes(session: Session, job: Job, results: Sequence[ImageResult]) -> int:
    opened = 0
    for r in results:
        if not r.low_confidence:
            continue
        reviews.open_dispute(
            session,
            job_id=job.id,
            kind=DisputeKind.low_agreement,
            subject_key=f"image:{r.image.id}",
            reason=f"{r.workers} workers disagree on {r.image.name}",
            image_id=r.image.id,
            details={
                "merged": [
                    {
                        "label": o.label,
                        "geometry": o.geometry,
                        "confidence": o.confidence,
                        "support": o.support,
                    }
                    for o in r.objects
                ]
            },
        )
        opened += 1
    return opened


# -- the requester's downloads --------------------------------------------------------------------


def requester_job(session: Session, user: User, job_id: int) -> Job:
    """The job's requester (or an admin) only; another requester's job is 'not found'."""
    if user.role not in (Role.requester, Role.admin):
        raise Forbidden("results are downloadable by the job's requester only")
    return get_job_for(session, user, job_id)


def result_files_for(session: Session, user: User, job_id: int, settings: Settings) -> list[dict[str, Any]]:
    job = requester_job(session, user, job_id)
    if job.status is not JobStatus.completed:
        raise NotFound(f"job {job_id} is {job.status.value}; results exist once the dataset is complete")
    finalize_job(session, job.id, settings)  # first request after completion without a broker
    return [
        {
            "name": f.name,
            "content_type": f.content_type,
            "size_bytes": f.size_bytes,
            "sha256": f.sha256,
            "url": f"/api/jobs/{job.id}/results/{f.name}",
        }
        for f in repo.result_files(session, job.id)
    ]


def read_result(
    session: Session, user: User, job_id: int, name: str, settings: Settings
) -> tuple[bytes, str]:
    job = requester_job(session, user, job_id)
    if job.status is JobStatus.completed:
        finalize_job(session, job.id, settings)
    row = repo.result_file(session, job.id, name)
    if row is None:
        raise NotFound(f"job {job_id} has no result file {name!r}")
    return results_storage(settings).read(row.storage_key), row.content_type
