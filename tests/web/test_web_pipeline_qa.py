"""A pipeline's QA round trip in the browser: the QA worker clicks a box, says what is wrong and sends
the issue; the annotator who drew it finds it on the fixes page (the box selected, the place marked, the
comment shown), resizes it and submits the fix; the QA worker gets the item back, sees the fixed issue
and approves it. The item ends approved with the fixed box stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.escrow.evm import DevChain
from marketplace.models import (
    IssueStatus,
    ItemIssue,
    ItemStageWork,
    ItemStatus,
    PipelineItem,
    QaCheck,
)
from marketplace.payments.rails import Rails
from tests.conftest import UserFactory
from tests.pipelines.pipetools import fund_on_chain, streets
from tests.web.conftest import drag, image_xy, screenshot, sign_in, sign_out


def _item(page: Any) -> dict[str, Any]:
    return page.evaluate("window.__tilework.item()")


def _next_item(page: Any, after: int | str) -> int:
    page.wait_for_function(f"document.body.dataset.itemId && document.body.dataset.itemId !== '{after}'")
    return int(page.evaluate("document.body.dataset.itemId"))


def _selected_box(page: Any) -> list[float]:
    """The fixes page's selected box, [x, y, w, h]."""
    return page.evaluate("(o => [o.x, o.y, o.w, o.h])(window.__tilework.editor().selected())")


def _smallest_box(item: dict[str, Any]) -> tuple[int, int, list[float]] | None:
    """(stage index, object index, box) of the item's smallest box: drawn on top, so a click at its
    centre picks it."""
    boxes = [
        (o["geometry"][2] * o["geometry"][3], s, k, o["geometry"])
        for s, work in enumerate(item["work"])
        for k, o in enumerate(work["objects"])
        if min(o["geometry"][2], o["geometry"][3]) >= 8
    ]
    return min(boxes)[1:] if boxes else None


def _skip_hidden_checks(settings: Settings, pipeline_id: int, qa_id: int) -> None:
    """Data items only for this QA worker: every hidden check counted as already caught by them (the
    checks have their own tests, tests/pipelines/test_pipelines_qa_checks.py)."""
    with session_scope(session_factory(settings)) as s:
        checks = s.scalars(
            select(PipelineItem.id).where(PipelineItem.pipeline_id == pipeline_id, PipelineItem.is_check)
        )
        for item_id in list(checks):
            check = QaCheck(pipeline_id=pipeline_id, item_id=item_id, worker_id=qa_id, caught=True)
            s.add(check)


def test_web_qa_raises_an_issue_the_annotator_fixes_it_and_qa_approves(
    browser_page: Any,
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
) -> None:
    page = browser_page
    st = streets(client, make_user, settings, data_root, shared_datasets)
    for job_id in st.stage_ids:
        fund_on_chain(settings, rails, chain, job_id)
    st.annotate(client, settings)
    _skip_hidden_checks(settings, st.pipeline["id"], st.qa["id"])

    # QA: approve items without boxes until one has a box to flag
    sign_in(page, st.qa["email"])
    page.get_by_role("link", name="QA", exact=True).click()
    item_id = _next_item(page, "")
    picked = _smallest_box(_item(page))
    while picked is None:
        page.get_by_role("button", name="Approve").click()
        item_id = _next_item(page, item_id)
        picked = _smallest_box(_item(page))
    stage, index, (x, y, w, h) = picked
    stage_job_id = _item(page)["work"][stage]["stage_job_id"]
    page.mouse.click(*image_xy(page, x + w / 2, y + h / 2))
    selected = page.evaluate("(v => v.boxes[v.selected])(window.__tilework.editor())")
    assert (selected["stageJobId"], selected["index"]) == (stage_job_id, index)
    page.get_by_label("What is wrong").fill("the box misses half of it")
    page.get_by_role("button", name="Raise issue").click()
    assert page.evaluate("window.__tilework.drafts()") == [
        {"stage_job_id": stage_job_id, "object_index": index, "comment": "the box misses half of it"}
    ]
    screenshot(page, "web_pipeline_qa_issue")
    page.get_by_role("button", name="Send issues").click()
    held = _next_item(page, item_id)  # the next item is claimed and held meanwhile
    sign_out(page)

    # the annotator who drew the box sees it on the fixes page
    fixers = [
        w for w in (*st.cars, *st.walkers)
        if client.get("/api/pipeline-items/fixes", headers=w["headers"]).json()
    ]  # fmt: skip
    assert len(fixers) == 1
    sign_in(page, fixers[0]["email"])
    page.get_by_role("link", name="Fixes", exact=True).click()
    page.get_by_role("button", name=f"Fix item {item_id}").click()
    page.wait_for_function(f"document.body.dataset.fixItem === '{item_id}'")
    assert page.locator("#issue-list").get_by_text("the box misses half of it").is_visible()
    sel = _selected_box(page)
    assert sel == pytest.approx([x, y, w, h], abs=0.01)
    assert page.evaluate("window.__tilework.editor().marks.length") == 1
    screenshot(page, "web_pipeline_fix_open")
    # drag the box's bottom-right handle out by 20 x 12 image px
    drag(page, image_xy(page, x + w, y + h), image_xy(page, x + w + 20, y + h + 12))
    fixed = _selected_box(page)
    assert fixed[:2] == pytest.approx([x, y], abs=0.01)
    assert fixed[2] == pytest.approx(w + 20, abs=1.0) and fixed[3] == pytest.approx(h + 12, abs=1.0)
    page.get_by_role("button", name="Submit fix").click()
    page.get_by_text(f"Fix of item #{item_id} sent").wait_for()
    page.wait_for_function("document.body.dataset.fixes === '0'")
    sign_out(page)

    # QA: the item held meanwhile first, then the fixed item comes back with its fixed issue
    sign_in(page, st.qa["email"])
    page.goto("/work/qa")
    assert _next_item(page, "") == held
    page.get_by_role("button", name="Approve").click()
    assert _next_item(page, held) == item_id
    back = _item(page)
    assert [i["status"] for i in back["issues"]] == ["fixed"]
    assert "fixes came back" in page.locator("#qa-info").inner_text()
    assert page.locator("#fixed-list").get_by_text("the box misses half of it").is_visible()
    screenshot(page, "web_pipeline_qa_fixed")
    page.get_by_role("button", name="Approve").click()
    _next_item(page, item_id)

    with session_factory(settings)() as s:
        item = s.get(PipelineItem, item_id)
        assert item is not None and item.status is ItemStatus.approved
        where = (ItemStageWork.item_id == item_id, ItemStageWork.job_id == stage_job_id)
        work = s.scalars(select(ItemStageWork).where(*where)).one()
        stored = work.objects[index]["geometry"]
        assert stored == pytest.approx(fixed, abs=0.01)
        issues = list(s.scalars(select(ItemIssue).where(ItemIssue.item_id == item_id)))
        assert [(i.status, i.comment) for i in issues] == [
            (IssueStatus.resolved, "the box misses half of it")
        ]
