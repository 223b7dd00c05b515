"""Custom statuses of the QA stage: an item a QA worker routes to "expert review" waits for the
expert alone, who decides it as QA does and is paid for it once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.errors import NothingToReview
from marketplace.escrow.evm import DevChain
from marketplace.models import EntryKind, LedgerTransaction, PipelineItem, User, utcnow
from marketplace.payments.rails import Rails
from marketplace.pipelines import items, service
from tests.conftest import UserFactory
from tests.pipelines.pipetools import (
    first_review,
    fund_on_chain,
    gt_coco,
    pipeline_body,
    real_images,
    streets,
)


def test_bad_routes_are_refused(
    client: TestClient, make_user: UserFactory, data_root: Path, shared_datasets: Path
) -> None:
    requester, expert = make_user("requester"), make_user("worker")
    body = pipeline_body(data_root, gt_coco(shared_datasets, real_images(shared_datasets, data_root)))
    for routes, needle in (
        ([{"status": "approved", "members": [expert["id"]]}], "built-in"),
        ([{"status": "x", "members": [expert["id"]]}, {"status": "x", "members": [expert["id"]]}], "share"),
        ([{"status": "expert review", "members": []}], "members"),
        ([{"status": " padded ", "members": [expert["id"]]}], "status"),
        ([{"status": "expert review", "members": [requester["id"]]}], "not worker accounts"),
    ):
        body["stages"][2]["routes"] = routes
        r = client.post("/api/pipelines", json=body, headers=requester["headers"])
        assert r.status_code == 422 and needle in r.text, (routes, r.text)


def test_an_item_routed_to_expert_review_is_the_experts_alone_and_paid_once(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
) -> None:
    st = streets(client, make_user, settings, data_root, shared_datasets, qa_team=2, expert=True)
    assert st.expert is not None
    pid, owner = st.pipeline["id"], st.requester["headers"]
    for job_id in st.stage_ids:
        fund_on_chain(settings, rails, chain, job_id)
    who = st.annotate(client, settings)
    qa0, qa1 = st.qa_team
    _, held = first_review(client, settings, st, qa0, hold=True)
    assert held is not None
    # the QA worker holding it is told where it may be routed (the QA page offers these); an
    # annotator's view of an item is not
    r = client.post("/api/pipelines/qa/claim", headers=qa0["headers"])
    assert r.status_code == 200 and r.json()["id"] == held, r.text
    assert r.json()["routes"] == ["expert review"] and r.json()["route"] is None, r.text
    with session_factory(settings)() as s:
        item = s.get(PipelineItem, held)
        assert item is not None
        assert items.item_view(s, item, issues_for=st.walkers[0]["id"]).routes == []
    url = f"/api/pipeline-items/{held}/decision"
    unknown = {"action": "route", "status": "legal review", "comment": "not sure"}
    r = client.post(url, json=unknown, headers=qa0["headers"])
    assert r.status_code == 422 and r.json()["field"] == "status", r.text
    r = client.post(url, json={"action": "route", "status": "expert review"}, headers=qa0["headers"])
    assert r.status_code == 422 and "comment" in r.text, r.text
    routed = {"action": "route", "status": "expert review", "comment": "a mannequin or a person?"}
    r = client.post(url, json=routed, headers=qa0["headers"])
    assert r.status_code == 200 and r.json()["status"] == "routed", r.text
    assert client.post(url, json={"action": "approve"}, headers=qa0["headers"]).status_code == 404

    # the QA workers review all the rest (issues, fixes, re-reviews) and never get the routed item
    st.review(client, settings, qa1, who)
    st.review(client, settings, qa0, who)
    for worker in (qa0, qa1, st.walkers[0]):
        r = client.post("/api/pipelines/qa/claim", headers=worker["headers"])
        assert r.status_code == 409, r.text
    view = client.get(f"/api/pipelines/{pid}", headers=owner).json()
    assert view["status"] == "reviewing" and view["items"]["routed"] == 1, view["items"]
    assert view["currency"] == "tusd" and [s["members"] for s in view["stages"]] == [
        None,
        None,
        sorted(w["id"] for w in st.qa_team),
    ], view["stages"]
    # the requester sees the custom status, its member and the item waiting there
    assert view["routes"] == [{"status": "expert review", "members": [st.expert["id"]], "waiting": 1}]

    # the expert claims it (and only it), sees why it came, and approves: the pipeline completes
    r = client.post("/api/pipelines/qa/claim", headers=st.expert["headers"])
    assert r.status_code == 200 and r.json()["id"] == held and r.json()["route"] == "expert review", r.text
    assert r.json()["routes"] == ["expert review"], r.text
    # the expert's hold lapses: it waits for the route again, never for the QA stage's workers
    later = utcnow() + timedelta(hours=2)
    with session_scope(session_factory(settings)) as s:
        qa_worker, expert = s.get(User, qa1["id"]), s.get(User, st.expert["id"])
        assert qa_worker is not None and expert is not None
        with pytest.raises(NothingToReview):
            service.claim(s, qa_worker, later)
        assert service.claim(s, expert, later).id == held
    r = client.post(url, json={"action": "approve"}, headers=st.expert["headers"])
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    view = client.get(f"/api/pipelines/{pid}", headers=owner).json()
    assert view["status"] == "completed" and "routed" not in view["items"], view
    assert view["routes"][0]["waiting"] == 0  # decided: no longer with the expert
    assert all(b["balanced"] for b in view["books"]), view["books"]
    [item] = [
        h for h in client.get(f"/api/pipelines/{pid}/history", headers=owner).json() if h["item_id"] == held
    ]
    steps = [(e["event"], e["status"], e["actor_id"]) for e in item["events"]]
    assert steps[-5:] == [
        ("route", "routed", qa0["id"]),
        ("claimed", "reviewing", st.expert["id"]),
        ("hold_lapsed", "routed", st.expert["id"]),
        ("claimed", "reviewing", st.expert["id"]),
        ("approve", "approved", st.expert["id"]),
    ], steps
    assert "a mannequin or a person?" in item["events"][-5]["note"]

    # QA pays once per data item; the routed one to the expert who decided it, nobody else
    with session_factory(settings)() as s:
        qa_earnings = list(
            s.scalars(
                select(LedgerTransaction).where(
                    LedgerTransaction.job_id == st.stage_ids[2], LedgerTransaction.kind == EntryKind.earning
                )
            )
        )
    assert len(qa_earnings) == len(st.data_names) == len({t.idem_key for t in qa_earnings})
    [mine] = [t for t in qa_earnings if t.idem_key.endswith(f"pipeline-item:{held}")]
    earned = client.get("/api/payouts/me", headers=st.expert["headers"]).json()
    assert sum(sum(v.values()) for v in earned.values()) == mine.amount, earned
