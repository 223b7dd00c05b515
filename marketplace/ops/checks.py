"""Is every configured part there and set up? One function per part, each returning findings.

A :class:`Finding` names the part (``database``, ``redis``, ``storage``, ``chain``, ``stripe``,
``settings``), a stable ``code`` (``ok``, or the problem: ``database_unmigrated``, ``bucket_missing``,
``chain_id_mismatch``, …) and a sentence. ``/ready`` runs the quick probes (:func:`readiness`);
``tilework check`` runs them all (:func:`full_check`), including a write to the bucket and the vault's
code and roles.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from marketplace.config import Settings, describe_unknown, unknown_variables
from marketplace.db import get_engine
from marketplace.migrations import current_revision, head_revision
from marketplace.ops.findings import Finding, ok_finding
from marketplace.storage.platform import StorageProblem, check_exists, check_writable

PROBE_TIMEOUT_S = 3.0


def _guard(part: str, unreachable: str, probe: Callable[[], list[Finding]]) -> list[Finding]:
    """Run a probe; an unexpected exception is the part being unreachable, named."""
    try:
        return probe()
    except Exception as exc:  # any failure to talk to the part is the finding itself
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [Finding(part, unreachable, reason[:300])]


# -- database ----------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _head() -> str | None:
    return head_revision()


def check_database(settings: Settings) -> list[Finding]:
    def probe() -> list[Finding]:
        with get_engine(settings).connect() as conn:  # reading the revision is the round trip
            current = current_revision(conn)
        head = _head()
        if current != head:
            where = current or "an empty schema"
            return [
                Finding(
                    "database",
                    "database_unmigrated",
                    f"at {where}, the code needs {head} (run `tilework db upgrade`)",
                )
            ]
        return [ok_finding("database", f"reachable, migrated to {head}")]

    return _guard("database", "database_unreachable", probe)


# -- redis -------------------------------------------------------------------------------------------

_redis_clients: dict[str, Any] = {}
_redis_lock = threading.Lock()


def redis_client(url: str) -> Any:
    """A Redis client with short timeouts, one per URL (probes and scrapes)."""
    import redis

    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=PROBE_TIMEOUT_S / 2, socket_timeout=PROBE_TIMEOUT_S / 2
            )
            _redis_clients[url] = client
        return client


def check_redis(settings: Settings) -> list[Finding]:
    urls = {u for u in (settings.redis_url, settings.effective_rate_limit_redis_url) if u}
    if not urls:
        return [Finding("redis", "note_in_process", "not configured: background work runs in-process")]
    findings = []
    for url in sorted(urls):
        shown = url.split("@")[-1]

        def probe(url: str = url, shown: str = shown) -> list[Finding]:
            redis_client(url).ping()
            return [ok_finding("redis", f"{shown} answers")]

        findings += _guard("redis", "redis_unreachable", probe)
    return findings


# -- storage -----------------------------------------------------------------------------------------


def check_storage(settings: Settings, *, write: bool) -> list[Finding]:
    try:
        where = check_exists(settings)
        if write:
            check_writable(settings)
    except StorageProblem as problem:
        return [Finding("storage", problem.code, problem.detail)]
    except Exception as exc:
        return [Finding("storage", "storage_unreachable", str(exc)[:300])]
    return [ok_finding("storage", f"{where} {'writable' if write else 'exists'}")]


# -- chain -------------------------------------------------------------------------------------------


def check_chain(settings: Settings, *, deep: bool) -> list[Finding]:
    if not settings.chain_rpc_url:
        return [Finding("chain", "note_embedded", "no TILEWORK_CHAIN_RPC_URL: the in-process EVM")]

    def probe() -> list[Finding]:
        from marketplace.ops.chain_setup import connect, inspect_deployment  # web3 only when used

        w3 = connect(settings.chain_rpc_url or "", timeout=PROBE_TIMEOUT_S)
        chain_id = int(w3.eth.chain_id)
        if settings.chain_id is not None and chain_id != settings.chain_id:
            return [
                Finding(
                    "chain",
                    "chain_id_mismatch",
                    f"the node at {settings.chain_rpc_url} is chain {chain_id}, "
                    f"TILEWORK_CHAIN_ID says {settings.chain_id}",
                )
            ]
        found = [ok_finding("chain", f"chain {chain_id} at block {w3.eth.block_number}")]
        if deep:
            found += inspect_deployment(w3, settings)
        return found

    return _guard("chain", "chain_unreachable", probe)


# -- stripe and settings -----------------------------------------------------------------------------


def check_stripe(settings: Settings) -> list[Finding]:
    if not settings.card_enabled:
        return [Finding("stripe", "note_off", "card rail off (no TILEWORK_STRIPE_SECRET_KEY)")]
    live = settings.stripe_live
    mode = "live" if live else "test"
    publishable = settings.stripe_publishable_key or ""
    if publishable and publishable.startswith("pk_live_") != live:
        return [
            Finding(
                "stripe",
                "stripe_mode_mismatch",
                f"the secret key is a {mode} key but TILEWORK_STRIPE_PUBLISHABLE_KEY is not",
            )
        ]
    if settings.stripe_connect == "standin" and not settings.stripe_emulated:
        return [
            Finding(
                "stripe",
                "stripe_connect_standin",
                f"a {mode} Stripe key with the local Connect stand-in: payouts would move no money "
                "(set TILEWORK_STRIPE_CONNECT=stripe)",
            )
        ]
    if settings.environment == "production" and not live:
        return [Finding("stripe", "note_test_mode", "production runs with a Stripe test key")]
    return [ok_finding("stripe", f"{mode} mode, Connect: {settings.stripe_connect}")]


def check_variables(environ: Mapping[str, str]) -> list[Finding]:
    unknown = unknown_variables(environ)
    found = [Finding("settings", "unknown_variable", describe_unknown(n, h)) for n, h in unknown]
    return found or [ok_finding("settings", "every TILEWORK_* variable is a known setting")]


# -- the two entry points ----------------------------------------------------------------------------


def readiness(settings: Settings) -> list[Finding]:
    """What ``/ready`` asks: quick, read-only, each probe bounded by a few seconds."""
    return (
        check_database(settings)
        + check_redis(settings)
        + check_storage(settings, write=False)
        + check_chain(settings, deep=False)
    )


def full_check(settings: Settings, environ: Mapping[str, str]) -> list[Finding]:
    """What ``tilework check`` asks: everything, including a write to storage and the vault's roles."""
    return (
        check_variables(environ)
        + check_database(settings)
        + check_redis(settings)
        + check_storage(settings, write=True)
        + check_chain(settings, deep=True)
        + check_stripe(settings)
    )


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if not f.ok]
