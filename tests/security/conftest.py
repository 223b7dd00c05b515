"""Security regression tests: real PostgreSQL, real Redis, real uvicorn processes where a process
must survive; active jobs with claims and disputes reused from the assignment and quality suites."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.assignments.conftest import make_job  # noqa: F401  (fixture of the hostile-input tests)
from tests.conftest import REPO
from tests.payments.paytools import chain, dev_chain, rails, task_env  # noqa: F401  (fixtures)
from tests.quality_db.conftest import quality_job  # noqa: F401  (fixture)

#: Redis for the rate-limit tests: never database 0 (Celery in other tests) or 5.
TEST_REDIS_URL = os.environ.get("TILEWORK_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``tilework serve`` (or any command) in its own process group, on a free port."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            args, env=env, cwd=REPO, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not become healthy:\n{self.output()}")

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log_file.close()


def server_env(migrated_pg: str, home: Path, **extra: str) -> dict[str, str]:
    own = ("TILEWORK_", "DATABASE_URL", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env.update(
        {
            "TILEWORK_ENVIRONMENT": "test",
            "TILEWORK_HOME": str(home),
            "DATABASE_URL": migrated_pg,
            "TILEWORK_SECRET_KEY": "test-secret-key-that-is-long-enough-000",
            "PYTHONPATH": str(REPO),
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def uvicorn_server(migrated_pg: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """The app under a plain uvicorn process (one worker), against the test database."""
    port = free_port()
    args = [
        sys.executable, "-m", "uvicorn", "marketplace.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    server = ServerProcess(args, server_env(migrated_pg, tmp_path / "home"), port, tmp_path / "uvicorn.log")
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


from tests.web.conftest import LiveServer, live_server  # noqa: E402, F401  (fixtures)


@pytest.fixture
def strict_page(chromium: Any, live_server: LiveServer) -> Iterator[Any]:  # noqa: F811  (fixture)
    """A browser page under the pages' real CSP (the tests/web pages bypass it for Playwright)."""
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
