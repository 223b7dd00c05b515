"""``/health`` (liveness: the process answers) and ``/ready`` (readiness: every configured part is up).

An orchestrator restarts a process whose ``/health`` fails and sends traffic only to one whose
``/ready`` answers 200. ``/ready`` answers 503 ``not_ready`` naming each part that is down (database
unreachable or not migrated, Redis, the platform bucket, the chain node), and goes back to 200 by itself
when the part is back: nothing in the process has to restart.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from marketplace import __version__
from marketplace.errors import NotReady, error_responses
from marketplace.ops.backlog import backlog_reader
from marketplace.ops.checks import readiness
from marketplace.telemetry.metrics import BacklogCollector, render

router = APIRouter(tags=["ops"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: answers while the process can serve a request; touches nothing else."""
    return {"status": "ok", "version": __version__}


@router.get(
    "/ready",
    responses=error_responses(503, descriptions={503: "not ready: `down` names each part that is down"}),
)
def ready(request: Request) -> dict[str, Any]:
    """Readiness of every configured part; 503 ``not_ready`` with ``down`` naming what is not."""
    findings = readiness(request.app.state.settings)
    checks = {f.part: f.as_dict() for f in findings}
    down = {f.part: f"{f.code}: {f.detail}" for f in findings if not f.ok}
    if down:
        raise NotReady(f"not ready: {', '.join(sorted(down))}", extra={"down": down, "checks": checks})
    return {"status": "ready", "version": __version__, "checks": checks}


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus exposition: this process's (or, in multiprocess mode, all processes') metrics and the
    backlogs read now. Keep it off the public side of the reverse proxy."""
    state = request.app.state
    body, content_type = render(BacklogCollector(backlog_reader(state.settings, state.session_factory)))
    return Response(body, media_type=content_type)
