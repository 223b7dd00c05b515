"""The FastAPI application factory."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from sqlalchemy import text
from starlette.types import ASGIApp, Receive, Scope, Send

from marketplace import __version__
from marketplace.accounts.api import router as accounts_router
from marketplace.assignments.api import router as assignments_router
from marketplace.config import Settings, get_settings
from marketplace.db import get_engine, session_factory
from marketplace.errors import LastResort, install_error_handlers
from marketplace.files_api import router as files_router
from marketplace.jobs.api import router as jobs_router
from marketplace.payments.api import router as payments_router
from marketplace.quality.api import router as quality_router
from marketplace.reviews.api import router as reviews_router
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
    settings = settings or get_settings()
    app = FastAPI(
        title="Tilework",
        version=__version__,
        description="Crowdsourced computer-vision annotation with hidden ground truth and escrowed pay.",
    )
    app.state.settings = settings
    app.state.session_factory = session_factory(settings)
    install_error_handlers(app)
    app.add_middleware(InFlightLimit)
    app.add_middleware(LastResort)  # outermost of ours: any unexpected error is a JSON 500
    app.include_router(accounts_router)
    app.include_router(jobs_router)
    app.include_router(assignments_router)
    app.include_router(files_router)
    app.include_router(payments_router)
    app.include_router(quality_router)
    app.include_router(reviews_router)
    install_web(app)  # pages and /static (last: API routes win)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        with get_engine(settings).connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    return app
