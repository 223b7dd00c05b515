"""Annotate stages in sequence: the pedestrians stage opens an assignment only once the cars stage has
finished every image in it, and shows the cars drawn there on every item, GT or not, the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from marketplace.assignments.service import open_gt_images
from marketplace.assignments.tasks import run_expiry
from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.escrow.evm import DevChain
from marketplace.models import Chunk, ChunkImage, ChunkStatus, GtImageStat, JobImage
from marketplace.payments.rails import Rails
from tests.conftest import UserFactory
from tests.pipelines.pipetools import (
    fund_on_chain,
    iou,
    item_truths,
    moved_first,
    run_annotate_stage,
    streets,
)


def _chunks(settings: Settings, job_id: int) -> dict[int, tuple[ChunkStatus, list[str]]]:
    """Test-only: a stage's chunks, their status and image names."""
    with session_factory(settings)() as s:
        rows = s.execute(
            select(Chunk.id, Chunk.status, JobImage.name)
            .join(ChunkImage, ChunkImage.chunk_id == Chunk.id)
            .join(JobImage, JobImage.id == ChunkImage.image_id)
            .where(Chunk.job_id == job_id)
        ).tuples()
        out: dict[int, tuple[ChunkStatus, list[str]]] = {}
        for chunk_id, status, name in rows:
            out.setdefault(chunk_id, (status, []))[1].append(name)
        return out


def _same_boxes(drawn: list[dict[str, Any]], truth: list[list[float]]) -> bool:
    boxes = [o["geometry"] for o in drawn]
    return len(boxes) == len(truth) and all(any(iou(b, t) > 0.99 for b in boxes) for t in truth)


def test_a_stage_in_sequence_opens_work_as_the_stage_before_finishes_it_and_shows_its_objects(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
) -> None:
    st = streets(client, make_user, settings, data_root, shared_datasets, in_sequence=True)
    cars_job, people_job = st.stage_ids[0], st.stage_ids[1]
    assert [s["after_job_id"] for s in st.pipeline["stages"]] == [None, cars_job, None]
    for job_id in st.stage_ids:
        fund_on_chain(settings, rails, chain, job_id)
    # nothing is done in the cars stage yet: the pedestrians stage has no work to give
    assert {status for status, _ in _chunks(settings, people_job).values()} == {ChunkStatus.waiting}
    r = client.post(f"/api/jobs/{people_job}/assignments/claim", headers=st.walkers[0]["headers"])
    assert r.status_code == 409, r.text

    # the cars stage one assignment at a time: a pedestrians chunk opens exactly when every one of
    # its images is done in the cars stage
    opened_while_cars_worked = 0
    for _ in range(20):
        if not run_annotate_stage(client, settings, cars_job, st.cars, st.gold, "car", {}, limit=1):
            break
        cars = _chunks(settings, cars_job)
        done = {n for status, names in cars.values() for n in names if status is ChunkStatus.done}
        undone = {n for status, names in cars.values() for n in names if status is not ChunkStatus.done}
        for status, names in _chunks(settings, people_job).values():
            ready = set(names) <= done - undone
            assert (status is not ChunkStatus.waiting) == ready, (status, names, done)
            opened_while_cars_worked += status is not ChunkStatus.waiting and bool(undone)
    assert {status for status, _ in _chunks(settings, cars_job).values()} == {ChunkStatus.done}
    assert opened_while_cars_worked >= 1  # work flowed on before the cars stage was over
    run_expiry()  # the periodic catch-up finds nothing more to open
    assert ChunkStatus.waiting not in {status for status, _ in _chunks(settings, people_job).values()}
    with session_scope(session_factory(settings)) as s:  # two scorings may bring a GT image in at once
        in_use = list(s.scalars(select(GtImageStat.image_id).where(GtImageStat.job_id == people_job)))
        assert in_use
        open_gt_images(s, people_job, in_use)
    with session_factory(settings)() as s:
        assert s.scalar(select(func.count()).where(GtImageStat.job_id == people_job)) == len(in_use)

    # every pedestrians item shows the cars of its image, read-only, GT items exactly like data items
    seen_gt = 0
    for walker in st.walkers:
        r = client.post(f"/api/jobs/{people_job}/assignments/claim", headers=walker["headers"])
        assert r.status_code == 200, r.text
        claim = r.json()
        truths = item_truths(settings, [i["item_id"] for i in claim["items"]])
        answers = []
        for item in claim["items"]:
            is_gt, name, gt_objects = truths[item["item_id"]]
            cars_there = [box for lb, box in st.gold[name] if lb == "car"]
            assert {o["label"] for o in item["context"]} <= {"car"}
            assert _same_boxes(item["context"], cars_there), (name, item["context"], cars_there)
            seen_gt += is_gt
            people = [{"label": lb, "geometry": box} for lb, box in st.gold[name] if lb == "person"]
            answers.append({"item_id": item["item_id"], "annotations": gt_objects if is_gt else people})
        r = client.post(
            f"/api/assignments/{claim['assignment_id']}/submit",
            json={"items": answers},  # the context is not part of the answer
            headers=walker["headers"],
        )
        assert r.status_code == 200, r.text
    assert seen_gt >= 1

    # the rest runs as any pipeline: pedestrians (with the two mistakes), QA, everything paid once
    spoil = {st.moved: moved_first, st.missed: lambda objs: objs[1:]}
    who = run_annotate_stage(client, settings, people_job, st.walkers, st.gold, "person", spoil)
    st.review(client, settings, st.qa_team[0], who)
    view = client.get(f"/api/pipelines/{st.pipeline['id']}", headers=st.requester["headers"]).json()
    assert view["status"] == "completed", view
    assert all(b["balanced"] for b in view["books"]), view["books"]
