"""A long fuzzing campaign against a real server: every operation of the OpenAPI document, once per role.

Run: ``python benchmarks/fuzz.py [--examples 40] [--seed 11] [--roles worker,reviewer,requester,admin]``.

* Creates a scratch PostgreSQL database (admin URL from ``TILEWORK_BENCH_PG_ADMIN_URL``, default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), builds it with the migrations and starts
  ``uvicorn`` on it in a subprocess, with the card rail on a local Stripe emulator (localstripe on
  127.0.0.1) and the embedded defaults otherwise (in-process background work, the in-process EVM for
  the chain rail).
* Seeds users of each role, a funded card job with assignments in every state and an open appeal, and a
  draft chain job (``benchmarks/_fuzz_campaign.py``), then runs Schemathesis on every operation with
  positive and negative data, and with the seeded ids: ``--examples`` cases per operation, mode and role.
* Checks every answer: below 500, status code documented, content type and body as documented. A
  request that gets no answer counts as a crash when the server process died or stopped answering
  ``/health`` (the campaign then stops).

Last line: ``cases=<n> server_errors=<n> schema_violations=<n> crashes=<n>``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import schemathesis
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from marketplace.payments.settings import PaymentSettings  # noqa: E402

from benchmarks._fuzz_campaign import ROLES, fuzz, seed  # noqa: E402
from marketplace.config import Settings  # noqa: E402
from marketplace.migrations import upgrade  # noqa: E402
from marketplace.payments.rails import Rails  # noqa: E402
from marketplace.payments.stripe_adapter import CardPayments  # noqa: E402
from tests.payments.paytools import (  # noqa: E402
    EMULATOR_WEBHOOK_SECRET,
    LOCALSTRIPE_LAUNCHER,
    wait_port,
)

ADMIN_URL = os.environ.get(
    "TILEWORK_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SECRET = "fuzz-benchmark-secret-key-0123456789abcdef"


def _conninfo(url: str) -> str:
    u = make_url(url)
    return f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=40, help="cases per operation, mode and role")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--roles", default=",".join(ROLES))
    args = parser.parse_args()

    name = f"tilework_fuzz_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix="tilework-fuzz-"))
    data_root = tmp / "data"
    data_root.mkdir()
    settings = Settings(
        environment="test",
        home=tmp / "home",
        database_url=db_url,
        local_data_roots=[data_root],
        secret_key=SECRET,
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    stripe_port = _free_port()
    stripe = subprocess.Popen(
        [sys.executable, "-c", LOCALSTRIPE_LAUNCHER, str(tmp / "localstripe.pickle"), str(stripe_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(stripe_port)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "TILEWORK_HOME": str(tmp / "home"),
        "TILEWORK_LOCAL_DATA_ROOTS": json.dumps([str(data_root)]),
        "TILEWORK_SECRET_KEY": SECRET,
        "TILEWORK_PUBLIC_BASE_URL": base,
        "TILEWORK_STRIPE_SECRET_KEY": "sk_test_tilework",
        "TILEWORK_STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
        "TILEWORK_STRIPE_WEBHOOK_SECRET": EMULATOR_WEBHOOK_SECRET,
    }
    env.pop("REDIS_URL", None)
    server: subprocess.Popen[bytes] | None = None
    try:
        upgrade(db_url)
        log = (tmp / "server.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "marketplace.app:create_app", "--factory", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not _answers(base):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start; see {tmp / 'server.log'}")
            time.sleep(0.3)

        # the seed job is paid through the same emulator the server uses, so its PaymentIntent exists there
        stripe_url = f"http://127.0.0.1:{stripe_port}"
        seed_rails = Rails(
            settings=PaymentSettings(
                stripe_secret_key="sk_test_tilework",
                stripe_api_base=stripe_url,
                stripe_webhook_secret=EMULATOR_WEBHOOK_SECRET,
            ),
            card=CardPayments("sk_test_tilework", api_base=stripe_url),
        )
        with httpx.Client(base_url=base, timeout=60) as http:
            seeded = seed(http, settings, data_root, seed_rails)
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")

        def alive() -> bool:
            return server is not None and server.poll() is None and _answers(base)

        started = time.monotonic()
        outcome = fuzz(
            schema,
            seeded,
            examples=args.examples,
            roles=[r for r in args.roles.split(",") if r],
            random_seed=args.seed,
            call_kwargs={"timeout": 60},
            alive=alive,
            progress=lambda line: print(line, flush=True),
        )
        if outcome.crashes == 0 and not alive():
            outcome.crashes = 1
        print(f"\n{time.monotonic() - started:.0f} s; server log: {tmp / 'server.log'}")
        for key, count in outcome.failures.most_common():
            print(f"{count:5}x {key}\n       {outcome.examples[key]}")
        print(outcome.line())
    finally:
        stripe.terminate()
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
