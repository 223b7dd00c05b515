"""A video job of polygon tracks in the browser, whose editor draws boxes only: the job board says it is
worked through the API (no "Start working" button), and the annotation page, opened directly, says so
instead of breaking, without claiming ahead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.assignments.conftest import activate_job_now
from tests.video.videos import make_video
from tests.web.conftest import sign_in


def test_web_video_polygon_job_is_marked_api_only_on_the_board_and_the_page(
    browser_page: Any, client: TestClient, make_user: Any, data_root: Path, settings: Settings
) -> None:
    root = data_root / "clips"
    root.mkdir()
    (root / "a.mp4").write_bytes(make_video([i * 40 for i in range(40)]))
    requester = make_user("requester")
    body = {
        "type": "video_polygons", "title": "Cars in traffic", "labels": ["car"], "data_uri": str(root),
        "gt": {}, "bounty_amount": 100_000, "currency": "usd", "rail": "card", "gt_per_assignment": 0,
        "segment_frames": 16, "segment_overlap": 4,
    }  # fmt: skip
    r = client.post("/api/jobs", json=body, headers=requester["headers"])
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    activate_job_now(settings, job_id)

    page = browser_page
    worker = make_user("worker")
    sign_in(page, worker["email"])
    page.goto("/work")
    row = page.locator("#board tbody tr", has_text="Cars in traffic")
    row.wait_for()
    assert "Video tracks (polygons)" in row.inner_text()
    assert "Through the API for now" in row.inner_text()
    assert row.get_by_role("link", name="Start working on Cars in traffic").count() == 0

    page.goto(f"/work/jobs/{job_id}")
    page.wait_for_function("document.body.dataset.assignmentId === 'none'")
    assert "worked through the API" in page.locator("#nothing-text").inner_text()
    page.wait_for_load_state("networkidle")  # a claim ahead, if one were made, has been answered
    mine = client.get("/api/assignments/mine", headers=worker["headers"]).json()
    assert len(mine) == 1  # the one the page claimed, and no second one claimed ahead
