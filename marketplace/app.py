"""The FastAPI application factory."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from marketplace import __version__
from marketplace.accounts.api import router as accounts_router
from marketplace.accounts.login_guard import LoginGuard, LoginLimits
from marketplace.accounts.security import configure_hashing
from marketplace.assignments.api import router as assignments_router
from marketplace.config import Settings, get_settings
from marketplace.datasets.api import router as data_sources_router
from marketplace.db import session_factory
from marketplace.edge.body_limits import BodyLimits
from marketplace.edge.csrf import CsrfProtection
from marketplace.edge.headers import SecurityHeaders
from marketplace.edge.observe import Observe
from marketplace.edge.probes import router as probes_router
from marketplace.errors import LastResort, install_error_handlers
from marketplace.files_api import router as files_router
from marketplace.jobs.api import router as jobs_router
from marketplace.payments.api import router as payments_router
from marketplace.pipelines.api import router as pipelines_router
from marketplace.quality.api import router as quality_router
from marketplace.reviews.api import router as reviews_router
from marketplace.runtime import keep_default_recursion_limit
from marketplace.telemetry.logs import configure_logging
from marketplace.web.pages import install_web

#: HTTP requests handled at once; the others wait in the event loop. Below the database pool (20 + 30)
#: on purpose: a request holds its connection from the first query in a dependency until the
#: dependency's teardown commits, across several worker-thread hops. With more requests in flight
#: than pooled connections, the 40 worker threads end up waiting on the pool while the requests that
#: hold connections wait for a thread: the server stalls until pool timeouts turn it all into 500s.
MAX_REQUESTS_IN_FLIGHT = 32


class InFlightLimit:
    """Pure ASGI middleware: at most ``limit`` HTTP requests inside the app at once."""

    def __init__(self, app: ASGIApp, limit: int = MAX_REQUESTS_IN_FLIGHT) -> None:
        self.app = app
        self.slots = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with self.slots:
            await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    keep_default_recursion_limit()
    settings = settings or get_settings()
    if settings.environment == "production" or settings.log_format is not None:
        # each API process of `serve --workers N` is a fresh interpreter: it sets up its own logging
        configure_logging(settings.effective_log_format, settings.log_level)
    app = FastAPI(
        title="Tilework",
        version=__version__,
        description="Crowdsourced computer-vision annotation with hidden ground truth and escrowed pay.",
    )
    app.state.settings = settings
    app.state.session_factory = session_factory(settings)
    configure_hashing(settings.password_hash_concurrency, settings.password_hash_wait_s)
    app.state.login_guard = LoginGuard.from_settings(
        settings.effective_rate_limit_redis_url,
        LoginLimits(
            per_address=settings.login_max_per_address,
            address_window_s=settings.login_address_window_s,
            failures_per_account=settings.login_max_failures_per_account,
            account_window_s=settings.login_account_window_s,
        ),
    )
    install_error_handlers(app)
    app.add_middleware(InFlightLimit)
    app.add_middleware(
        CsrfProtection,
        public_base_url=settings.public_base_url,
        secure_cookies=settings.environment == "production",
    )
    # Added last, so they run first: nothing else reads a body BodyLimits has not measured; any
    # unexpected error becomes a JSON 500; every answer leaves with the security headers.
    app.add_middleware(
        BodyLimits,
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        large={("POST", "/api/jobs"): settings.max_gt_bytes + 1024 * 1024},
    )
    app.add_middleware(LastResort)  # any unexpected error is a JSON 500, the connection kept
    app.add_middleware(SecurityHeaders, hsts=settings.environment == "production")
    app.add_middleware(Observe)  # outermost: request id, access log, metrics of every answer
    app.include_router(probes_router)
    app.include_router(accounts_router)
    app.include_router(jobs_router)
    app.include_router(data_sources_router)
    app.include_router(assignments_router)
    app.include_router(files_router)
    app.include_router(payments_router)
    app.include_router(quality_router)
    app.include_router(reviews_router)
    app.include_router(pipelines_router)
    install_web(app)  # pages and /static (last: API routes win)

    return app
