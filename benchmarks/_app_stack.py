"""The app as the browser benchmarks run it: a scratch PostgreSQL database built with the migrations,
a data folder, a requester and a worker with API tokens, and ``uvicorn`` on a free port in a
subprocess (no broker: background work runs in the server). Everything is removed on exit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from marketplace.accounts import service as accounts
from marketplace.config import Settings
from marketplace.db import dispose_engines, session_factory, session_scope
from marketplace.flows.funding import activate as activate_job
from marketplace.migrations import upgrade
from marketplace.models import Job, Role

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get(
    "TILEWORK_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SECRET = "bench-secret-key-that-is-long-enough-0000"
PASSWORD = "bench password 1"


def conninfo(url: str) -> str:
    u = make_url(url)
    return f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AppStack:
    base: str  # the server's URL
    data: Path  # the folder jobs may read
    factory: sessionmaker  # sessions on the scratch database
    requester_token: str
    worker_token: str

    def open_job(self, body: dict[str, Any]) -> int:
        """Create the job through the API as the requester and activate it here (ingest included:
        without a broker it runs in this process); its id."""
        headers = {"Authorization": f"Bearer {self.requester_token}"}
        response = httpx.post(f"{self.base}/api/jobs", json=body, headers=headers, timeout=120)
        if response.status_code != 201:
            raise RuntimeError(f"job creation refused: {response.status_code} {response.text}")
        job_id = int(response.json()["id"])
        for _ in range(100):  # the API may answer just before its transaction commits
            with session_scope(self.factory) as session:
                job = session.get(Job, job_id)
                if job is not None:
                    activate_job(session, job)
                    return job_id
            time.sleep(0.05)
        raise RuntimeError(f"job {job_id} never appeared")


def wait_for(base: str, server: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("the app server did not start")
        time.sleep(0.1)


@contextmanager
def app_stack(name: str, port: int | None = None) -> Iterator[AppStack]:
    """The running app (``name`` tags the scratch database and folder)."""
    db_name = f"tilework_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = conninfo(ADMIN_URL)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    url = make_url(ADMIN_URL).set(database=db_name).render_as_string(hide_password=False)
    server: subprocess.Popen[bytes] | None = None
    try:
        with tempfile.TemporaryDirectory(prefix=f"tilework-bench-{name}-") as tmp:
            data, home = Path(tmp) / "data", Path(tmp) / "home"
            data.mkdir()
            base = f"http://127.0.0.1:{port or free_port()}"
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
            tokens = []
            with session_scope(factory) as session:
                for role in (Role.requester, Role.worker):
                    user = accounts.register(
                        session, email=f"{role.value}@bench.local", password=PASSWORD, role=role
                    )
                    tokens.append(accounts.issue_token(session, user, name="bench", ttl_days=1)[0])
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
                 "127.0.0.1", "--port", base.rsplit(":", 1)[1], "--log-level", "warning"],
                cwd=ROOT,
                env=env,
            )  # fmt: skip
            wait_for(base, server)
            yield AppStack(base, data, factory, tokens[0], tokens[1])
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
