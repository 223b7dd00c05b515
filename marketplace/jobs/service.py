"""Job intake and the requester's view of their jobs. Never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from marketplace.config import Settings
from marketplace.datasets.ground_truth import GroundTruth, parse_ground_truth
from marketplace.datasets.intake import DataCheck, Progress, check_data, no_progress
from marketplace.datasets.video_ground_truth import VideoShape, parse_video_gt
from marketplace.datasets.video_intake import check_videos
from marketplace.errors import Forbidden, JobNotCancellable, NotFound
from marketplace.jobs import economics, repository
from marketplace.jobs.schemas import JobSpec
from marketplace.jobs.segments import cut_segments
from marketplace.jobs.states import transition
from marketplace.models import TRACK_KINDS, VIDEO_TYPES, Job, JobStatus, Role, User
from marketplace.storage import Storage

CANCELLABLE_WITHOUT_MONEY = (JobStatus.draft, JobStatus.awaiting_funds)


def create_job(
    session: Session,
    requester: User,
    spec: JobSpec,
    *,
    data_uri: str,
    storage: Storage,
    gt_raw: bytes | str | dict[str, Any],
    settings: Settings,
    progress: Progress = no_progress,
) -> Job:
    """Check everything first, then write the job, its images and its GT in one go (as a draft)."""
    if spec.type in VIDEO_TYPES:
        return _create_video_job(
            session,
            requester,
            spec,
            data_uri=data_uri,
            storage=storage,
            gt_raw=gt_raw,
            settings=settings,
            progress=progress,
        )
    gt = parse_ground_truth(gt_raw, spec.type, spec.labels)
    data = check_data(
        storage, gt, gt_per_assignment=spec.gt_per_assignment, settings=settings, progress=progress
    )
    _check_bounty(spec, data.data_count, settings.platform_fee_bps)
    job = Job(
        requester_id=requester.id,
        status=JobStatus.draft,
        data_uri=data_uri,
        image_count=len(data.images),
        gt_count=len(data.gt_names),
        **spec.model_dump(include=set(JobSpec.model_fields)),
    )
    repository.add_job(session, job)
    _store_images_and_gt(session, job, data, gt)
    return job


def _create_video_job(
    session: Session,
    requester: User,
    spec: JobSpec,
    *,
    data_uri: str,
    storage: Storage,
    gt_raw: bytes | str | dict[str, Any],
    settings: Settings,
    progress: Progress,
) -> Job:
    """A video job: every video probed, its segments counted; one ``JobImage`` + ``JobVideo`` each."""
    assert spec.segment_frames is not None and spec.segment_overlap is not None  # the spec's defaults
    videos = check_videos(storage, settings, progress)
    gt = parse_video_gt(
        gt_raw,
        {v.name: VideoShape(v.frame_count, v.width, v.height) for v in videos},
        spec.labels,
        TRACK_KINDS[spec.type],
    )
    segments = sum(
        len(cut_segments(v.frame_count, spec.segment_frames, spec.segment_overlap)) for v in videos
    )
    _check_bounty(spec, segments, settings.platform_fee_bps, per_assignment=1)
    job = Job(
        requester_id=requester.id,
        status=JobStatus.draft,
        data_uri=data_uri,
        image_count=len(videos),
        gt_count=sum(len(g.frames) for g in gt.values()),  # a video job's GT is frames
        segment_count=segments,
        **spec.model_dump(include=set(JobSpec.model_fields)),
    )
    repository.add_job(session, job)
    ids = repository.add_images(
        session,
        job.id,
        [
            {"name": v.name, "width": v.width, "height": v.height, "size_bytes": v.size_bytes, "is_gt": False}
            for v in videos
        ],
    )
    repository.add_videos(
        session,
        [
            {
                "image_id": ids[v.name],
                "job_id": job.id,
                "frame_count": v.frame_count,
                "fps": v.fps,
                "gt_frames": gt[v.name].frames_json() if v.name in gt else None,
                "gt_tracks": gt[v.name].tracks_json() if v.name in gt else None,
            }
            for v in videos
        ],
    )
    return job


def _check_bounty(
    spec: JobSpec, data_images: int, fee_bps: int, *, per_assignment: int | None = None
) -> None:
    cap = max(spec.overlap, spec.max_overlap or spec.overlap)  # the reserve for dynamic overlap
    overlap = "max_overlap" if cap > spec.overlap else "overlap"
    economics.require_payable(
        spec.bounty_amount,
        fee_bps,
        data_images,
        per_assignment or spec.assignment_size,
        cap,
        what=lambda plan: f"{plan.payable_assignments} assignments ({plan.chunks} chunks x {overlap} {cap})",
        field="bounty_amount",
    )


def _store_images_and_gt(session: Session, job: Job, data: DataCheck, gt: GroundTruth) -> None:
    ids = repository.add_images(
        session,
        job.id,
        [
            {  # the size as shown (EXIF orientation applied): renditions and answers use it
                "name": img.name,
                "width": img.display_size[0],
                "height": img.display_size[1],
                "size_bytes": img.size_bytes,
                "is_gt": img.name in data.gt_names,
            }
            for img in data.images
        ],
    )
    repository.add_gt_annotations(
        session,
        [
            {"job_id": job.id, "image_id": ids[name], "label": obj.label, "geometry": obj.geometry}
            for name, gt_image in gt.images.items()
            for obj in gt_image.objects
        ],
    )


def can_see_all_jobs(user: User) -> bool:
    return user.role in (Role.admin, Role.reviewer)


def get_job_for(session: Session, user: User, job_id: int) -> Job:
    """A requester sees only their own jobs; someone else's job is 'not found', not 'forbidden'."""
    job = repository.get_job(session, job_id)
    if job is None or (not can_see_all_jobs(user) and job.requester_id != user.id):
        raise NotFound(f"job {job_id} not found")
    return job


def list_jobs_for(session: Session, user: User, *, limit: int = 50, offset: int = 0) -> list[Job]:
    requester_id = None if can_see_all_jobs(user) else user.id
    return repository.list_jobs(session, requester_id=requester_id, limit=limit, offset=offset)


def cancel_job(session: Session, user: User, job_id: int) -> Job:
    job = get_job_for(session, user, job_id)
    if user.role is not Role.admin and job.requester_id != user.id:
        raise Forbidden("only the job's requester can cancel it")
    if job.status not in CANCELLABLE_WITHOUT_MONEY:
        raise JobNotCancellable(
            f"job {job.id} is {job.status.value}; only a draft or unfunded job can be cancelled here"
        )
    transition(job, JobStatus.cancelled)
    return job
