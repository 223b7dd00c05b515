"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text

from marketplace import __version__
from marketplace.accounts.api import router as accounts_router
from marketplace.assignments.api import router as assignments_router
from marketplace.config import Settings, get_settings
from marketplace.db import get_engine, session_factory
from marketplace.errors import install_error_handlers
from marketplace.files_api import router as files_router
from marketplace.jobs.api import router as jobs_router
from marketplace.payments.api import router as payments_router
from marketplace.quality.api import router as quality_router
from marketplace.reviews.api import router as reviews_router
from marketplace.web.pages import install_web


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
