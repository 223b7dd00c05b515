"""One typed settings object.

With no environment at all every setting falls back to an embedded default: a SQLite file and a
local storage folder under ``TILEWORK_HOME`` (``./.tilework``), background work run in-process and
an in-process EVM. Setting ``DATABASE_URL``, ``REDIS_URL``, ``TILEWORK_STORAGE_URL`` and friends
switches each concern to its real part.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import SettingsConfigDict

from marketplace.payment_settings import PaymentSettings

PLACEHOLDER_SECRET = "dev-insecure-change-me"
ENV_PREFIX = "TILEWORK_"
#: ``TILEWORK_*`` variables read by something other than the settings (the CLI's token, the tests and
#: benchmarks), so they are not typos.
OTHER_TILEWORK_VARIABLES = frozenset(
    {"TILEWORK_TOKEN", "TILEWORK_SHARED", "TILEWORK_WEED_BIN", "TILEWORK_HUMAN_CORE"}
)
OTHER_TILEWORK_PREFIXES = ("TILEWORK_TEST_", "TILEWORK_BENCH_", "TILEWORK_FUZZ_")

log = logging.getLogger(__name__)
_warned_unknown: set[str] = set()


class Settings(PaymentSettings):
    """Everything configurable; the money rails' fields come from :class:`PaymentSettings`."""

    # Empty values count as unset, so compose's `${VAR:-}` leaves a setting at its default.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", env_ignore_empty=True)

    environment: Literal["development", "test", "production"] = "development"
    home: Path = Field(default_factory=lambda: Path.cwd() / ".tilework")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "TILEWORK_DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "TILEWORK_REDIS_URL")
    )
    # Where job data, uploads and results live: a local folder (default) or s3://bucket/prefix.
    storage_url: str | None = None
    s3_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("S3_ENDPOINT_URL", "TILEWORK_S3_ENDPOINT_URL")
    )
    s3_region: str = "us-east-1"
    # Over HTTP a requester reads local data only under ``<root>/<their user id>/`` of these roots, or
    # anywhere under the public roots (data published to every requester on purpose). The CLI, run by
    # the operator, may read any folder.
    local_data_roots: list[Path] = Field(default_factory=list)
    public_data_roots: list[Path] = Field(default_factory=list)

    secret_key: str = PLACEHOLDER_SECRET
    token_ttl_days: int = 90
    public_base_url: str = "http://127.0.0.1:8000"

    max_image_bytes: int = 30 * 1024 * 1024
    max_image_pixels: int = 100_000_000
    # Per-video limits, checked before decoding and again on what decodes (a header cannot lie past them).
    max_video_bytes: int = 2 * 1024 * 1024 * 1024
    max_video_pixels: int = 3840 * 2160
    max_video_seconds: float = 1800.0
    max_video_frames: int = 54_000
    max_gt_bytes: int = 50 * 1024 * 1024
    # JSON and form bodies (not multipart uploads): size and nesting caps, checked before parsing.
    # ``POST /api/jobs`` carries the COCO ground truth inline and may be ``max_gt_bytes`` + 1 MiB.
    max_body_bytes: int = 8 * 1024 * 1024
    max_json_depth: int = 32
    platform_fee_bps: int = 500
    # Submissions faster than this per item (claim to submit, server clock) are flagged "too fast".
    min_seconds_per_item: float = 1.0
    # A submission still unscored this long after it was stored lost its scoring task; the periodic
    # sweep (``assignments.expire_overdue``) scores it.
    rescore_after_s: float = 60.0

    # Login rate limits (per client address: every attempt; per account: failures) and the bound on
    # concurrent argon2 hashing. Counters live in Redis when ``rate_limit_redis_url`` or ``REDIS_URL``
    # is set (shared by all API processes), in memory otherwise.
    login_max_per_address: int = Field(default=20, ge=1)
    login_address_window_s: int = Field(default=60, ge=1)
    login_max_failures_per_account: int = Field(default=10, ge=1)
    login_account_window_s: int = Field(default=900, ge=1)
    password_hash_concurrency: int = Field(default=2, ge=1)
    password_hash_wait_s: float = Field(default=5.0, gt=0)
    rate_limit_redis_url: str | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    # API processes for ``tilework serve`` (None: 2+ in production, else 1).
    web_workers: int | None = Field(default=None, ge=1, le=64)

    #: Signs ``tilework chain deploy``'s transactions; read only by that command, never by a server.
    chain_deployer_key: str | None = Field(default=None, repr=False)
    #: ``json`` (one object a line, with the request id) or ``text``; default: json in production.
    log_format: Literal["json", "text"] | None = None
    log_level: str = "INFO"
    #: A Celery worker serves its Prometheus metrics on this port (unset: none).
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @model_validator(mode="after")
    def _refuse_unknown_variables(self) -> Settings:
        """A mistyped ``TILEWORK_*`` variable silently turns a feature off: refuse it in production,
        warn about it elsewhere, naming the closest known variable."""
        problems = [describe_unknown(name, hint) for name, hint in unknown_variables(os.environ)]
        if problems and self.environment == "production":
            raise ValueError("; ".join(problems))
        for problem in problems:
            if problem not in _warned_unknown:
                _warned_unknown.add(problem)
                log.warning("%s (ignored)", problem)
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if self.secret_key == PLACEHOLDER_SECRET or len(self.secret_key) < 32:
                raise ValueError(
                    "TILEWORK_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production"
                )
            if self.database_url is None:
                raise ValueError("DATABASE_URL must be set in production")
            if self.card_enabled and not self.stripe_emulated and self.stripe_connect == "standin":
                raise ValueError(
                    "production talks to Stripe but TILEWORK_STRIPE_CONNECT is the local stand-in: "
                    "payouts would be marked paid while no money moves. Set TILEWORK_STRIPE_CONNECT=stripe"
                )
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'tilework.db'}"

    @property
    def effective_storage_url(self) -> str:
        return self.storage_url or str(self.home / "storage")

    @property
    def effective_log_format(self) -> Literal["json", "text"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.environment == "production" else "text"

    @property
    def effective_web_workers(self) -> int:
        if self.web_workers is not None:
            return self.web_workers
        if self.environment != "production":
            return 1
        return min(8, max(2, os.cpu_count() or 2))

    @property
    def effective_rate_limit_redis_url(self) -> str | None:
        return self.rate_limit_redis_url or self.redis_url

    @property
    def background_in_process(self) -> bool:
        """Without a broker, Celery tasks run eagerly in the calling process."""
        return self.redis_url is None

    def ensure_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)


def _env_names(name: str, info: FieldInfo) -> list[str]:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice).upper() for choice in alias.choices]
    if isinstance(alias, str):
        return [alias.upper()]
    return [f"{ENV_PREFIX}{name.upper()}"]


def known_variables() -> frozenset[str]:
    """Every environment variable the settings read."""
    names = {env for name, info in Settings.model_fields.items() for env in _env_names(name, info)}
    return frozenset(names)


def unknown_variables(environ: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """``TILEWORK_*`` variables nothing reads, each with the closest known name (or None)."""
    known = known_variables()
    candidates = sorted(k for k in known | OTHER_TILEWORK_VARIABLES if k.startswith(ENV_PREFIX))
    unknown = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known or upper in OTHER_TILEWORK_VARIABLES:
            continue
        if upper.startswith(OTHER_TILEWORK_PREFIXES):
            continue
        close = difflib.get_close_matches(upper, candidates, n=1, cutoff=0.6)
        unknown.append((name, close[0] if close else None))
    return unknown


def describe_unknown(name: str, hint: str | None) -> str:
    suggestion = f"; did you mean {hint}?" if hint else ""
    return f"unknown variable {name}{suggestion}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
