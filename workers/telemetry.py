"""Celery's side of telemetry: the request id travels with a task, outcomes are counted, logs are ours.

* ``before_task_publish``: a task enqueued while a request (or a task) is handled carries its id in
  the message header ``request_id``.
* ``task_prerun``/``task_postrun``: the worker adopts that id for the task's logs (a task enqueued by
  the beat, with no request, gets ``task-<task id>``), times the task and counts its outcome.
* ``setup_logging``: the worker and beat log like the API (JSON in production), not Celery's format.
* ``worker_init``: with ``TILEWORK_WORKER_METRICS_PORT`` set, the worker serves ``/metrics`` there
  (all prefork children added up when ``PROMETHEUS_MULTIPROC_DIR`` is set).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from contextvars import Token
from typing import Any

from celery import signals

from marketplace.config import get_settings
from marketplace.telemetry.context import current_request_id, request_id
from marketplace.telemetry.logs import configure_logging
from marketplace.telemetry.metrics import MULTIPROC_ENV, TASK_DURATION, TASKS

HEADER = "request_id"
log = logging.getLogger(__name__)
_running: dict[str, tuple[Token[str | None], float]] = {}


@signals.before_task_publish.connect
def _send_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    rid = current_request_id()
    if rid and headers is not None and not headers.get(HEADER):
        headers[HEADER] = rid


def _request_id_of(task: Any) -> str | None:
    request = getattr(task, "request", None)
    rid = getattr(request, HEADER, None)
    if not rid:
        rid = (getattr(request, "headers", None) or {}).get(HEADER)
    return str(rid) if rid else None


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is None:
        return
    sent_with = _request_id_of(task)
    rid = sent_with or current_request_id() or f"task-{task_id}"
    _running[task_id] = (request_id.set(rid), time.perf_counter())
    if sent_with:  # work a request asked for: say so under its id (periodic runs stay quiet)
        log.info("task %s started", getattr(task, "name", "unknown"))


@signals.task_postrun.connect
def _task_finished(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _running.pop(task_id or "", None)
    name = getattr(task, "name", "unknown")
    TASKS.labels(name, (state or "unknown").lower()).inc()
    if started is not None:
        token, at = started
        TASK_DURATION.labels(name).observe(time.perf_counter() - at)
        with contextlib.suppress(ValueError):  # set in another context (eager runs nest): leave it
            request_id.reset(token)


@signals.task_retry.connect
def _task_retried(sender: Any = None, **_: Any) -> None:
    TASKS.labels(getattr(sender, "name", "unknown"), "retry").inc()


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    settings = get_settings()
    configure_logging(settings.effective_log_format, settings.log_level)


@signals.worker_init.connect
def _serve_metrics(**_: Any) -> None:
    port = get_settings().worker_metrics_port
    if port is None:
        return
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = None
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    if registry is None:
        start_http_server(port)
    else:
        start_http_server(port, registry=registry)
    log.info("worker metrics on port %s", port)
