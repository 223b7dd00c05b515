"""Claim rules: chunking, one active assignment per job, never a chunk twice, bans, inactive jobs."""

from __future__ import annotations

import io
import random

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from marketplace.assignments.service import choose_gt, place_items
from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.media.renditions import rendition_size
from marketplace.models import (
    Assignment,
    AssignmentItem,
    Chunk,
    ChunkImage,
    GtImageStat,
    JobWorkerBan,
    utcnow,
)
from tests.assignments.conftest import JobFactory, claim
from tests.conftest import UserFactory


def test_job_is_cut_into_chunks_when_activated(make_job: JobFactory, settings: Settings) -> None:
    job = make_job(data=7, gt=3, assignment_size=3)
    with session_factory(settings)() as s:
        chunks = list(s.scalars(select(Chunk).where(Chunk.job_id == job["id"]).order_by(Chunk.position)))
        sizes = [len(list(s.scalars(select(ChunkImage).where(ChunkImage.chunk_id == c.id)))) for c in chunks]
        stats = list(s.scalars(select(GtImageStat).where(GtImageStat.job_id == job["id"])))
    assert sizes == [3, 3, 1]
    assert all(c.status == "open" and c.free_slots == 1 for c in chunks)
    assert len(stats) == 3 and all(st.uses == 0 for st in stats)


def test_claim_gives_items_in_order_with_opaque_ids(
    client: TestClient, make_job: JobFactory, make_user: UserFactory
) -> None:
    job = make_job(data=6, gt=4, assignment_size=2, gt_per_assignment=2)
    worker = make_user("worker")
    r = claim(client, worker, job["id"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "assigned" and body["job_type"] == "boxes"
    assert body["labels"] == ["cat", "dog"] and body["instructions"]["title"] == "Boxes on pets"
    assert len(body["items"]) == 4
    for item in body["items"]:
        assert set(item) == {"item_id", "image_url", "width", "height", "context"}
        assert item["context"] == []  # earlier pipeline stages' objects: none outside a pipeline
        assert len(item["item_id"]) == 22 and "img" not in item["image_url"]
        assert item["image_url"].startswith("http://127.0.0.1:8000/files/")
    # a second claim in the same job while the first is active: 409 with a reason
    r2 = claim(client, worker, job["id"])
    assert r2.status_code == 409
    assert r2.json()["reason"] == "already_assigned" and r2.json()["assignment_id"] == body["assignment_id"]


def test_the_image_link_serves_the_image_as_its_rendition(
    client: TestClient, make_job: JobFactory, make_user: UserFactory
) -> None:
    """The job's files are PNGs; the worker gets their JPEG serving renditions (the item keeps the
    original size: answers are in original pixels)."""
    job = make_job()
    body = claim(client, make_user("worker"), job["id"]).json()
    path = body["items"][0]["image_url"].removeprefix("http://127.0.0.1:8000")
    r = client.get(path)
    assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff"
    assert r.headers["content-type"] == "image/jpeg"
    item = body["items"][0]
    with Image.open(io.BytesIO(r.content)) as image:
        assert image.size == rendition_size(item["width"], item["height"])


def test_nothing_left_and_overlap_goes_to_different_workers(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=4, gt=2, assignment_size=2, gt_per_assignment=1, overlap=2)
    workers = [make_user("worker") for _ in range(5)]
    got = [claim(client, w, job["id"]) for w in workers]
    assert [r.status_code for r in got] == [200, 200, 200, 200, 409]
    assert got[4].json()["reason"] == "no_assignments_left"
    with session_factory(settings)() as s:
        rows = list(s.execute(select(Assignment.chunk_id, Assignment.worker_id)))
    by_chunk: dict[int, set[int]] = {}
    for chunk_id, worker_id in rows:
        by_chunk.setdefault(chunk_id, set()).add(worker_id)
    assert sorted(len(w) for w in by_chunk.values()) == [2, 2]


def test_inactive_job_unknown_job_and_banned_worker(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    draft = make_job(activate=False)
    worker = make_user("worker")
    r = claim(client, worker, draft["id"])
    assert r.status_code == 409 and r.json()["reason"] == "job_not_active"
    assert claim(client, worker, 999_999).status_code == 404
    job = make_job()
    with session_scope(session_factory(settings)) as s:
        s.add(JobWorkerBan(job_id=job["id"], worker_id=worker["id"], reason="too many GT failures"))
    r = claim(client, worker, job["id"])
    assert r.status_code == 409 and r.json()["reason"] == "banned"
    assert claim(client, worker).json()["reason"] == "no_assignments_left"  # the any-job claim skips it
    other = make_user("worker")
    assert claim(client, other).status_code == 200


def test_claim_any_job(client: TestClient, make_job: JobFactory, make_user: UserFactory) -> None:
    first, second = make_job(data=2, assignment_size=2), make_job(data=2, assignment_size=2)
    worker = make_user("worker")
    a = claim(client, worker).json()
    b = claim(client, worker).json()
    assert {a["job_id"], b["job_id"]} == {first["id"], second["id"]}
    r = claim(client, worker)
    assert r.status_code == 409 and r.json()["reason"] == "no_assignments_left"


def test_gt_never_repeats_for_a_worker_and_retired_gt_is_never_picked(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=12, gt=7, assignment_size=2, gt_per_assignment=2)
    with session_scope(session_factory(settings)) as s:
        retired = s.scalars(select(GtImageStat).where(GtImageStat.job_id == job["id"])).first()
        assert retired is not None
        retired.retired_at = utcnow()
        retired_id = retired.image_id
    worker = make_user("worker")
    seen: list[int] = []
    for _ in range(3):  # 3 assignments x 2 GT = 6 = all unretired GT images
        body = claim(client, worker, job["id"]).json()
        with session_scope(session_factory(settings)) as s:
            items = s.scalars(
                select(AssignmentItem).where(AssignmentItem.assignment_id == body["assignment_id"])
            ).all()
            seen += [i.image_id for i in items if i.is_gt]
            s.get(Assignment, body["assignment_id"]).status = "expired"  # type: ignore[union-attr]
    assert len(seen) == 6 and len(set(seen)) == 6 and retired_id not in seen


def test_choose_gt_prefers_unseen_then_least_used() -> None:
    rng = random.Random(1)
    candidates = [(1, 5), (2, 0), (3, 0), (4, 1)]
    assert set(choose_gt(candidates, set(), 2, rng)) == {2, 3}
    assert choose_gt(candidates, {2, 3}, 2, rng) == [4, 1]
    assert set(choose_gt(candidates, {1, 2, 3, 4}, 2, rng)) == {2, 3}
    picks = {tuple(choose_gt([(1, 0), (2, 0), (3, 0)], set(), 1, rng)) for _ in range(50)}
    assert picks == {(1,), (2,), (3,)}  # random among equals


def test_place_items_keeps_real_order_and_spreads_gt() -> None:
    rng = random.Random(2)
    positions: set[int] = set()
    for _ in range(200):
        placed = place_items([10, 11, 12], [90], rng)
        assert [i for i, gt in placed if not gt] == [10, 11, 12]
        positions.add(next(p for p, (_, gt) in enumerate(placed) if gt))
    assert positions == {0, 1, 2, 3}
