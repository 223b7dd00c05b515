"""Exposure parity on PostgreSQL: a ring that counts how many of its accounts were shown each image
cannot tell GT by that count (issue 12, item 2)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import Assignment, AssignmentItem
from tests.assignments.conftest import activate_job_now
from tests.conftest import UserFactory, job_body, write_image
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, submit_ok


def _yes(_: Any) -> list[dict[str, Any]]:
    return [{"label": "yes"}]


def _accounts_per_image(settings: Settings, job_id: int) -> tuple[list[int], list[int]]:
    """Test-only (reads is_gt): for each image shown in the job, how many accounts were shown it,
    split into (GT images, work images)."""
    with session_factory(settings)() as s:
        rows = s.execute(
            select(AssignmentItem.image_id, AssignmentItem.is_gt, Assignment.worker_id)
            .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
            .where(Assignment.job_id == job_id)
        ).all()
    accounts: dict[tuple[int, bool], set[int]] = {}
    for image_id, is_gt, worker_id in rows:
        accounts.setdefault((image_id, is_gt), set()).add(worker_id)
    gt = [len(a) for (_, is_gt), a in accounts.items() if is_gt]
    work = [len(a) for (_, is_gt), a in accounts.items() if not is_gt]
    return gt, work


def _auc(gt: list[int], work: list[int]) -> float:
    """ROC AUC of "more accounts means GT" over shown images (ties count half)."""
    wins = sum((g > w) + 0.5 * (g == w) for g in gt for w in work)
    return wins / (len(gt) * len(work))


def test_with_overlap_two_a_gt_image_is_shown_to_two_accounts_like_a_normal_one(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    """Every normal image goes to two accounts; a large GT pool used fresh-first would show each GT
    image to one account only (AUC near 0, as telling as 1). With parity, GT images are paired too."""
    job = quality_job(
        "classification",
        data=48,
        gt=40,
        assignment_size=4,
        gt_per_assignment=2,
        overlap=2,
        max_overlap=2,
        gt_spot_check=1.0,
    )
    workers = [make_user("worker") for _ in range(6)]
    for _ in range(4):  # 12 chunks x 2 = 24 assignments: four rounds of six workers
        for worker in workers:
            body = claim_ok(client, worker, job["id"])
            submit_ok(client, worker, body["assignment_id"], answer_all(settings, body, on_data=_yes))
    gt, work = _accounts_per_image(settings, job["id"])
    assert Counter(work) == {2: 48}
    assert sum(gt) == 48  # 24 assignments x 2 GT slots, every one to a different account
    counts = Counter(gt)
    # a reuse finds no GT image shown once that this worker has not seen now and then: it goes fresh
    assert counts[2] >= 20 and set(counts) <= {1, 2}, counts
    assert 0.45 <= _auc(gt, work) <= 0.55, counts  # fresh-first would give about 0.08


def test_with_extras_the_share_of_gt_shown_again_follows_the_normal_images(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    """Overlap 1 with adaptive GT: trusted workers' freed GT slots show done images again, so some
    normal images reach two accounts; the GT images shown again must follow at the same share."""
    job = quality_job(
        "classification", data=120, gt=60, assignment_size=3, gt_per_assignment=2, gt_spot_check=0.25
    )
    workers = [make_user("worker") for _ in range(4)]
    for _ in range(10):  # 40 chunks: ten rounds of four workers
        for worker in workers:
            body = claim_ok(client, worker, job["id"])
            submit_ok(client, worker, body["assignment_id"], answer_all(settings, body, on_data=_yes))
    gt, work = _accounts_per_image(settings, job["id"])
    work_repeat = 1 - len(work) / sum(work)
    gt_repeat = 1 - len(gt) / sum(gt)
    assert work_repeat > 0.1, work  # the trusted workers' extras did repeat normal images
    assert abs(gt_repeat - work_repeat) <= 0.1, (Counter(gt), Counter(work))
    assert 0.4 <= _auc(gt, work) <= 0.6, (Counter(gt), Counter(work))


def test_the_requester_is_told_when_the_gt_pool_is_too_small_for_parity(
    client: TestClient, quality_job: QualityJobFactory
) -> None:
    small = quality_job("classification", data=40, gt=2, assignment_size=2, gt_per_assignment=1)
    r = client.get(f"/api/jobs/{small['id']}/costs", headers=small["requester"]["headers"])
    assert r.status_code == 200, r.text
    exposure = r.json()["gt_exposure"]
    # 20 assignments, one GT slot each, 15% spot checks at the least: 3 shows over 2 GT images
    assert exposure["normal"] == 1.0 and exposure["gt_trusted"] == 1.5 and exposure["gt_new"] == 10.0
    assert "GT pool (2 images) is small" in exposure["warning"] and "about 3)" in exposure["warning"]
    roomy = quality_job("classification", data=40, gt=20, assignment_size=2, gt_per_assignment=1)
    r = client.get(f"/api/jobs/{roomy['id']}/costs", headers=roomy["requester"]["headers"])
    assert r.json()["gt_exposure"]["warning"] is None


def test_gt_follows_the_size_of_the_work_it_is_mixed_with(
    client: TestClient, make_user: UserFactory, data_root: Path, settings: Settings
) -> None:
    """A GT pool of two kinds (small like the data, large unlike it): while unused GT of both kinds is
    left, the assignment gets GT of its work's size, so the GT shown follows the data's mix of kinds."""
    root = data_root / "sized"
    names = [f"data{i:02d}.png" for i in range(20)]
    small_gt = [f"gt_small{i:02d}.png" for i in range(10)]
    large_gt = [f"gt_large{i:02d}.png" for i in range(10)]
    for name in names + small_gt:
        write_image(root / name, (64, 48))
    for name in large_gt:
        write_image(root / name, (200, 150))
    sizes = {n: (64, 48) for n in small_gt} | {n: (200, 150) for n in large_gt}
    gt = {
        "images": [
            {"id": i + 1, "file_name": n, "width": w, "height": h}
            for i, (n, (w, h)) in enumerate(sizes.items())
        ],
        "annotations": [{"id": i + 1, "image_id": i + 1, "category_id": 1} for i in range(len(sizes))],
        "categories": [{"id": 1, "name": "yes"}, {"id": 2, "name": "no"}],
    }
    requester = make_user("requester")
    body = job_body(
        str(root),
        gt,
        type="classification",
        labels=["yes", "no"],
        bounty_amount=1_000_000,
        assignment_size=2,
        gt_per_assignment=1,
        gt_spot_check=1.0,
    )
    r = client.post("/api/jobs", json=body, headers=requester["headers"])
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    activate_job_now(settings, job_id)
    worker = make_user("worker")
    shown: list[tuple[int, int]] = []
    for _ in range(10):
        claimed = claim_ok(client, worker, job_id)
        shown += [(i["width"], i["height"]) for i in claimed["items"]]
        submit_ok(client, worker, claimed["assignment_id"], answer_all(settings, claimed, on_data=_yes))
    assert (200, 150) not in shown, shown  # random picks would have shown about five large GT images
