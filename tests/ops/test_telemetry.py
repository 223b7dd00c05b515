"""Request ids (accepted or made, returned, in the logs, carried into Celery tasks through a real
Redis), Prometheus metrics by route template, JSON logs."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from benchmarks._load_stack import RedisServer
from marketplace.config import Settings
from marketplace.telemetry.context import current_request_id, request_id
from marketplace.telemetry.logs import configure_logging


def test_request_id_is_taken_or_made_and_returned(client: TestClient) -> None:
    r = client.get("/health", headers={"X-Request-ID": "edge-7f3a.1"})
    assert r.headers["X-Request-ID"] == "edge-7f3a.1"
    made = client.get("/health").headers["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/health").headers["X-Request-ID"]
    odd = client.get("/health", headers={"X-Request-ID": "x" * 300}).headers["X-Request-ID"]
    assert len(odd) == 32  # not echoed: too long
    assert client.get("/api/jobs/5").headers["X-Request-ID"]  # errors carry it too


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + ("{" if labels else " ")):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{labels} not in the metrics")


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    for job_id in (1, 2, 3):
        client.get(f"/api/jobs/{job_id}")
    client.get("/no/such/page/at/all")
    text = client.get("/metrics").text
    assert metric(text, "tilework_http_requests_total", route="/api/jobs/{job_id}", status="401") >= 3
    assert metric(text, "tilework_http_requests_total", route="unmatched", status="404") >= 1
    assert "/api/jobs/1" not in text
    assert metric(text, "tilework_http_request_duration_seconds_count", route="/api/jobs/{job_id}") >= 3
    assert metric(text, "tilework_payout_outbox_depth") == 0
    for name in ("assignments_claimed", "assignments_submitted", "payouts_sent", "celery_tasks"):
        assert f"# TYPE tilework_{name}_total counter" in text


def test_json_log_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging("json")
    try:
        token = request_id.set("req-42")
        logging.getLogger("tilework.test").warning("paid %s workers", 3, extra={"job_id": 9})
        request_id.reset(token)
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "paid 3 workers" and line["request_id"] == "req-42"
    assert line["level"] == "WARNING" and line["logger"] == "tilework.test" and line["job_id"] == 9
    assert "timestamp" in line


def test_tasks_enqueued_during_a_request_carry_its_id(settings: Settings, own_redis: RedisServer) -> None:
    from workers.celery_app import make_celery
    from workers.telemetry import _task_finished, _task_started

    app = make_celery(settings.model_copy(update={"redis_url": own_redis.url}))
    token = request_id.set("req-from-api")
    try:
        app.send_task("payouts.tick")
    finally:
        request_id.reset(token)
    raw = redis.Redis.from_url(own_redis.url).lrange("tilework", 0, -1)
    assert len(raw) == 1
    headers: dict[str, Any] = json.loads(raw[0])["headers"]
    assert headers["request_id"] == "req-from-api"

    # the worker side: the task runs under that id, and a task from the beat gets one of its own
    task = SimpleNamespace(name="payouts.tick", request=SimpleNamespace(request_id="req-from-api"))
    _task_started(task_id="t1", task=task)
    assert current_request_id() == "req-from-api"
    _task_finished(task_id="t1", task=task, state="SUCCESS")
    assert current_request_id() is None
    _task_started(task_id="t2", task=SimpleNamespace(name="payouts.tick", request=SimpleNamespace()))
    assert current_request_id() == "task-t2"
    _task_finished(task_id="t2", task=task, state="FAILURE")
