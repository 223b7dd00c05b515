"""Helpers shared by tests/ledger, tests/payments and tests/payouts (imported, not a conftest)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from marketplace.jobs.states import transition
from marketplace.models import Base, Job, JobStatus, JobType, Rail, Role, User
from marketplace.payouts import service as payouts_service


def add_user(session: Session, role: Role = Role.worker, email: str | None = None) -> User:
    user = User(
        email=email or f"{role.value}-{uuid.uuid4().hex[:10]}@example.org",
        password_hash="x",
        role=role,
    )
    session.add(user)
    session.flush()
    return user


def add_job(
    session: Session,
    requester: User,
    *,
    rail: Rail = Rail.card,
    bounty: int = 10_000,
    currency: str = "usd",
    data_images: int = 20,
    gt_images: int = 2,
    assignment_size: int = 2,
    overlap: int = 1,
    max_overlap: int | None = None,
    status: JobStatus = JobStatus.draft,
) -> Job:
    job = Job(
        requester_id=requester.id,
        type=JobType.boxes,
        status=status,
        title="t",
        description="",
        labels=["cat", "dog"],
        data_uri="/tmp/nowhere",
        accuracy_target=0.8,
        iou_threshold=0.5,
        point_tolerance=0.1,
        bounty_amount=bounty,
        currency=currency,
        rail=rail,
        assignment_size=assignment_size,
        gt_per_assignment=1,
        time_limit_s=600,
        overlap=overlap,
        max_overlap=max_overlap,
        max_attempts=3,
        image_count=data_images + gt_images,
        gt_count=gt_images,
    )
    session.add(job)
    session.flush()
    return job


@dataclass
class FakeAssignment:
    """What the payout hooks read from an assignment: its id, job and worker."""

    id: int
    job_id: int
    worker_id: int
    status: str = "accepted"


def sqlite_session_factory(tmp_path: Any) -> sessionmaker[Session]:
    engine = create_engine(f"sqlite:///{tmp_path}/ledger.db")
    Base.metadata.create_all(engine)
    return sessionmaker(bind=engine, expire_on_commit=False)


# -- rails for tests ---------------------------------------------------------------------------------

from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from marketplace.escrow.evm import DevChain, start_dev_chain  # noqa: E402
from marketplace.payment_settings import PaymentSettings  # noqa: E402
from marketplace.payments import rails as rails_mod  # noqa: E402
from marketplace.payments.stripe_adapter import (  # noqa: E402
    PaymentIntentInfo,
    RefundInfo,
    StandinConnectTransfers,
)


class FakeCard:
    """PaymentIntents and refunds in memory, honouring idempotency keys (for payout tests that do not
    need localstripe; tests/payments runs the real adapter against localstripe)."""

    def __init__(self) -> None:
        self.intents: dict[str, PaymentIntentInfo] = {}
        self.refunds: dict[str, RefundInfo] = {}
        self.refund_calls = 0

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
        description: str = "",
    ) -> PaymentIntentInfo:
        pid = "pi_" + idempotency_key.replace(":", "_")
        info = PaymentIntentInfo(pid, pid + "_secret", "requires_payment_method", amount, currency, metadata)
        return self.intents.setdefault(pid, info)

    def retrieve_payment_intent(self, pi_id: str) -> PaymentIntentInfo:
        return self.intents[pi_id]

    def refund(
        self, *, payment_intent: str, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> RefundInfo:
        self.refund_calls += 1
        info = RefundInfo("re_" + idempotency_key.replace(":", "_"), "succeeded", amount, metadata)
        return self.refunds.setdefault(idempotency_key, info)

    def find_refund(self, *, payment_intent: str, key: str) -> RefundInfo | None:
        return self.refunds.get(key)


@pytest.fixture(scope="session")
def dev_chain() -> DevChain:
    return start_dev_chain(num_accounts=4)


@pytest.fixture
def chain(dev_chain: DevChain) -> Iterator[DevChain]:
    snap = dev_chain.snapshot()
    try:
        yield dev_chain
    finally:
        dev_chain.revert(snap)


@pytest.fixture
def task_env(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let tasks (eager here) open sessions on the test database."""
    from marketplace.config import get_settings

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TILEWORK_HOME", str(settings.home))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def rails(chain: DevChain, tmp_path: Path, task_env: None) -> Iterator[rails_mod.Rails]:
    ps = PaymentSettings(
        payout_namespace=f"test-{uuid.uuid4().hex[:8]}",
        payout_batch_size=50,
        stripe_webhook_secret="whsec_test",
        chain_confirmations=0,
    )
    r = rails_mod.Rails(
        settings=ps,
        card=FakeCard(),  # type: ignore[arg-type]
        connect=StandinConnectTransfers(tmp_path / "connect.sqlite3"),
        chain=chain.escrow(batch_size=ps.payout_batch_size),
        chain_token=chain.token_address,
        chain_confirmations=0,
    )
    rails_mod.install(r)
    yield r
    rails_mod.install(None)


# -- localstripe on 127.0.0.1 with its own state file ------------------------------------------------

LOCALSTRIPE_LAUNCHER = """
import sys, pickle
from localstripe import resources
path, port = sys.argv[1], int(sys.argv[2])

def _load(self):
    try:
        with open(path, 'rb') as f:
            old = pickle.load(f)
        self.clear(); self.update(old)
    except FileNotFoundError:
        pass

def _dump(self):
    with open(path, 'wb') as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)

resources.Store.try_load_from_disk = _load
resources.Store.dump_to_disk = _dump
from aiohttp import web
from localstripe.server import app
web.run_app(app, host='127.0.0.1', port=port, print=None)
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import subprocess
    import sys

    pytest.importorskip("localstripe")
    port = free_port()
    state = tmp_path_factory.mktemp("localstripe") / "state.pickle"
    proc = subprocess.Popen([sys.executable, "-c", LOCALSTRIPE_LAUNCHER, str(state), str(port)])
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- the card rail against localstripe, as a deployment in emulator mode sees it ---------------------

EMULATOR_WEBHOOK_SECRET = "whsec_localstripe_test"


def emulator_settings(localstripe: str) -> dict[str, Any]:
    """Settings fields of a deployment whose card rail is the local emulator (for ``model_copy``)."""
    return {
        "stripe_secret_key": "sk_test_tilework",
        "stripe_api_base": localstripe,
        "stripe_webhook_secret": EMULATOR_WEBHOOK_SECRET,
        "stripe_publishable_key": None,
    }


@pytest.fixture
def emulator_rails(rails: rails_mod.Rails, localstripe_url: str) -> rails_mod.Rails:  # noqa: F811
    """The test rails with the real card adapter pointed at localstripe (emulator mode)."""
    from marketplace.payments.stripe_adapter import CardPayments

    for key, value in emulator_settings(localstripe_url).items():
        setattr(rails.settings, key, value)
    rails.card = CardPayments("sk_test_tilework", api_base=localstripe_url)
    return rails


@contextmanager
def serve_app(settings: Any, **update: Any) -> Iterator[str]:
    """``create_app`` under uvicorn on a free 127.0.0.1 port, its ``public_base_url`` set to where it
    listens (so an emulator's webhooks reach it); yields that URL."""
    import threading

    import uvicorn

    from marketplace.app import create_app

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings.model_copy(update={**update, "public_base_url": url}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_port(port)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def complete_job(session: Session, job: Job) -> None:
    """What the completion flow does once every chunk is done, for jobs whose work is simulated."""
    transition(job, JobStatus.completed)
    payouts_service.settle_completed(session, job)
