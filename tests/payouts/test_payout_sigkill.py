"""Fault test: a real Celery worker on Redis pays a few hundred workers on both rails while it is killed
with SIGKILL several times. Afterwards every worker is paid exactly once and the ledger equals what the
chain (tokens) and the Connect stand-in (transfers) hold."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.escrow.evm import DevChain, serve_json_rpc
from marketplace.ledger import service as ledger
from marketplace.models import PayoutSchedule, Rail, utcnow
from marketplace.payments.rails import Rails
from marketplace.payouts import repository, service
from tests.payouts.test_payouts_flow import _accept_all, _far, _setup

REDIS_URL = os.environ.get("TILEWORK_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
REPO = Path(__file__).resolve().parents[2]
WORKERS = 300


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as exc:  # pragma: no cover - environment dependent
        pytest.skip(f"needs Redis at {REDIS_URL}: {exc}")


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.celery_app",
            "worker",
            "--pool=solo",
            "-Q",
            "tilework",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _pending(settings: Settings) -> int:
    with session_scope(session_factory(settings)) as s:
        return len(repository.due_outbox_ids(s, utcnow() + _far(), 10_000))


@pytest.mark.slow
def test_payouts_survive_sigkill(
    settings: Settings, rails: Rails, chain: DevChain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _redis_or_skip()
    redis.Redis.from_url(REDIS_URL).flushdb()
    monkeypatch.setattr(service, "_enqueue", lambda session, ids: None)  # the worker does all the sending
    rails.settings.payout_batch_size = 100
    chain_ids = _setup(
        settings,
        rails,
        chain,
        rail=Rail.chain,
        workers=WORKERS,
        data_images=WORKERS,
        schedule=PayoutSchedule.on_acceptance,
    )
    card_ids = _setup(
        settings,
        rails,
        chain,
        rail=Rail.card,
        workers=WORKERS,
        data_images=WORKERS,
        schedule=PayoutSchedule.on_acceptance,
    )
    _accept_all(settings, chain_ids, WORKERS, first_id=1)
    _accept_all(settings, card_ids, WORKERS, first_id=10_000)
    with session_scope(session_factory(settings)) as s:
        assert service.tick(s) == 2 * (WORKERS // 100)
    payout_ids: list[int] = []
    with session_scope(session_factory(settings)) as s:
        for job_id in (chain_ids["job"], card_ids["job"]):
            payout_ids += [p.id for p in repository.payouts_for_job(s, job_id)]

    rpc = serve_json_rpc(chain.w3)
    standin = rails.need_connect().path  # type: ignore[attr-defined]
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "REDIS_URL": REDIS_URL,
        "TILEWORK_HOME": str(tmp_path / "worker-home"),
        "TILEWORK_CHAIN_RPC_URL": rpc.url,
        "TILEWORK_CHAIN_ESCROW_ADDRESS": chain.escrow_address,
        "TILEWORK_CHAIN_TOKEN_ADDRESS": chain.token_address,
        "TILEWORK_CHAIN_OPERATOR_KEY": "0x" + bytes(chain.operator.key).hex(),
        "TILEWORK_STRIPE_STANDIN_PATH": str(standin),
        "TILEWORK_PAYOUT_NAMESPACE": rails.settings.payout_namespace,
        "TILEWORK_PAYOUT_BACKOFF_BASE_S": "0.5",
        "TILEWORK_PAYOUT_BACKOFF_MAX_S": "2",
    }
    producer = Celery("tilework-test", broker=REDIS_URL)
    producer.conf.task_default_queue = "tilework"

    def send_all() -> None:
        for pid in payout_ids:
            producer.send_task("payouts.execute_payout", args=[pid], queue="tilework")
        producer.send_task("payouts.drain_outbox", queue="tilework")

    log = tmp_path / "celery.log"
    rng = random.Random(5)
    kills = 0
    try:
        send_all()
        for _ in range(4):
            worker = _start_worker(env, log)
            time.sleep(rng.uniform(3.0, 6.0))
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            kills += 1
            send_all()  # what beat would do: the drain picks up every unsent outbox row
        worker = _start_worker(env, log)
        deadline = time.monotonic() + 240
        while _pending(settings) and time.monotonic() < deadline:
            time.sleep(2)
            producer.send_task("payouts.drain_outbox", queue="tilework")
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    finally:
        rpc.close()
        producer.close()
    assert kills == 4
    assert _pending(settings) == 0, log.read_text()[-3000:]

    token = chain.token_address
    escrow = rails.need_chain()
    connect = rails.need_connect()
    totals = connect.totals_by_destination()  # type: ignore[attr-defined]
    assert connect.transfer_count() == WORKERS  # type: ignore[attr-defined]
    with session_scope(session_factory(settings)) as s:
        for ids, rail in ((chain_ids, Rail.chain), (card_ids, Rail.card)):
            books = ledger.check_balanced(s, ids["job"])
            paid = ledger.paid_by_worker(s, ids["job"])
            dests = repository.verified_destinations(s, ids["workers"], rail)
            assert len(paid) == WORKERS and books.payable == 0
            held: dict[str, Any] = {}
            for wid in ids["workers"]:
                if rail is Rail.chain:
                    held[wid] = int(escrow.token(token).functions.balanceOf(dests[wid]).call())
                else:
                    held[wid] = totals[dests[wid]]
            assert held == paid, f"{rail}: ledger and rail differ"
        info = escrow.get_job(chain_ids["fund"].chain_job_id)
        assert info.paid == ledger.job_books(s, chain_ids["job"]).paid
