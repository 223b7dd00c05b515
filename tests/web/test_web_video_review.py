"""The reviewer's side-by-side view of a disputed video segment: a worker who swapped two people's ids
is rejected and appeals; the reviewer sees the worker's tracks beside the hidden GT in two players that
move together, the frames where identity differs marked and listed, jumps to one, and switches to
another worker's version of the same segment."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from marketplace.config import Settings
from tests.video.test_video_gt import appealed_swap
from tests.video.videos import read_barcode
from tests.web.conftest import screenshot, sign_in


def canvas(page: Any, nth: int, kind: str) -> np.ndarray:
    """Player ``nth``'s ``frame`` or ``overlay`` canvas as RGBA pixels."""
    script = f"() => document.querySelectorAll('#segment-compare canvas.video-{kind}')[{nth}].toDataURL()"
    url = page.evaluate(script)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))


def test_web_reviewer_compares_a_swapped_segment_with_the_gt_and_another_worker(
    browser_page: Any, client: TestClient, make_user: Any, data_root: Path, settings: Settings
) -> None:
    _, rejected, honest_id, dispute_id = appealed_swap(client, make_user, settings, data_root / "review")

    page = browser_page
    reviewer = make_user("reviewer")
    sign_in(page, reviewer["email"])
    page.get_by_label("Kind").select_option("appeal")
    page.locator(f"button.queue-item[data-dispute-id='{dispute_id}']").click()
    page.wait_for_function(f"document.body.dataset.disputeLoaded === '{dispute_id}'")
    page.wait_for_function("document.body.dataset.comparing === 'gt'")
    page.wait_for_function("document.body.dataset.frame === '12'")
    meta = page.locator(f"section.assignment[data-assignment-id='{rejected}'] p.meta").first.inner_text()
    assert "boxes 100.0%" in meta and "IDF1 50.0% vs 90.0%, 2 ID switch(es)" in meta
    compare = page.locator("#segment-compare")
    assert compare.locator("video").count() == 0 and compare.locator("canvas.video-frame").count() == 2
    # the GT frames either side of the swap: one side is marked as differing in identity, no geometry
    listed = page.locator("#diff-frames").inner_text()
    assert "Identity differs on frames" in listed and "Geometry" not in listed
    marked = [16, 17, 18] if "16" in listed else [21, 22, 23]
    assert all(str(f) in listed for f in marked)
    ticks = compare.locator(".timeline-marks span.tick")
    assert ticks.count() == 2 * (6 + 3)  # both timelines: six GT frames, three of them differing
    # a frame link moves both players there: the same frame on both canvases, boxes drawn on both
    page.locator("#diff-frames").get_by_role("button", name=str(marked[0])).click()
    page.wait_for_function(f"document.body.dataset.frame === '{marked[0]}'")
    counters = "[...document.querySelectorAll('#segment-compare .frame-counter')]"
    page.wait_for_function(f"{counters}.every(c => c.textContent.startsWith('Frame {marked[0]} '))")
    assert (
        read_barcode(canvas(page, 0, "frame")[:, :, :3])
        == read_barcode(canvas(page, 1, "frame")[:, :, :3])
        == marked[0]
    )
    assert canvas(page, 0, "overlay")[:, :, 3].any() and canvas(page, 1, "overlay")[:, :, 3].any()
    screenshot(page, "web_reviewer_video_segment")
    # the honest worker's version of the same segment: identity differs on one side of frame 20
    page.locator("#compare-with").select_option(f"a{honest_id}")
    page.wait_for_function(f"document.body.dataset.comparing === 'a{honest_id}'")
    listed = page.locator("#diff-frames").inner_text()
    assert "Identity differs on frames" in listed and ("12" in listed or "27" in listed)
