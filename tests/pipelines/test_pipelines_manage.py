"""The pipeline manager's moves: reassigning one member's fixes or QA items to another member, and
spreading a stage's open items evenly among members (the requester only; named errors otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.escrow.evm import DevChain
from marketplace.models import QaCheck
from marketplace.payments.rails import Rails
from marketplace.pipelines import defects
from tests.conftest import UserFactory
from tests.pipelines.pipetools import Streets, first_review, fix_all, fund_on_chain, streets


def _fixes(client: TestClient, worker: dict[str, Any] | None) -> set[int]:
    assert worker is not None
    r = client.get("/api/pipeline-items/fixes", headers=worker["headers"])
    assert r.status_code == 200, r.text
    return {i["id"] for i in r.json()}


def _ready(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared: Path,
    rails: Rails,
    chain: DevChain,
    qa_team: int,
) -> Streets:
    st = streets(client, make_user, settings, data_root, shared, teams=True, qa_team=qa_team)
    for job_id in st.stage_ids:
        fund_on_chain(settings, rails, chain, job_id)
    st.annotate(client, settings)
    return st


def test_fixes_reassigned_and_redistributed_within_the_team(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
) -> None:
    st = _ready(client, make_user, settings, data_root, shared_datasets, rails, chain, qa_team=1)
    pid, owner = st.pipeline["id"], st.requester["headers"]
    issued, _ = first_review(client, settings, st, st.qa)
    assert {st.moved, st.missed} <= set(issued)
    maker = next(w for w in st.walkers if issued[st.moved] in _fixes(client, w))
    before = _fixes(client, maker)
    url = f"/api/pipelines/{pid}/reassign"
    move = {"stage_index": 1, "from_worker": maker["id"], "to_worker": st.spare["id"]}  # type: ignore[index]

    # only the pipeline's requester: anyone else is told there is no such pipeline
    for stranger in (make_user("requester"), maker, make_user("admin")):
        r = client.post(url, json=move, headers=stranger["headers"])
        assert r.status_code == 404, r.text
        r = client.post(
            f"/api/pipelines/{pid}/redistribute",
            json={"stage_index": 1, "members": [1]},
            headers=stranger["headers"],
        )
        assert r.status_code == 404, r.text
    # not in the pedestrians' team (a cars annotator, a stranger): refused by name, nothing moved
    for wrong in (st.cars[0], make_user("worker")):
        r = client.post(url, json={**move, "to_worker": wrong["id"]}, headers=owner)
        assert r.status_code == 409 and r.json()["reason"] == "worker_not_eligible", r.text
    assert _fixes(client, maker) == before
    r = client.post(url, json={**move, "stage_index": 7}, headers=owner)
    assert r.status_code == 422 and r.json()["field"] == "stage_index", r.text
    r = client.post(url, json={**move, "to_worker": maker["id"]}, headers=owner)
    assert r.status_code == 422, r.text
    # to the spare member (in the team, no work done yet): every open fix of the maker moves
    r = client.post(url, json=move, headers=owner)
    assert r.status_code == 200, r.text
    moved = r.json()["moved"]
    assert {m["item_id"] for m in moved} == before and all(m["kind"] == "fix" for m in moved)
    assert _fixes(client, maker) == set() and _fixes(client, st.spare) == before
    history = {h["item_id"]: h for h in client.get(f"/api/pipelines/{pid}/history", headers=owner).json()}
    for item_id in before:
        [event] = [e for e in history[item_id]["events"] if e["event"] == "fix_reassigned"]
        assert event["actor_id"] == st.requester["id"] and str(st.spare["id"]) in event["note"]  # type: ignore[index]

    # spread every open fix of the stage between the two annotators: even, none left with the spare
    team = [w["id"] for w in st.walkers]
    r = client.post(
        f"/api/pipelines/{pid}/redistribute", json={"stage_index": 1, "members": team}, headers=owner
    )
    assert r.status_code == 200, r.text
    units = len(r.json()["moved"]) + r.json()["kept"]
    counts = [len(_fixes(client, w)) for w in st.walkers]
    assert _fixes(client, st.spare) == set() and sum(counts) == units >= 2
    assert max(counts) - min(counts) <= 1, counts
    r = client.post(
        f"/api/pipelines/{pid}/redistribute",
        json={"stage_index": 1, "members": [*team, 999_999]},
        headers=owner,
    )
    assert r.status_code == 409 and r.json()["reason"] == "worker_not_eligible", r.text
    # whoever has them now fixes them, and they come back to QA
    assert fix_all(client, settings, st, st.walkers) == units
    assert all(not _fixes(client, w) for w in (*st.walkers, st.spare))


def test_qa_holds_and_re_reviews_move_to_another_qa_member(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    st = _ready(client, make_user, settings, data_root, shared_datasets, rails, chain, qa_team=2)
    pid, owner = st.pipeline["id"], st.requester["headers"]
    qa0, qa1 = st.qa_team
    monkeypatch.setattr(defects, "NEW_WORKER_SHARE", 1.0)  # the hidden checks first: issues on each
    issued, held = first_review(client, settings, st, qa0, hold=True)
    monkeypatch.undo()
    assert held is not None
    with session_factory(settings)() as s:
        assert len(list(s.scalars(select(QaCheck).where(QaCheck.returns_at.is_not(None))))) == 2
    url = f"/api/pipelines/{pid}/reassign"
    r = client.post(
        url,
        json={"stage_index": 2, "from_worker": qa0["id"], "to_worker": st.walkers[0]["id"]},
        headers=owner,
    )
    assert r.status_code == 409 and r.json()["reason"] == "worker_not_eligible", r.text
    r = client.post(
        url, json={"stage_index": 2, "from_worker": qa0["id"], "to_worker": qa1["id"]}, headers=owner
    )
    assert r.status_code == 200, r.text
    assert [(m["item_id"], m["kind"]) for m in r.json()["moved"]] == [(held, "review")]
    # nothing comes back to qa0 any more, the checks they raised issues on no more than data items
    with session_factory(settings)() as s:
        assert all(c.returns_at is None for c in s.scalars(select(QaCheck)))
    # the old holder's decision is refused; the new one holds it and decides
    r = client.post(
        f"/api/pipeline-items/{held}/decision", json={"action": "approve"}, headers=qa0["headers"]
    )
    assert r.status_code == 404, r.text
    r = client.post("/api/pipelines/qa/claim", headers=qa1["headers"])
    assert r.status_code == 200 and r.json()["id"] == held, r.text
    r = client.post(
        f"/api/pipeline-items/{held}/decision", json={"action": "approve"}, headers=qa1["headers"]
    )
    assert r.status_code == 200, r.text

    # qa0 reviews the rest and raises the issues; fixed, they wait for qa0's re-review
    issued |= first_review(client, settings, st, qa0)[0]
    assert len(issued) >= 2
    assert fix_all(client, settings, st, st.walkers) >= 2
    r = client.post(
        f"/api/pipelines/{pid}/redistribute",
        json={"stage_index": 2, "members": [qa0["id"], qa1["id"]]},
        headers=owner,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert all(m["kind"] == "re_review" and m["to_worker"] == qa1["id"] for m in body["moved"])
    assert len(body["moved"]) == len(issued) // 2 and body["kept"] == len(issued) - len(issued) // 2
    history = {h["item_id"]: h for h in client.get(f"/api/pipelines/{pid}/history", headers=owner).json()}
    assert all(
        any(e["event"] == "review_reassigned" for e in history[m["item_id"]]["events"]) for m in body["moved"]
    )
    # both QA workers approve what came back to them; the pipeline completes, every stage balanced
    for qa in (qa0, qa1):
        more, _ = first_review(client, settings, st, qa)
        assert more == {}
    view = client.get(f"/api/pipelines/{pid}", headers=owner).json()
    assert view["status"] == "completed" and view["items"].get("approved", 0) >= 7, view
    assert all(b["balanced"] for b in view["books"]), view["books"]
