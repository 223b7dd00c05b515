"""The annotation page under the CSP the app really sends (no 'unsafe-eval', no inline script): the
editor chunk with Konva loads, a box is drawn with the mouse, and the browser reports no CSP violation
and no JavaScript error; the same for the video player (its chunk with fflate, frame chunks fetched
and decoded, a box drawn). (The other browser tests bypass the CSP for Playwright's string predicates.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.video.test_video_jobs import video_job_body
from tests.video.videos import make_video
from tests.web.conftest import JobFactory, LiveServer, sign_in
from tests.web.test_web_video_player import make_video_job


def test_web_annotation_editor_runs_under_the_real_csp(
    chromium: Any,
    live_server: LiveServer,
    make_user: Any,
    box_dataset: dict[str, Any],
    active_job: JobFactory,
) -> None:
    job = active_job(str(box_dataset["root"]), box_dataset["gt"])
    worker = make_user("worker")
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
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
        sign_in(page, worker["email"])
        response = page.goto(f"/work/jobs/{job['id']}")
        assert response is not None
        csp = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "unsafe-eval" not in csp
        page.locator("body:not([data-assignment-id])").wait_for(state="detached")
        page.locator(".stage canvas").first.wait_for()
        # page.evaluate runs through the debugger protocol, which the CSP does not govern
        a = page.evaluate("window.__tilework.editor().imageToClient(4, 4)")
        b = page.evaluate("window.__tilework.editor().imageToClient(30, 24)")
        page.mouse.move(a["x"], a["y"])
        page.mouse.down()
        page.mouse.move(b["x"], b["y"], steps=5)
        page.mouse.up()
        page.locator("ol.objects li").first.wait_for()
        assert page.locator("ol.objects li").count() == 1
        assert page.evaluate("window.__tilework.editor().item.objects.length") == 1
    finally:
        context.close()
    violations = [p for p in problems if "Content Security Policy" in p or "unsafe-eval" in p]
    assert not violations, violations
    # the app serves no favicon; the browser's request for one is not the page's doing
    assert [p for p in problems if not p.endswith("/favicon.ico")] == [], problems


def test_web_video_player_runs_under_the_real_csp(
    chromium: Any,
    live_server: LiveServer,
    client: TestClient,
    make_user: Any,
    data_root: Path,
    settings: Settings,
) -> None:
    """The video chunk (with fflate) loads, the frame chunks are fetched and drawn, a box is drawn."""
    root = data_root / "clips"
    root.mkdir()
    (root / "a.mp4").write_bytes(make_video([i * 40 for i in range(20)]))
    job_id = make_video_job(
        client, make_user, settings, video_job_body(root, segment_frames=12, segment_overlap=2)
    )
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
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
        sign_in(page, make_user("worker")["email"])
        response = page.goto(f"/work/jobs/{job_id}")
        assert response is not None and "unsafe-eval" not in response.headers.get(
            "content-security-policy", ""
        )
        page.locator("body[data-frame='0']").wait_for(state="attached")
        page.locator("canvas.video-overlay").focus()
        page.keyboard.press(".")
        page.locator("body[data-frame='1']").wait_for(state="attached")
        a = page.evaluate("window.__tilework.editor().origToClient(10, 10)")
        b = page.evaluate("window.__tilework.editor().origToClient(60, 50)")
        page.mouse.move(a["x"], a["y"])
        page.mouse.down()
        page.mouse.move(b["x"], b["y"], steps=5)
        page.mouse.up()
        page.locator("ol.tracks li").first.wait_for()
        assert page.evaluate("window.__tilework.editor().tracks.length") == 1
    finally:
        context.close()
    violations = [p for p in problems if "Content Security Policy" in p or "unsafe-eval" in p]
    assert not violations, violations
    assert [p for p in problems if not p.endswith("/favicon.ico")] == [], problems
