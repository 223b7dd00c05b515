"""Box tracks in the video editor (web/src/video/): a worker draws a track on one frame, moves and
resizes it on another (a second keyframe), sees the interpolated box in between, marks a second track
outside, copies a box to the next frame and deletes a keyframe, then submits. The stored answer has
the keyframes in the video's ORIGINAL pixels (the frames are served at half size here), and the box
the page showed between the keyframes is Python's interpolation (marketplace/geometry/tracks.py)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.geometry.tracks import shape_at, track_from_json
from marketplace.media import video_ingest
from marketplace.models import Assignment, AssignmentItem
from tests.video.test_video_jobs import video_job_body
from tests.video.videos import make_video
from tests.web.conftest import drag, screenshot, sign_in
from tests.web.test_web_video_player import go_to_frame, make_video_job, wait_frame

WIDTH, HEIGHT = 240, 144  # served at 120x72: scale 0.5


def to_client(page: Any, x: float, y: float) -> tuple[float, float]:
    point = page.evaluate(f"window.__tilework.editor().origToClient({x}, {y})")
    return point["x"], point["y"]


def shown(page: Any) -> list[dict[str, Any]]:
    boxes: list[dict[str, Any]] = page.evaluate("window.__tilework.editor().shownBoxes()")
    return boxes


def close(a: list[float], b: list[float], tol: float = 0.6) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def half_size_video_job(
    client: TestClient,
    make_user: Any,
    settings: Settings,
    data_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    **fields: Any,
) -> int:
    """An active video job over a 40-frame video whose frames are served at half size (so geometry
    in original pixels really differs from the served pixels), one segment of 30 frames first."""
    monkeypatch.setattr(video_ingest, "ingest", functools.partial(video_ingest.ingest, max_long_side=120))
    root = data_root / "clips"
    root.mkdir()
    (root / "a.mp4").write_bytes(make_video([i * 40 for i in range(40)], size=(WIDTH, HEIGHT)))
    body = video_job_body(root, segment_frames=30, segment_overlap=4, **fields)
    return make_video_job(client, make_user, settings, body)


def test_web_video_worker_edits_box_tracks_and_submits_them_in_original_pixels(
    browser_page: Any,
    client: TestClient,
    make_user: Any,
    data_root: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = half_size_video_job(client, make_user, settings, data_root, monkeypatch)

    page = browser_page
    sign_in(page, make_user("worker")["email"])
    page.goto(f"/work/jobs/{job_id}")
    page.wait_for_function("document.body.dataset.assignmentId > 0")
    wait_frame(page, 0)
    video = page.evaluate("window.__tilework.assignment().items[0].video")
    assert (video["frame_width"], video["scale"], video["end_frame"]) == (120, 0.5, 30)

    # track 1 ("person"): drawn on frame 2, moved and resized on frame 12
    go_to_frame(page, 2)
    page.keyboard.press("2")
    drag(page, to_client(page, 40, 30), to_client(page, 100, 90))
    [box] = shown(page)
    assert box["label"] == "person" and box["keyframe"] and close(box["geometry"], [40, 30, 100, 90])
    go_to_frame(page, 12)
    drag(page, to_client(page, 70, 60), to_client(page, 130, 80))  # move by (+60, +20)
    drag(page, to_client(page, 160, 110), to_client(page, 180, 124))  # the bottom-right corner
    [box] = shown(page)
    assert box["keyframe"] and close(box["geometry"], [100, 50, 180, 124])
    ticks = page.locator(".timeline-marks .tick")
    assert ticks.count() == 2

    go_to_frame(page, 7)
    [between] = shown(page)
    assert not between["keyframe"]
    assert "interpolated" in page.locator("#editor-root .tracks li").first.inner_text()
    screenshot(page, "video_editor_interpolated")

    # split at frame 7 (S): two tracks showing the same boxes; merged back (the menu): one; both undone
    page.locator("canvas.video-overlay").focus()
    page.keyboard.press("s")
    assert sorted(t["id"] for t in page.evaluate("window.__tilework.editor().tracks")) == [1, 2]
    assert [b["geometry"] for b in shown(page)] == [between["geometry"]]
    assert page.locator(".timeline-marks .outside").count() == 1
    page.get_by_label("Merge the selected track with").select_option("1")
    tracks = page.evaluate("window.__tilework.editor().tracks")
    assert [(t["id"], [k["frame"] for k in t["keyframes"]]) for t in tracks] == [(1, [2, 6, 7, 12])]
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    tracks = page.evaluate("window.__tilework.editor().tracks")
    assert [(t["id"], [k["frame"] for k in t["keyframes"]]) for t in tracks] == [(1, [2, 12])]
    page.keyboard.press("Escape")

    # track 2 ("car"): drawn on frame 20, copied to 21 (C), out of view from 25 (O), then the copy deleted;
    # occluded from 22 (Q)
    go_to_frame(page, 20)
    page.keyboard.press("Escape")  # deselect: a number key relabels the selected track
    page.keyboard.press("1")
    assert [b["label"] for b in shown(page)] == ["person"]
    drag(page, to_client(page, 10, 10), to_client(page, 50, 40))
    page.keyboard.press("c")
    wait_frame(page, 21)
    assert [b["keyframe"] for b in shown(page) if b["label"] == "car"] == [True]
    go_to_frame(page, 25)
    page.keyboard.press("o")
    assert [b["label"] for b in shown(page)] == ["person"]
    assert page.locator(".timeline-marks .outside").count() == 1
    go_to_frame(page, 21)
    page.mouse.click(*to_client(page, 30, 25))  # select track 2 by its box
    page.keyboard.press("Delete")
    car = [b for b in shown(page) if b["label"] == "car"]
    assert len(car) == 1 and not car[0]["keyframe"]  # held from frame 20 now
    go_to_frame(page, 22)
    page.mouse.click(*to_client(page, 30, 25))
    page.keyboard.press("q")
    assert [b["occluded"] for b in shown(page) if b["label"] == "car"] == [True]

    held = page.evaluate("document.body.dataset.assignmentId")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"document.body.dataset.assignmentId !== '{held}'")  # the next one, or none

    with session_factory(settings)() as session:
        [(status, answer)] = session.execute(
            select(Assignment.status, AssignmentItem.answer)
            .join(AssignmentItem, AssignmentItem.assignment_id == Assignment.id)
            .where(Assignment.job_id == job_id, Assignment.submitted_at.is_not(None))
        ).all()
    assert status.value in {"submitted", "accepted"}
    tracks = {t["label"]: t for t in answer}
    person = tracks["person"]["keyframes"]
    assert [k["frame"] for k in person] == [2, 12]
    assert close(person[0]["geometry"], [40, 30, 100, 90]) and close(
        person[1]["geometry"], [100, 50, 180, 124]
    )
    car = tracks["car"]["keyframes"]
    assert [(k["frame"], k["outside"], k["occluded"]) for k in car] == [
        (20, False, False),
        (22, False, True),
        (25, True, False),
    ]
    assert close(car[0]["geometry"], [10, 10, 50, 40]) and close(car[1]["geometry"], [10, 10, 50, 40])
    assert car[2]["geometry"] is None

    # the box the page showed on frame 7 is Python's interpolation of the stored keyframes
    expected = shape_at(track_from_json(tracks["person"]), 7, 30)
    assert expected is not None and not expected.keyframe
    assert between["geometry"] == pytest.approx(expected.geometry, abs=1e-9)
