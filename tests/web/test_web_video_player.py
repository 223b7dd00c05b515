"""The video player of the annotation page (web/src/video/): a worker opens a video job from the board,
the page shows the claimed segment's frames from its chunk zips on a canvas, and stepping, jumping and
playing show the right frames. Each frame of the generated videos shows its own number as a barcode
(tests/video/videos.py), read back from the canvas pixels; over real footage (bedroom.mp4 of
../shared/datasets), frames 36 and 37 on the canvas are the publisher's
(and each differs from the other)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from marketplace.config import Settings
from tests.assignments.conftest import activate_job_now
from tests.video.test_video_bedroom_shared import DIFFERENT, SAME, mad
from tests.video.test_video_jobs import video_job_body
from tests.video.test_video_jobs_shared import bedroom_job_body
from tests.video.videos import make_video, read_barcode
from tests.web.conftest import sign_in


def canvas_rgb(page: Any) -> np.ndarray:
    """The player's frame canvas at its own pixel size (lossless PNG out of the page)."""
    url = page.evaluate("() => document.querySelector('canvas.video-frame').toDataURL('image/png')")
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def wait_frame(page: Any, n: int) -> None:
    page.wait_for_function(f"document.body.dataset.frame === '{n}'")


def go_to_frame(page: Any, n: int) -> None:
    page.get_by_label("Go to frame").fill(str(n))
    page.get_by_label("Go to frame").press("Enter")
    wait_frame(page, n)
    page.locator("canvas.video-overlay").focus()


def make_video_job(client: TestClient, make_user: Any, settings: Settings, body: dict[str, Any]) -> int:
    requester = make_user("requester")
    r = client.post("/api/jobs", json=body, headers=requester["headers"])
    assert r.status_code == 201, r.text
    job_id: int = r.json()["id"]
    activate_job_now(settings, job_id)
    return job_id


def test_web_video_player_shows_exact_frames_when_stepping_jumping_and_playing(
    browser_page: Any, client: TestClient, make_user: Any, data_root: Path, settings: Settings
) -> None:
    root = data_root / "clips"
    root.mkdir()
    (root / "a.mp4").write_bytes(make_video([i * 40 for i in range(90)]))  # 25 fps
    body = video_job_body(root, segment_frames=60, segment_overlap=4)
    make_video_job(client, make_user, settings, body)

    page = browser_page
    worker = make_user("worker")
    sign_in(page, worker["email"])
    page.goto("/work")
    row = page.locator("#board tbody tr", has_text="Cars in traffic")
    row.wait_for()
    assert "Video tracks (boxes)" in row.inner_text()
    row.get_by_role("link", name="Start working on Cars in traffic").click()
    page.wait_for_function("document.body.dataset.assignmentId > 0")
    wait_frame(page, 0)
    assert page.locator("video").count() == 0  # frames come from chunk zips, never a <video>
    assert read_barcode(canvas_rgb(page)) == 0
    assert "Frame 0 · 1 of 60" in page.locator("#frame-counter").inner_text()

    overlay = page.locator("canvas.video-overlay")
    overlay.focus()
    for n in (1, 2, 3):
        page.keyboard.press(".")
        wait_frame(page, n)
        assert read_barcode(canvas_rgb(page)) == n
    page.keyboard.press("ArrowLeft")
    wait_frame(page, 2)
    assert read_barcode(canvas_rgb(page)) == 2

    # a jump into another chunk (36 frames each at this size: frame 41 is in chunk 1)
    go_to_frame(page, 41)
    assert read_barcode(canvas_rgb(page)) == 41
    page.keyboard.press("End")
    wait_frame(page, 59)  # the segment's last frame; the next segment starts at 56
    assert read_barcode(canvas_rgb(page)) == 59
    page.keyboard.press(".")  # stepping stops at the segment's end
    page.wait_for_timeout(100)
    assert page.evaluate("document.body.dataset.frame") == "59"

    # playing from frame 30 goes through the frames in order, then pause holds the frame
    go_to_frame(page, 30)
    seen: list[int] = page.evaluate(
        """() => new Promise((resolve) => {
            const seen = [];
            const watch = new MutationObserver(() => {
                seen.push(Number(document.body.dataset.frame));
                if (seen.length >= 12) { watch.disconnect(); resolve(seen); }
            });
            watch.observe(document.body, { attributes: true, attributeFilter: ["data-frame"] });
            document.querySelector('canvas.video-overlay').dispatchEvent(
                new KeyboardEvent('keydown', { key: ' ', bubbles: true }));
        })"""
    )
    assert seen == list(range(31, 43))
    page.keyboard.press(" ")
    page.wait_for_function("document.body.dataset.playing === 'false'")
    held = int(page.evaluate("document.body.dataset.frame"))
    page.wait_for_timeout(200)
    assert int(page.evaluate("document.body.dataset.frame")) == held
    assert read_barcode(canvas_rgb(page)) == held


@pytest.mark.shared
def test_web_video_player_shows_the_publishers_frames_36_and_37_of_bedroom(
    browser_page: Any,
    client: TestClient,
    make_user: Any,
    data_root: Path,
    settings: Settings,
    shared_datasets: Path,
) -> None:
    folder = shared_datasets / "video_bedroom"
    job_id = make_video_job(client, make_user, settings, bedroom_job_body(data_root, shared_datasets))

    page = browser_page
    sign_in(page, make_user("worker")["email"])
    page.goto(f"/work/jobs/{job_id}")
    page.wait_for_function("document.body.dataset.assignmentId > 0")
    wait_frame(page, 0)
    go_to_frame(page, 35)
    page.keyboard.press(".")
    wait_frame(page, 36)
    shown36 = canvas_rgb(page)
    page.keyboard.press(".")
    wait_frame(page, 37)
    shown37 = canvas_rgb(page)

    def published(n: int) -> np.ndarray:
        return np.asarray(Image.open(folder / "frames" / f"{n:05d}.jpg").convert("RGB"))

    assert shown36.shape == published(36).shape  # the canvas holds the frame at its own size (960x540)
    figures = {
        (shown, pub): mad(image, published(pub))
        for shown, image in ((36, shown36), (37, shown37))
        for pub in (36, 37)
    }
    print("bedroom in the browser, MAD (shown, published):", {k: round(v, 2) for k, v in figures.items()})
    assert figures[36, 36] < SAME and figures[37, 37] < SAME
    assert figures[36, 37] > DIFFERENT and figures[37, 36] > DIFFERENT
