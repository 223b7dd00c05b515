"""The requester's pipeline pages, under the CSP the app really sends: a requester creates a pipeline
from the form (told what the server refuses, stage by stage); a QA worker routes an item to
the QA stage's custom status from the QA page (a reason required); the requester finds the pipeline
in their list, follows its stages' counts and workers, is told why a move is refused, moves one
annotator's open issue to another member of the stage, and downloads the approved results. Someone
else's pipeline is a 404 page."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.escrow.evm import DevChain
from marketplace.models import IssueStatus, ItemIssue, ItemStatus, Job, Pipeline, PipelineItem
from marketplace.payments.rails import Rails
from tests.conftest import UserFactory
from tests.pipelines.pipetools import Streets, first_review, fund_on_chain, gt_coco, real_images, streets
from tests.web.conftest import LiveServer, screenshot, sign_in, sign_out
from tests.web.test_web_pages import _unlabelled


@pytest.fixture
def csp_page(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """A page under the real CSP (no bypass: waits are locators, never string predicates) that
    collects JavaScript errors and console errors (CSP violations among them)."""
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"{msg.text} {msg.location.get('url', '')}") if msg.type == "error" else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
    # the app serves no favicon; a refused move or form is logged by the browser as a failed request
    refused = ("status of 409", "status of 422")
    real = [p for p in problems if not p.endswith("/favicon.ico") and not any(r in p for r in refused)]
    assert not real, real


def _fixes(client: TestClient, worker: dict[str, Any] | None) -> set[int]:
    assert worker is not None
    r = client.get("/api/pipeline-items/fixes", headers=worker["headers"])
    assert r.status_code == 200, r.text
    return {i["id"] for i in r.json()}


def _stat(region: Any, key: str) -> str:
    """The value of the stat labelled ``key`` in a card."""
    label = region.page.get_by_text(key, exact=True)
    text: str = region.locator(".stat", has=label).locator(".v").inner_text()
    return text


def _loaded(page: Any, after: int) -> int:
    """Wait until the pipeline page has loaded more than ``after`` times; how many times it has."""
    page.locator(f"body[data-loaded]:not([data-loaded='{after}'])").wait_for(state="attached")
    return int(page.locator("body").get_attribute("data-loaded"))


def _route_from_the_qa_page(page: Any, st: Streets, held: int, settings: Settings) -> None:
    sign_in(page, st.qa["email"])
    page.get_by_role("link", name="QA", exact=True).click()
    page.locator(f"body[data-item-id='{held}']").wait_for(state="attached")
    route = page.get_by_role("button", name="Route to expert review")
    route.click()  # no reason given: not sent
    page.get_by_text("Say why the item goes to expert review").wait_for()
    page.get_by_label("Why route it (required)").fill("a mannequin or a person?")
    screenshot(page, "web_pipeline_qa_route")
    route.click()
    page.locator(f"body[data-item-id]:not([data-item-id='{held}'])").wait_for(state="attached")
    with session_factory(settings)() as s:
        item = s.get(PipelineItem, held)
        assert item is not None and item.status is ItemStatus.routed and item.route == "expert review"
    sign_out(page)


def test_web_requester_follows_a_pipeline_and_moves_an_issue_to_another_member(
    csp_page: Any,
    client: TestClient,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    rails: Rails,
    chain: DevChain,
) -> None:
    page = csp_page
    st = streets(client, make_user, settings, data_root, shared_datasets, teams=True, expert=True)
    assert st.spare is not None
    pid, owner = st.pipeline["id"], st.requester["headers"]
    for job_id in st.stage_ids:
        fund_on_chain(settings, rails, chain, job_id)
    st.annotate(client, settings)
    issued, held = first_review(client, settings, st, st.qa, hold=True)
    assert held is not None
    _route_from_the_qa_page(page, st, held, settings)
    issued |= first_review(client, settings, st, st.qa)[0]  # the rest, the item the page claimed first
    maker = next(w for w in st.walkers if issued[st.moved] in _fixes(client, w))
    before = _fixes(client, maker)
    workers = [
        w
        for w in client.get(f"/api/pipelines/{pid}/workers", headers=owner).json()
        if w["stage_job_id"] == st.stage_ids[1]
    ]
    open_issues = sum(w["issues_open"] for w in workers)
    makers = next(w["issues_open"] for w in workers if w["worker_id"] == maker["id"])
    assert open_issues >= 2 and makers >= 1
    with session_factory(settings)() as s:
        where = (ItemIssue.assignee_id == maker["id"], ItemIssue.status == IssueStatus.open)
        makers_issues = set(s.scalars(select(ItemIssue.id).where(*where)))
    assert len(makers_issues) == makers

    # the requester's list links to the pipeline
    sign_in(page, st.requester["email"])
    page.get_by_role("link", name="Pipelines", exact=True).click()
    page.locator("body[data-loaded='1']").wait_for(state="attached")
    row = page.locator("#pipelines tbody tr", has=page.get_by_role("link", name="Street scenes"))
    assert "cars → pedestrians → QA" in row.inner_text()
    problems = _unlabelled(page)
    row.get_by_role("link", name="Street scenes").click()
    loads = _loaded(page, 0)
    problems += _unlabelled(page)
    assert not problems, problems

    # each stage's counts and workers; the routed item counted
    view = client.get(f"/api/pipelines/{pid}", headers=owner).json()
    assert page.locator(".stage-card").count() == 3
    walkers = page.get_by_role("region", name="Stage 2: pedestrians")
    assert _stat(walkers, "open issues to fix") == str(open_issues)
    items = page.get_by_role("region", name="Items", exact=True)
    assert _stat(items, "items routed") == "1"
    assert _stat(items, "items approved") == str(view["items"]["approved"])
    qa_card = page.get_by_role("region", name="Stage 3: QA")
    assert _stat(qa_card, "items routed to a custom status") == "1"
    route_line = qa_card.locator("ul.routes li").inner_text()  # the declared route, its expert, its item
    assert "expert review" in route_line and "1 item" in route_line
    assert f"worker #{st.expert['id']}" in route_line
    assert f"worker #{st.qa['id']}" in qa_card.locator("table").inner_text()
    maker_row = walkers.locator("tbody tr", has=page.get_by_text(f"worker #{maker['id']}", exact=True))
    assert maker_row.locator("td").nth(7).inner_text() == str(makers)
    assert "funded" in walkers.locator(".stats").nth(1).inner_text()
    screenshot(page, "web_pipeline_manage")

    # a worker outside the pedestrians' team: refused by the API, its reason shown, nothing moved
    form = walkers.get_by_role("form", name="Reassign open work of pedestrians")
    form.get_by_label("From worker").select_option(str(maker["id"]))
    form.get_by_label("To worker").select_option("other")
    form.get_by_label("Other worker's id").fill(str(st.cars[0]["id"]))
    form.get_by_role("button", name="Move their open work").click()
    walkers.get_by_text("worker_not_eligible").wait_for()
    assert f"worker {st.cars[0]['id']} cannot take" in walkers.locator(".notice.bad").inner_text()
    assert _fixes(client, maker) == before

    # to the team's spare member: the maker's open issues move, the counts refresh
    form.get_by_label("To worker").select_option(str(st.spare["id"]))
    form.get_by_role("button", name="Move their open work").click()
    walkers.get_by_text(f"from worker #{maker['id']} to worker #{st.spare['id']}").wait_for()
    _loaded(page, loads)
    spare_row = walkers.locator("tbody tr", has=page.get_by_text(f"worker #{st.spare['id']}", exact=True))
    assert spare_row.locator("td").nth(7).inner_text() == str(makers)
    assert _stat(walkers, "open issues to fix") == str(open_issues)
    screenshot(page, "web_pipeline_reassigned")
    with session_factory(settings)() as s:
        moved = list(s.scalars(select(ItemIssue).where(ItemIssue.id.in_(makers_issues))))
    assert [(i.status, i.assignee_id) for i in moved] == [(IssueStatus.open, st.spare["id"])] * makers
    assert _fixes(client, st.spare) == before and _fixes(client, maker) == set()

    # the approved results download as COCO
    with page.expect_download() as download:
        page.get_by_role("link", name="Approved results (COCO JSON)").click()
    assert download.value.suggested_filename == f"pipeline-{pid}-approved-coco.json"
    coco = json.loads(Path(download.value.path()).read_text())
    assert len(coco["images"]) == view["items"]["approved"] > 0


def test_web_pipeline_page_is_its_requesters(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Path, shared_datasets: Path
) -> None:
    st = streets(client, make_user, settings, data_root, shared_datasets)
    url = f"/pipelines/{st.pipeline['id']}"
    mine = client.get(url, headers=st.requester["headers"])
    assert mine.status_code == 200 and '"can_manage": true' in html.unescape(mine.text)
    assert 'href="/pipelines"' in mine.text and "pipeline.js" in mine.text
    other = client.get(url, headers=make_user("requester")["headers"])
    assert other.status_code == 404 and "Pipeline not found" in other.text
    assert "pipeline.js" not in other.text
    assert client.get("/pipelines/999999", headers=st.requester["headers"]).status_code == 404
    staff = client.get(url, headers=make_user("admin")["headers"])  # staff read it, never move work
    assert staff.status_code == 200 and '"can_manage": false' in html.unescape(staff.text)
    assert client.get(url, headers=st.cars[0]["headers"]).status_code == 403
    client.cookies.clear()
    anonymous = client.get(url, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == f"/signin?next={url}"
    listing = client.get("/pipelines", headers=st.requester["headers"])
    assert listing.status_code == 200 and "pipelines.js" in listing.text


def test_web_requester_creates_a_pipeline_from_the_form(
    csp_page: Any,
    make_user: UserFactory,
    settings: Settings,
    data_root: Path,
    shared_datasets: Path,
    tmp_path: Path,
    rails: Rails,
) -> None:
    page = csp_page
    requester, qa, expert = make_user("requester"), make_user("worker"), make_user("worker")
    root = data_root / "streets"
    root.mkdir()
    gold = real_images(shared_datasets, root)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(gt_coco(shared_datasets, gold)))
    sign_in(page, requester["email"])
    page.get_by_role("link", name="Pipelines", exact=True).click()
    page.get_by_role("link", name="New pipeline").click()
    page.get_by_label("Title").fill("Street scenes")
    page.get_by_label("Image files").set_input_files(sorted(str(p) for p in root.iterdir()))
    page.get_by_label("Ground truth").set_input_files(str(gt))
    page.get_by_label("Payment").select_option("chain")
    assert page.get_by_label("Currency").input_value() == "tusd"
    page.get_by_label("Stage 1 name").fill("cars")
    page.get_by_label("Stage 1 labels (commas)").fill("car")
    page.get_by_label("Stage 1 bounty").fill("0.4")
    page.get_by_label("Stage 1 images per assignment").fill("2")
    page.get_by_label("Stage 1 hidden GT images per assignment").fill("1")
    page.get_by_role("button", name="Add an annotate stage").click()
    page.get_by_label("Stage 2 name").fill("pedestrians")
    page.get_by_label("Stage 2 labels (commas)").fill("car")  # the cars' label again: refused
    page.get_by_label("Stage 2 bounty").fill("0.8")
    page.get_by_label("Stage 2 images per assignment").fill("2")
    page.get_by_label("Stage 2 hidden GT images per assignment").fill("1")
    page.get_by_label("QA team (worker ids, optional)").fill(str(qa["id"]))
    page.get_by_label("Custom statuses").fill(f"expert review: {expert['id']}")
    page.get_by_label("One after another").check()
    page.get_by_role("button", name="Create pipeline").click()
    page.get_by_text("QA bounty: enter an amount").wait_for()  # checked before sending
    page.get_by_label("QA bounty").fill("0.16")
    page.get_by_role("button", name="Create pipeline").click()
    page.get_by_text("labels ['car'] are in two annotate stages; each label has one").wait_for()
    screenshot(page, "web_pipeline_new_refused")
    assert not _unlabelled(page)
    page.get_by_label("Stage 2 labels (commas)").fill("person")
    page.get_by_role("button", name="Create pipeline").click()
    page.wait_for_url("**/pipelines/*")
    _loaded(page, 0)
    assert page.locator("#pipeline-title").inner_text() == "Street scenes"
    assert page.locator(".stage-card").count() == 3
    second = page.locator(".stage-card").nth(1).inner_text()
    assert "each image once job #" in second and "has finished it" in second  # in sequence
    assert "has finished it" not in page.locator(".stage-card").nth(0).inner_text()

    pid = int(page.url.rsplit("/", 1)[1])
    with session_factory(settings)() as s:
        pipeline = s.get(Pipeline, pid)
        assert pipeline is not None and pipeline.requester_id == requester["id"]
        assert pipeline.qa_members == [qa["id"]]
        assert pipeline.qa_routes == [{"status": "expert review", "members": [expert["id"]]}]
        jobs = list(s.scalars(select(Job).where(Job.pipeline_id == pid).order_by(Job.stage_index)))
        assert [(j.labels, j.bounty_amount, j.currency) for j in jobs] == [
            (["car"], 400_000, "tusd"),
            (["person"], 800_000, "tusd"),
            (["car", "person"], 160_000, "tusd"),
        ]
        assert [j.work_units[0] for j in jobs[:2]] == [8, 8]
        assert [j.after_job_id for j in jobs] == [None, jobs[0].id, None]  # in sequence
