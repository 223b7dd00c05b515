"""A completed annotate stage's work goes onto the pipeline's items after the commit that completed it
(task ``pipelines.stage_completed``), not inside it; a merge whose task was lost is done by the
pipelines' periodic sweep, once, and QA opens only when every stage's work is on the items."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.escrow.evm import DevChain
from marketplace.flows import pipeline as pipeline_flow
from marketplace.payments.rails import Rails
from marketplace.pipelines import repository as repo
from marketplace.pipelines.tasks import run_reassign_overdue
from tests.conftest import UserFactory
from tests.pipelines.pipetools import fund_on_chain, streets


def test_a_lost_stage_merge_is_done_by_the_sweep_and_qa_opens_once_all_are_merged(
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    st = streets(client, make_user, settings, data_root, shared_datasets)
    for job_id in st.stage_ids:
        fund_on_chain(settings, rails, chain, job_id)
    sent: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(  # the broker loses every merge task
        pipeline_flow, "enqueue_after_release", lambda _s, name, _run, *args: sent.append((name, args))
    )
    st.annotate(client, settings)
    assert sorted(sent) == sorted(("pipelines.stage_completed", (j,)) for j in st.stage_ids[:2])
    view = client.get(f"/api/pipelines/{st.pipeline['id']}", headers=st.requester["headers"]).json()
    assert [s["status"] for s in view["stages"][:2]] == ["completed", "completed"]
    assert view["status"] == "annotating"  # nothing merged: QA has not opened
    with session_factory(settings)() as s:
        assert [j.id for j in repo.completed_stages_without_work(s)] == st.stage_ids[:2]

    # one stage merged (a late task): still no QA, its work is not merged twice
    pipeline_flow.run_stage_merge(session_factory(settings), st.stage_ids[0])
    pipeline_flow.run_stage_merge(session_factory(settings), st.stage_ids[0])
    view = client.get(f"/api/pipelines/{st.pipeline['id']}", headers=st.requester["headers"]).json()
    assert view["status"] == "annotating"
    with session_factory(settings)() as s:
        assert [j.id for j in repo.completed_stages_without_work(s)] == [st.stage_ids[1]]

    # the periodic sweep merges the other: every item waits for QA
    run_reassign_overdue(session_factory(settings))
    view = client.get(f"/api/pipelines/{st.pipeline['id']}", headers=st.requester["headers"]).json()
    assert view["status"] == "reviewing" and view["items"] == {"completed": 8}, view["items"]
    with session_factory(settings)() as s:
        assert repo.completed_stages_without_work(s) == []
