"""Polygon tracks in the video editor (job type video_polygons, web/src/video/): the board offers the
job like any other; a worker clicks an outline's vertices on one frame (closing it on its first vertex),
drags a vertex on a later frame (a second keyframe), sees the interpolated outline in between, splits
and merges the track (both undone), draws a second track closed with Enter after dropping a half-drawn
one with Escape, copies it to the next frame, marks it outside, moves it on a frame and deletes that
keyframe, then submits. The stored rings are in the video's ORIGINAL pixels (the frames are
served at half size), and the outline the page showed between the keyframes is Python's interpolation
(marketplace/geometry/tracks.py) within half a pixel per vertex."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.geometry.tracks import shape_at, track_from_json
from marketplace.models import Assignment, AssignmentItem
from tests.web.conftest import drag, screenshot, sign_in
from tests.web.test_web_video_player import go_to_frame, wait_frame
from tests.web.test_web_video_tracks import half_size_video_job, shown, to_client

PERSON = [(40.0, 30.0), (120.0, 30.0), (140.0, 80.0), (90.0, 120.0), (40.0, 90.0)]
CAR = [(160.0, 20.0), (220.0, 20.0), (190.0, 60.0)]


def flat(points: list[tuple[float, float]]) -> list[float]:
    return [v for p in points for v in p]


def near(a: list[float], b: list[float], tol: float) -> bool:
    """Same vertices within ``tol`` pixels each (Euclidean)."""
    if len(a) != len(b):
        return False
    return all(((a[i] - b[i]) ** 2 + (a[i + 1] - b[i + 1]) ** 2) ** 0.5 <= tol for i in range(0, len(a), 2))


def click_outline(page: Any, points: list[tuple[float, float]]) -> None:
    for x, y in points:
        page.mouse.click(*to_client(page, x, y))


def test_web_video_worker_draws_polygon_tracks_and_submits_them_in_original_pixels(
    browser_page: Any,
    client: TestClient,
    make_user: Any,
    data_root: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = half_size_video_job(
        client, make_user, settings, data_root, monkeypatch, type="video_polygons", labels=["person", "car"]
    )

    page = browser_page
    sign_in(page, make_user("worker")["email"])
    page.goto("/work")
    row = page.locator("#board tbody tr", has_text="Cars in traffic")
    row.wait_for()
    assert "Video tracks (polygons)" in row.inner_text()
    row.get_by_role("link", name="Start working on Cars in traffic").click()
    page.wait_for_function("document.body.dataset.assignmentId > 0")
    wait_frame(page, 0)
    video = page.evaluate("window.__tilework.assignment().items[0].video")
    assert (video["frame_width"], video["scale"], video["end_frame"]) == (120, 0.5, 30)
    assert "click the outline's vertices" in page.locator("#track-info").inner_text()

    # track 1 ("person"): clicked on frame 2, closed on its first vertex
    go_to_frame(page, 2)
    click_outline(page, PERSON)
    assert shown(page) == []  # not closed yet
    page.mouse.click(*to_client(page, *PERSON[0]))
    [person] = shown(page)
    assert person["label"] == "person" and person["keyframe"]
    assert len(person["geometry"]) == 1 and near(person["geometry"][0], flat(PERSON), 0.6)

    # frame 12: the third vertex dragged from (140, 80) to (200, 70): a second keyframe
    go_to_frame(page, 12)
    [held] = shown(page)
    assert not held["keyframe"] and near(held["geometry"][0], flat(PERSON), 0.6)
    drag(page, to_client(page, 140, 80), to_client(page, 200, 70))
    moved = PERSON[:2] + [(200.0, 70.0)] + PERSON[3:]
    [person] = shown(page)
    assert person["keyframe"] and near(person["geometry"][0], flat(moved), 0.6)
    assert page.locator(".timeline-marks .tick").count() == 2

    go_to_frame(page, 7)
    [between] = shown(page)
    assert not between["keyframe"]
    assert "interpolated" in page.locator("#editor-root .tracks li").first.inner_text()
    screenshot(page, "video_polygon_interpolated")

    # split at frame 7 (S): two tracks showing the same outlines; merged back (the menu): one; both undone
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
    page.mouse.click(*to_client(page, 10, 130))  # beside the selected outline: deselects, draws nothing
    assert page.evaluate("window.__tilework.editor().selectedId") is None
    assert page.evaluate("window.__tilework.editor().draft") == []

    # track 2 ("car") on frame 20: a half-drawn outline dropped with Escape, then one closed with Enter;
    # copied to 21 (C), out of view from 25 (O)
    go_to_frame(page, 20)
    page.keyboard.press("Escape")  # deselect: a number key relabels the selected track
    page.keyboard.press("2")
    click_outline(page, CAR[:2])
    page.keyboard.press("Escape")
    click_outline(page, CAR)
    page.keyboard.press("Enter")
    assert sorted(b["label"] for b in shown(page)) == ["car", "person"]
    page.keyboard.press("c")
    wait_frame(page, 21)
    assert [b["keyframe"] for b in shown(page) if b["label"] == "car"] == [True]
    go_to_frame(page, 25)
    page.mouse.click(*to_client(page, 190, 35))  # select the car by its inside
    page.keyboard.press("o")
    assert [b["label"] for b in shown(page)] == ["person"]
    assert page.locator(".timeline-marks .outside").count() == 1
    # a keyframe put on frame 23 by dragging the whole outline, then deleted (Delete): held from 21 again
    go_to_frame(page, 23)
    drag(page, to_client(page, 190, 35), to_client(page, 180, 45))
    [car] = [b for b in shown(page) if b["label"] == "car"]
    assert car["keyframe"] and near(car["geometry"][0], flat([(x - 10, y + 10) for x, y in CAR]), 0.6)
    page.keyboard.press("Delete")
    [car] = [b for b in shown(page) if b["label"] == "car"]
    assert not car["keyframe"] and near(car["geometry"][0], flat(CAR), 0.6)

    held_id = page.evaluate("document.body.dataset.assignmentId")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"document.body.dataset.assignmentId !== '{held_id}'")

    with session_factory(settings)() as session:
        [(status, answer)] = session.execute(
            select(Assignment.status, AssignmentItem.answer)
            .join(AssignmentItem, AssignmentItem.assignment_id == Assignment.id)
            .where(Assignment.job_id == job_id, Assignment.submitted_at.is_not(None))
        ).all()
    assert status.value in {"submitted", "accepted"}
    tracks = {t["label"]: t for t in answer}
    assert len(answer) == 2
    keys = tracks["person"]["keyframes"]
    assert [k["frame"] for k in keys] == [2, 12]
    assert near(keys[0]["geometry"][0], flat(PERSON), 0.6)
    assert near(keys[1]["geometry"][0], flat(moved), 0.6)
    car = tracks["car"]["keyframes"]
    assert [(k["frame"], k["outside"]) for k in car] == [(20, False), (21, False), (25, True)]
    assert near(car[0]["geometry"][0], flat(CAR), 0.6) and car[2]["geometry"] is None

    # the outline the page showed on frame 7 is Python's interpolation of the stored keyframes
    expected = shape_at(track_from_json(tracks["person"]), 7, 30)
    assert expected is not None and not expected.keyframe
    [ring] = expected.geometry
    assert len(between["geometry"]) == 1 and near(between["geometry"][0], ring, 0.5)
    # and it lies between the two keyframes: the dragged vertex (x 140 -> 200) about half way
    assert 150 < max(ring[0::2]) < 195
