"""``/health`` and ``/ready`` against a real Redis of the test's own, stopped for ten seconds and
started again: ``/ready`` answers 503 naming redis meanwhile and 200 again after, with no restart."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from marketplace.app import create_app
from marketplace.config import Settings
from tests.s3_server import free_ports

DOWN_FOR_S = 10.0


class OwnRedis:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server not installed")
        self.binary = binary
        (self.port,) = free_ports(1)
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        argv += ["--save", "", "--appendonly", "yes"]  # a restart keeps what was written, like production
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_health_is_cheap_and_ready_names_each_part(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    r = client.get("/ready")
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert checks["database"]["code"] == "ok" and checks["storage"]["code"] == "ok"
    assert checks["redis"]["code"] == "note_in_process" and checks["chain"]["code"] == "note_embedded"


def test_ready_is_503_while_redis_is_down_and_recovers(settings: Settings, own_redis: OwnRedis) -> None:
    settings = settings.model_copy(update={"redis_url": own_redis.url})
    redis.Redis.from_url(own_redis.url).set("tilework:ready-test", "kept")
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
        own_redis.stop()
        started = time.monotonic()
        answers = []
        while time.monotonic() - started < DOWN_FOR_S:
            r = client.get("/ready")
            answers.append(r.status_code)
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["error"] == "not_ready" and list(body["down"]) == ["redis"]
            assert body["down"]["redis"].startswith("redis_unreachable")
            assert client.get("/health").status_code == 200  # alive: no restart wanted
            time.sleep(1.0)
        assert len(answers) >= 5
        own_redis.start()
        r = client.get("/ready")
        assert r.status_code == 200, r.text
    assert redis.Redis.from_url(own_redis.url).get("tilework:ready-test") == b"kept"
