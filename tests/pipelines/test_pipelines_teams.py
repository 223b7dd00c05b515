"""Named teams of annotate stages: only members see and claim the stage's work, members must be
worker accounts, and an overdue fix goes only to another member."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.assignments.tasks import run_expiry
from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.escrow.evm import DevChain
from marketplace.flows import stranded
from marketplace.models import Assignment, AssignmentStatus, Chunk, ChunkStatus, Dispute, Job, utcnow
from marketplace.payments.rails import Rails
from marketplace.pipelines import service
from tests.conftest import UserFactory
from tests.pipelines.pipetools import (
    first_review,
    fund_on_chain,
    gt_coco,
    pipeline_body,
    real_images,
    streets,
)


def test_team_members_must_be_worker_accounts(
    client: TestClient, make_user: UserFactory, data_root: Path, shared_datasets: Path
) -> None:
    requester, worker = make_user("requester"), make_user("worker")
    gold = real_images(shared_datasets, data_root)
    gt = gt_coco(shared_datasets, gold)
    for stage, members, wrong in (
        (1, [worker["id"], requester["id"]], requester["id"]),
        (0, [worker["id"], 999_999], 999_999),
        (2, [999_998], 999_998),
    ):
        teams: tuple[list[int] | None, list[int] | None] = (None, None)
        qa = members if stage == 2 else None
        if stage < 2:
            teams = (members, None) if stage == 0 else (None, members)
        r = client.post(
            "/api/pipelines", json=pipeline_body(data_root, gt, qa, teams), headers=requester["headers"]
        )
        assert r.status_code == 422, r.text
        assert r.json()["field"] == f"stages[{stage}].members" and str(wrong) in r.json()["detail"], r.text
    body = pipeline_body(data_root, gt, None, ([], None))  # an empty team is no team: refused
    assert client.post("/api/pipelines", json=body, headers=requester["headers"]).status_code == 422


def test_only_the_team_sees_and_claims_a_stage_and_overdue_fixes_stay_in_it(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
) -> None:
    st = streets(client, make_user, settings, data_root, shared_datasets, teams=True)
    cars_job, people_job = st.stage_ids[0], st.stage_ids[1]
    for job_id in st.stage_ids:
        fund_on_chain(settings, rails, chain, job_id)
    outsider = make_user("worker")

    def board(worker: dict[str, object]) -> set[int]:
        r = client.get("/api/work/jobs", headers=worker["headers"])  # type: ignore[arg-type]
        assert r.status_code == 200, r.text
        return {j["job_id"] for j in r.json()}

    assert board(outsider) & {cars_job, people_job} == set()
    assert board(st.walkers[0]) & {cars_job, people_job} == {people_job}
    assert board(st.cars[0]) & {cars_job, people_job} == {cars_job}
    # a stranger to the team: no such job for them, and "claim anything" finds nothing
    r = client.post(f"/api/jobs/{people_job}/assignments/claim", headers=outsider["headers"])
    assert r.status_code == 404 and r.json()["error"] == "not_found", r.text
    r = client.post(f"/api/jobs/{people_job}/assignments/claim", headers=st.cars[0]["headers"])
    assert r.status_code == 404, r.text
    r = client.post("/api/assignments/claim", headers=outsider["headers"])
    assert r.status_code == 409 and r.json()["reason"] == "no_assignments_left", r.text

    st.annotate(client, settings)  # the members do all of both stages
    view = client.get(f"/api/pipelines/{st.pipeline['id']}", headers=st.requester["headers"]).json()
    assert [s["status"] for s in view["stages"][:2]] == ["completed", "completed"]
    assert view["status"] == "reviewing"

    issued, _ = first_review(client, settings, st, st.qa)
    assert st.moved in issued
    item_id = issued[st.moved]
    [maker] = [
        w
        for w in st.walkers
        if any(
            i["id"] == item_id for i in client.get("/api/pipeline-items/fixes", headers=w["headers"]).json()
        )
    ]
    # overdue: the fix goes to another member of the pedestrians' team (the spare member, who annotated
    # nothing, is one of them), never to a stranger
    with session_scope(session_factory(settings)) as s:
        assert service.reassign_overdue(s, utcnow() + timedelta(days=2)) >= 1
    team = {w["id"] for w in (*st.walkers, st.spare) if w is not None and w is not maker}
    everyone = [*st.walkers, *st.cars, st.spare, outsider]
    holders = {
        w["id"]
        for w in everyone
        if w is not None
        and any(
            i["id"] == item_id for i in client.get("/api/pipeline-items/fixes", headers=w["headers"]).json()
        )
    }
    assert holders and holders <= team, (holders, team)


def test_a_chunk_every_member_has_held_goes_to_a_reviewer_instead_of_waiting_forever(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
) -> None:
    st = streets(client, make_user, settings, data_root, shared_datasets, teams=True)
    cars_job = st.stage_ids[0]
    fund_on_chain(settings, rails, chain, cars_job)
    factory = session_factory(settings)

    def fail(worker: dict[str, Any]) -> int:
        """Claim and submit a made-up box on every item (GT missed); the chunk it was."""
        r = client.post(f"/api/jobs/{cars_job}/assignments/claim", headers=worker["headers"])
        assert r.status_code == 200, r.text
        claim = r.json()
        junk = [{"label": "car", "geometry": [0.0, 0.0, 3.0, 3.0]}]
        items = [{"item_id": i["item_id"], "annotations": junk} for i in claim["items"]]
        r = client.post(
            f"/api/assignments/{claim['assignment_id']}/submit",
            json={"items": items},
            headers=worker["headers"],
        )
        assert r.status_code == 200, r.text
        with factory() as s:
            assignment = s.get(Assignment, claim["assignment_id"])
            assert assignment is not None and assignment.status is AssignmentStatus.rejected
            return assignment.chunk_id

    first, second = st.cars  # the cars stage's whole team
    chunk_id = fail(first)
    with session_scope(factory) as s:  # the other member may still take it: nothing to do
        assert stranded.review_stranded_team_chunks(s) == 0
    assert fail(second) == chunk_id  # the lowest open chunk they never held
    with factory() as s:
        chunk = s.get(Chunk, chunk_id)
        assert chunk is not None and chunk.status is ChunkStatus.open and chunk.free_slots > 0
        assert chunk.rejected_count < s.get(Job, cars_job).max_attempts  # type: ignore[union-attr]
    run_expiry(factory)  # the periodic sweep sends it to a reviewer
    with factory() as s:
        chunk = s.get(Chunk, chunk_id)
        assert chunk is not None and chunk.status is ChunkStatus.in_review
        [dispute] = s.scalars(select(Dispute).where(Dispute.chunk_id == chunk_id)).all()
        assert "every member of the team has held it" in dispute.reason
    with session_scope(factory) as s:  # done once: a second sweep finds nothing
        assert stranded.review_stranded_team_chunks(s) == 0
