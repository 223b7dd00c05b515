"""Hidden checks for QA workers: the pipeline's GT images come to QA with one known defect each; a QA
worker who approves them is stopped, what they decided is reviewed again by others, and they earn
nothing for it. The checks cannot be told apart from data items by how the API answers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.escrow.evm import DevChain
from marketplace.ledger import service as ledger
from marketplace.models import EntryKind, LedgerEntry, LedgerTransaction
from marketplace.payments.rails import Rails
from marketplace.payouts import tasks as payout_tasks
from marketplace.pipelines import defects
from marketplace.pipelines.defects import caught, inject, should_stop
from tests.conftest import UserFactory
from tests.pipelines.pipetools import GT_NAMES, fund_on_chain, item_name, streets


def test_a_defect_is_one_object_shrunk_or_removed_and_caught_only_where_it_is() -> None:
    objects = {
        3: [{"label": "car", "geometry": [10, 10, 30, 30]}],
        4: [{"label": "person", "geometry": [60, 0, 9, 30]}],
    }
    kinds = set()
    for seed in range(40):
        spoiled, defect = inject(objects, random.Random(seed))  # type: ignore[misc]
        job, index = defect["job_id"], defect["object_index"]
        original = objects[job]
        if index is None:  # removed
            kinds.add("missing")
            assert len(spoiled[job]) == len(original) - 1
            assert caught(defect, [(job, None, defect["geometry"])])
            assert not caught(defect, [(job, None, [200, 200, 10, 10])])
        else:
            kinds.add("moved")
            x, y, w, h = defect["geometry"]
            assert spoiled[job][index]["geometry"] == [x, y, w / 3, h / 3]
            assert caught(defect, [(job, index, None)])
        assert not caught(defect, [(7 if job != 7 else 8, index, defect["geometry"])])  # wrong stage
        other = 4 if job == 3 else 3
        assert spoiled[other] == objects[other]  # one defect per check
    assert kinds == {"missing", "moved"}
    assert inject({3: []}, random.Random(0)) is None


def test_qa_stopping_is_quick_for_a_rubber_stamp_and_never_ends() -> None:
    assert not should_stop([False]) and should_stop([False, False])
    assert not should_stop([True] * 8 + [False])
    # trusted first, then approving everything: still stopped
    assert should_stop([True] * 20 + [False] * 4)


def test_a_qa_worker_who_approves_defects_is_stopped_and_their_decisions_redone(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    st = streets(client, make_user, settings, data_root, shared_datasets, qa_team=2)
    for job_id in st.stage_ids:
        fund_on_chain(settings, rails, chain, job_id)
    who = st.annotate(client, settings)
    stamp, careful = st.qa_team
    # the rubber stamp approves whatever it gets, until it is stopped; it is offered the checks once it
    # has approved three data items
    approved, data_approved = 0, []
    while True:
        monkeypatch.setattr(defects, "NEW_WORKER_SHARE", 0.0 if len(data_approved) < 3 else 1.0)
        r = client.post("/api/pipelines/qa/claim", headers=stamp["headers"])
        if r.status_code != 200:
            break
        item = r.json()
        fields = {"id", "status", "image_url", "width", "height", "work", "issues", "deadline", "route"}
        fields.add("routes")  # the pipeline's custom statuses: none here, on checks as on data
        assert set(item) == fields and item["route"] is None and item["routes"] == []
        r = client.post(
            f"/api/pipeline-items/{item['id']}/decision", json={"action": "approve"}, headers=stamp["headers"]
        )
        assert r.status_code == 200 and r.json() == {"id": item["id"], "status": "approved"}, r.text
        approved += 1
        if item_name(settings, item["id"]) not in GT_NAMES:  # test-only: which were data items
            data_approved.append(item["id"])
    assert r.status_code == 403 and r.json()["reason"] == "qa_stopped", r.text
    view = client.get(f"/api/pipelines/{st.pipeline['id']}", headers=st.requester["headers"]).json()
    assert view["qa_checks"] == {"checks": 2, "decisions": 2, "caught": 0, "stopped_workers": 1}
    assert approved == len(data_approved) + 2  # stopped at its second missed check
    assert view["items"] == {"completed": 8}  # every approval of the stopped worker is undone
    monkeypatch.undo()

    # the careful QA worker reviews everything again, annotators fix, the pipeline completes
    raised, _ = st.review(client, settings, careful, who)
    assert {st.moved, st.missed} <= set(raised)
    view = client.get(f"/api/pipelines/{st.pipeline['id']}", headers=st.requester["headers"]).json()
    assert view["status"] == "completed"
    assert view["qa_checks"] == {"checks": 2, "decisions": 4, "caught": 2, "stopped_workers": 1}
    history = client.get(
        f"/api/pipelines/{st.pipeline['id']}/history", headers=st.requester["headers"]
    ).json()
    assert len(history) == 8  # the checks are not part of the requester's history or results
    stopped = [h["item_id"] for h in history if "qa_worker_stopped" in [e["event"] for e in h["events"]]]
    assert sorted(stopped) == sorted(data_approved)

    # the stopped worker earns nothing; the careful one once per data item; the books balance
    payout_tasks.drain(time_budget_s=120)
    qa_job = st.stage_ids[2]
    with session_factory(settings)() as s:
        earned = {
            owner: amount
            for owner, amount in s.execute(
                select(LedgerEntry.owner_id, LedgerEntry.amount)
                .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
                .where(LedgerTransaction.job_id == qa_job, LedgerTransaction.kind == EntryKind.earning)
                .where(LedgerEntry.owner_id.is_not(None))
            ).tuples()
        }
        earnings = list(
            s.scalars(
                select(LedgerTransaction).where(
                    LedgerTransaction.job_id == qa_job, LedgerTransaction.kind == EntryKind.earning
                )
            )
        )
        assert len(earnings) == 8 and set(earned) == {careful["id"]}
        assert ledger.check_balanced(s, qa_job).payable == 0
