"""Random frame access in the worker's video player (for ``benchmarks/video.py``): a scratch database
and app server (as ``benchmarks/ui.py``), a ``video_boxes`` job over one video in a single segment,
and Chromium jumping to random frames in the player."""

from __future__ import annotations

import base64
import io
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks._app_stack import app_stack
from benchmarks.ui import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]

# Jump to frame n the way the "Go to frame" box does (Player.go) and time it until the frame after the
# canvas was drawn; `fetched` says whether its chunk had to be requested (not in the player's cache).
JUMP = """async (n) => {
  const player = window.__tilework.editor().player;
  const fetched = !player.source.has(n);
  const t0 = performance.now();
  const ok = await player.go(n);
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  return { ok, ms: performance.now() - t0, frame: Number(document.body.dataset.frame), fetched };
}"""
CANVAS = "() => document.querySelector('canvas.video-frame').toDataURL('image/png')"

Check = Callable[[int, np.ndarray], tuple[bool, float]]


def random_access(video: Path, frames: int, jumps: int, seed: int, check: Check) -> dict[str, Any]:
    """Jump to ``jumps`` random frames of ``video`` (``frames`` long) in the player; each jump's time
    and whether the canvas then holds that frame (``check(index, rgb)``)."""
    with app_stack("video") as app:
        shutil.copy(video, app.data / video.name)
        body = {
            "type": "video_boxes", "title": "Player benchmark", "labels": ["object"],
            "data_uri": str(app.data), "gt": {}, "bounty_amount": 1_000_000, "currency": "usd",
            "rail": "card", "gt_per_assignment": 0, "segment_frames": max(10, frames),
            "segment_overlap": 0,
        }  # fmt: skip
        job_id = app.open_job(body)
        return in_thread(lambda: drive(app.base, app.worker_token, job_id, frames, jumps, seed, check))


def in_thread(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``work()`` in a thread of its own: Playwright's sync API refuses a thread that already runs an
    asyncio loop (a caller's own Playwright, e.g. the test session's Chromium)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = work()
        except BaseException as exc:  # re-raised in the caller's thread
            out["error"] = exc

    thread = threading.Thread(target=run, name="video-browser-bench")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return dict(out["result"])


def drive(
    base: str, token: str, job_id: int, frames: int, jumps: int, seed: int, check: Check
) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(seed)
    picks = [int(k) for k in rng.integers(0, frames, size=jumps)]
    results: list[dict[str, Any]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 860}, bypass_csp=True)
        context.add_cookies(
            [{"name": "tw_token", "value": token, "url": base, "httpOnly": True, "sameSite": "Lax"}]
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"/work/jobs/{job_id}")
        page.wait_for_function("document.body.dataset.frame === '0'")
        for n in picks:
            jump = page.evaluate(JUMP, n)
            png = base64.b64decode(page.evaluate(CANVAS).split(",", 1)[1])
            rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            exact, error = check(n, rgb) if jump["ok"] and jump["frame"] == n else (False, float("nan"))
            results.append({**jump, "asked": n, "exact": exact, "mad": error})
        browser.close()
    return {"jumps": results}
