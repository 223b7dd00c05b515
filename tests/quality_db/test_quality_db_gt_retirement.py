"""GT images that workers keep failing are retired, reviewed as suspicious, and the job pauses when
too little GT is left; a reviewer's label fix brings the image back and re-scores its failures."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import AssignmentItem, Dispute, GtImageQuality, GtImageStat, Job
from tests.conftest import UserFactory
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, my_status, submit_ok


def _nothing(objects: list[dict]) -> list[dict]:
    return []


def _gt_image_of(settings: Settings, assignment_id: int) -> int:
    with session_factory(settings)() as s:
        return s.scalars(
            select(AssignmentItem.image_id).where(
                AssignmentItem.assignment_id == assignment_id, AssignmentItem.is_gt.is_(True)
            )
        ).one()


def test_failed_gt_is_retired_never_picked_and_the_job_pauses_then_resumes_after_a_fix(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    # target 0.8: retired when (accepted + 1) / (uses + 1) <= 0.2, i.e. after 4 failed uses
    job = quality_job("boxes", data=2, gt=2, assignment_size=2, gt_per_assignment=1, max_attempts=50)
    reviewer = make_user("reviewer")
    failed: dict[int, list[int]] = {}
    retired: set[int] = set()
    for _ in range(8):
        worker = make_user("worker")
        body = claim_ok(client, worker, job["id"])
        image_id = _gt_image_of(settings, body["assignment_id"])
        assert image_id not in retired, "a retired GT image was picked again"
        submit_ok(client, worker, body["assignment_id"], answer_all(settings, body, on_gt=_nothing))
        assert my_status(client, worker, body["assignment_id"])["status"] == "rejected"
        failed.setdefault(image_id, []).append(body["assignment_id"])
        with session_factory(settings)() as s:
            retired = set(s.scalars(select(GtImageStat.image_id).where(GtImageStat.retired_at.is_not(None))))
    assert len(retired) == 2 and all(len(v) == 4 for v in failed.values())
    with session_factory(settings)() as s:
        assert all(q.uses == 4 and q.accepted == 0 for q in s.scalars(select(GtImageQuality)))
        suspicious = list(s.scalars(select(Dispute).where(Dispute.kind == "suspicious_gt")))
        assert sorted(d.image_id for d in suspicious) == sorted(retired)  # type: ignore[type-var]
        job_row = s.get(Job, job["id"])
        assert job_row is not None and job_row.status == "validating"
    # the requester is told why; workers get nothing while paused
    quality = client.get(f"/api/jobs/{job['id']}/quality", headers=job["requester"]["headers"]).json()
    assert quality["status"] == "validating" and quality["usable_gt"] == 0
    assert (
        quality["notices"][0]["kind"] == "paused_gt_exhausted"
        and "ground-truth" in quality["notices"][0]["message"]
    )
    assert quality["disputes"]["suspicious_gt"] == {"open": 2}
    r = client.post(f"/api/jobs/{job['id']}/assignments/claim", headers=make_user("worker")["headers"])
    assert r.status_code == 409 and r.json()["reason"] == "job_not_active"

    # the reviewer: the GT of one image was wrong (there is nothing to box): fix it
    target = suspicious[0]
    detail = client.get(f"/api/reviews/disputes/{target.id}", headers=reviewer["headers"]).json()
    assert detail["context"]["image"]["gt_stats"]["retired"] is True
    assert len(detail["context"]["image"]["worker_answers"]) == 4
    r = client.post(
        f"/api/reviews/disputes/{target.id}/decide",
        json={"action": "fix_gt_label", "gt_objects": [], "comment": "the image is empty"},
        headers=reviewer["headers"],
    )
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "decided" and decided["decided_by"] == reviewer["id"]
    assert sorted(decided["history"][-1]["data"]["overturned"]) == sorted(failed[target.image_id])  # type: ignore[index]
    with session_factory(settings)() as s:
        job_row = s.get(Job, job["id"])
        stat = s.get(GtImageStat, target.image_id)
        assert stat is not None and stat.retired_at is None
        assert job_row is not None and job_row.status in ("active", "completed")


def test_a_gt_image_retired_while_an_assignment_is_out_does_not_count_in_its_first_score(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    """The first scoring and every re-score read the same inputs: GT retired in between is left out."""
    from marketplace.quality import service as quality

    job = quality_job("boxes", data=2, gt=2, assignment_size=2, gt_per_assignment=2, max_attempts=50)
    worker = make_user("worker")
    body = claim_ok(client, worker, job["id"])
    with session_factory(settings)() as s:
        gt_items = s.execute(
            select(AssignmentItem.token, AssignmentItem.image_id).where(
                AssignmentItem.assignment_id == body["assignment_id"], AssignmentItem.is_gt.is_(True)
            )
        ).all()
        assert len(gt_items) == 2
        (bad_token, bad_image), _ = sorted(gt_items)
        job_row = s.get(Job, job["id"])
        assert job_row is not None
        quality.retire_gt_image(s, job_row, bad_image, "found wrong by a reviewer", open_review=False)
        s.commit()
    # Wrong on the retired GT image only: the one GT image that still counts is answered right.
    sub = answer_all(settings, body)
    for item in sub["items"]:
        if item["item_id"] == bad_token:
            item["annotations"] = []
    submit_ok(client, worker, body["assignment_id"], sub)
    assert my_status(client, worker, body["assignment_id"])["status"] == "accepted"
