"""The Celery application.

With ``REDIS_URL`` set, tasks go to Redis and run in ``celery -A workers.celery_app worker``. With no
broker configured (the embedded default) the same tasks run eagerly in the calling process, so a
newcomer's ``tilework serve`` needs nothing else running.
"""

from __future__ import annotations

from celery import Celery

from marketplace.config import Settings, get_settings

TASK_MODULES: list[str] = [
    "marketplace.assignments.tasks",
    "marketplace.media.tasks",
    "marketplace.payments.tasks",
    "marketplace.payouts.tasks",
    "marketplace.pipelines.tasks",
    "marketplace.quality.tasks",
]


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery("tilework", include=TASK_MODULES)
    if settings.background_in_process:
        app.conf.update(
            broker_url="memory://",
            result_backend=None,
            task_always_eager=True,
            task_eager_propagates=True,
        )
    else:
        app.conf.update(broker_url=settings.redis_url, result_backend=None)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="tilework",
        broker_connection_retry_on_startup=True,
        beat_schedule={
            "assignments-expire-overdue": {"task": "assignments.expire_overdue", "schedule": 60.0},
            "media-resume-stalled-ingests": {"task": "media.resume_stalled_ingests", "schedule": 120.0},
            "payouts-drain-outbox": {
                "task": "payouts.drain_outbox",
                "schedule": float(settings.payout_drain_interval_s),
            },
            "payouts-tick": {"task": "payouts.tick", "schedule": float(settings.payout_interval_s)},
            "payments-poll-chain": {"task": "payments.poll_chain_funding", "schedule": 15.0},
            "payments-pending-inbox": {"task": "payments.process_pending_inbox", "schedule": 60.0},
            "pipelines-reassign-overdue-issues": {
                "task": "pipelines.reassign_overdue_issues",
                "schedule": 300.0,
            },
            "quality-finalize-completed-jobs": {"task": "quality.finalize_completed_jobs", "schedule": 120.0},
        },
        timezone="UTC",
    )
    return app


import workers.telemetry  # noqa: E402, F401  (request ids, task metrics, logging: Celery signals)

celery_app = make_celery()
app = celery_app
