"""Random frame access in the worker's video player (for ``benchmarks/video.py``): a scratch database
and app server (as ``benchmarks/ui.py``), a ``video_boxes`` job over one video in a single segment,
and Chromium jumping to random frames in the player."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from PIL import Image
from sqlalchemy.engine import make_url

from benchmarks.ui import ADMIN_URL, CHROMIUM, CHROMIUM_ARGS, PASSWORD, SECRET, conninfo, free_port
from marketplace.accounts import service as accounts
from marketplace.config import Settings
from marketplace.db import dispose_engines, session_factory, session_scope
from marketplace.flows.funding import activate as activate_job
from marketplace.migrations import upgrade
from marketplace.models import Job, Role

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
    db_name = f"tilework_bench_video_{uuid.uuid4().hex[:8]}"
    admin = conninfo(ADMIN_URL)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    url = make_url(ADMIN_URL).set(database=db_name).render_as_string(hide_password=False)
    server: subprocess.Popen[bytes] | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="tilework-bench-video-") as tmp:
            data = Path(tmp) / "data"
            data.mkdir()
            shutil.copy(video, data / video.name)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            home = Path(tmp) / "home"
            settings = Settings(
                environment="test",
                home=home,
                database_url=url,
                public_data_roots=[data],
                secret_key=SECRET,
                public_base_url=base,
            )
            upgrade(url)
            factory = session_factory(settings)
            with session_scope(factory) as session:
                requester = accounts.register(
                    session, email="req@bench.local", password=PASSWORD, role=Role.requester
                )
                req_token = accounts.issue_token(session, requester, name="bench", ttl_days=1)[0]
                worker = accounts.register(
                    session, email="worker@bench.local", password=PASSWORD, role=Role.worker
                )
                worker_token = accounts.issue_token(session, worker, name="bench", ttl_days=1)[0]
            env = {
                **os.environ,
                "TILEWORK_ENVIRONMENT": "test",
                "TILEWORK_DATABASE_URL": url,
                "TILEWORK_HOME": str(home),
                "TILEWORK_PUBLIC_DATA_ROOTS": json.dumps([str(data)]),
                "TILEWORK_SECRET_KEY": SECRET,
                "TILEWORK_PUBLIC_BASE_URL": base,
            }
            env.pop("REDIS_URL", None)
            env.pop("TILEWORK_REDIS_URL", None)
            server = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "marketplace.app:create_app", "--factory", "--host",
                 "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                cwd=ROOT,
                env=env,
            )  # fmt: skip
            wait_for(base, server)
            body = {
                "type": "video_boxes", "title": "Player benchmark", "labels": ["object"],
                "data_uri": str(data), "gt": {}, "bounty_amount": 1_000_000, "currency": "usd",
                "rail": "card", "gt_per_assignment": 0, "segment_frames": max(10, frames),
                "segment_overlap": 0,
            }  # fmt: skip
            response = httpx.post(
                f"{base}/api/jobs", json=body, headers={"Authorization": f"Bearer {req_token}"}, timeout=120
            )
            if response.status_code != 201:
                raise RuntimeError(f"job creation refused: {response.status_code} {response.text}")
            job_id = response.json()["id"]
            with session_scope(factory) as session:  # ingests the video (no broker: in this process)
                job = session.get(Job, job_id)
                if job is None:
                    raise RuntimeError(f"job {job_id} not found")
                activate_job(session, job)
            return in_thread(lambda: drive(base, worker_token, job_id, frames, jumps, seed, check))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        dispose_engines()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


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


def wait_for(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("the app server did not start")
        time.sleep(0.1)


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
