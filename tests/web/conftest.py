"""Browser tests: a real uvicorn server on a free port against the test PostgreSQL, driven by the
Python Playwright package with Debian's Chromium (Playwright cannot download its own browser here)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (re-exported)
from tests.conftest import job_body
from tests.payments.paytools import chain, dev_chain, rails, task_env  # noqa: F401  (fixtures)
from tests.quality_db.conftest import quality_job  # noqa: F401  (fixture)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn serving ``create_app(settings)`` in a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from marketplace.app import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings.model_copy(update={"public_base_url": self.url})
        config = uvicorn.Config(
            create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser_page(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    # bypass_csp: Playwright's wait_for_function evaluates its string in the page, which the pages' CSP
    # (no 'unsafe-eval') refuses, and the test wallet calls the chain node from the page, which a real
    # wallet extension does from its own context. tests/security checks the pages under the real CSP.
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 860}, bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def image_xy(page: Any, x: float, y: float) -> tuple[float, float]:
    """Where image point (x, y) of the editor's current image is on the page (client pixels)."""
    point = page.evaluate(f"window.__tilework.editor().imageToClient({x}, {y})")
    return point["x"], point["y"]


def drag(page: Any, start: tuple[float, float], end: tuple[float, float], steps: int = 6) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=steps)
    page.mouse.up()


def open_work(page: Any, worker: dict[str, Any], job_id: int) -> None:
    """Sign in as ``worker`` and open the job's annotation page until an assignment is shown."""
    sign_in(page, worker["email"])
    page.goto(f"/work/jobs/{job_id}")
    page.wait_for_function("document.body.dataset.assignmentId > 0")


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")


def sign_in(page: Any, email: str, password: str = "correct horse 1") -> None:
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def activate(settings: Settings, job_id: int) -> None:
    """Open a job for work the way a successful funding does (funding itself is the payments domain)."""
    from marketplace.db import session_factory, session_scope
    from marketplace.flows.funding import activate as activate_job
    from marketplace.models import Job

    with session_scope(session_factory(settings)) as session:
        job = session.get(Job, job_id)
        assert job is not None
        activate_job(session, job)


JobFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def active_job(
    client: TestClient, settings: Settings, make_user: Callable[..., dict[str, Any]]
) -> JobFactory:
    """Create a job through the API as a fresh requester and activate it; returns the job JSON."""

    def _make(data_uri: str, gt: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        requester = make_user("requester")
        response = client.post(
            "/api/jobs", json=job_body(data_uri, gt, **overrides), headers=requester["headers"]
        )
        assert response.status_code == 201, response.text
        job: dict[str, Any] = response.json()
        activate(settings, job["id"])
        job["requester"] = requester
        return job

    return _make


def fill_new_job_form(
    page: Any, box_dataset: dict[str, Any], tmp_path: Path, *, title: str, rail: str, bounty: str
) -> None:
    """The new-job form filled in for the pets box dataset (2 images + 1 hidden GT per assignment),
    ready for "Create job"."""
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(box_dataset["gt"]))
    page.goto("/jobs/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Instructions for workers").fill("Draw a box around every cat and dog.")
    page.get_by_label("Labels").fill("cat\ndog")
    page.get_by_label("Image files", exact=True).set_input_files(
        [str(box_dataset["root"] / name) for name in box_dataset["names"]]
    )
    page.get_by_label("Ground truth").set_input_files(str(gt))
    page.get_by_label("Payment").select_option(rail)
    page.get_by_label("Bounty").fill(bounty)
    page.get_by_text("Quality and assignment settings").click()
    page.get_by_label("Images per assignment", exact=True).fill("2")
    page.get_by_label("Hidden GT images per assignment").fill("1")
