"""Prometheus metrics (prometheus-client), one set per process.

HTTP: requests and latency by route template (``/api/jobs/{job_id}``, never the raw path). Celery:
task outcomes and durations. Business: claims, submissions, scoring outcomes and lag, payouts and
payout lag. Backlogs (payout outbox depth, Celery queue length) are read when scraped.

With several processes (``tilework serve --workers N``, a prefork Celery worker) each process counts
on its own; set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder shared by them and every scrape adds
them up (prometheus-client's multiprocess mode). ``tilework serve`` sets it itself with several
processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 4 * 3600, 24 * 3600)

HTTP_REQUESTS = Counter(
    "tilework_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "tilework_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
TASKS = Counter("tilework_celery_tasks_total", "Celery tasks run, by outcome", ["task", "outcome"])
TASK_DURATION = Histogram(
    "tilework_celery_task_duration_seconds", "Time a Celery task ran", ["task"], buckets=LATENCY_BUCKETS
)
CLAIMS = Counter("tilework_assignments_claimed_total", "Assignments handed to workers")
SUBMISSIONS = Counter("tilework_assignments_submitted_total", "Assignments submitted")
SCORED = Counter("tilework_assignments_scored_total", "Submissions scored, by outcome", ["outcome"])
SCORING_LAG = Histogram("tilework_scoring_lag_seconds", "From a submission to its score", buckets=LAG_BUCKETS)
PAYOUTS_SENT = Counter("tilework_payouts_sent_total", "Payout batches sent", ["rail", "kind"])
PAYOUT_LAG = Histogram(
    "tilework_payout_lag_seconds", "From a payout's creation to its sending", ["rail"], buckets=LAG_BUCKETS
)


def after_commit(session: Session, count: Callable[[], object]) -> None:
    """Count only what the transaction really did: run ``count`` once it commits."""
    from workers.enqueue import after_commit as run_after_commit

    run_after_commit(session, count)


class BacklogCollector(Collector):
    """Gauges read at scrape time: payout outbox depth and Celery queue length."""

    def __init__(self, read: Callable[[], dict[str, float | None]]) -> None:
        self.read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        values = self.read()
        described = {
            "payout_outbox_depth": "Payout outbox rows not yet processed",
            "celery_queue_length": "Tasks waiting in the Celery queue",
        }
        for name, value in values.items():
            if value is None:
                continue
            gauge = GaugeMetricFamily(f"tilework_{name}", described.get(name, name))
            gauge.add_metric([], value)
            yield gauge


def render(extra: Collector | None = None) -> tuple[bytes, str]:
    """The exposition text of this process (or of all processes sharing the multiprocess folder),
    followed by ``extra``'s families."""
    if os.environ.get(MULTIPROC_ENV):
        registry: Any = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry)
    if extra is not None:
        scraped = CollectorRegistry()
        scraped.register(extra)
        body += generate_latest(scraped)
    return body, CONTENT_TYPE_LATEST
