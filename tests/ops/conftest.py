"""Real parts of the test's own for the operations tests: a Redis on a free port (AOF on, so a restart
keeps what was written), an anvil node, fresh PostgreSQL databases, and a runner for ``tilework``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from benchmarks._load_stack import RedisServer, anvil_binary, wait_for
from tests.conftest import PG_ADMIN_URL, _pg_conninfo
from tests.s3_server import free_ports

#: anvil's well-known development keys (accounts 0, 1, 2 of its default mnemonic): public, test only.
ANVIL_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed")
    (port,) = free_ports(1)
    server = RedisServer(port, tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def anvil_url(tmp_path: Path) -> Iterator[str]:
    binary = anvil_binary()
    if binary is None:
        pytest.skip("anvil not installed (run `npm ci` in contracts/ to get @foundry-rs/anvil-linux-amd64)")
    (port,) = free_ports(1)
    with (tmp_path / "anvil.log").open("wb") as log:
        proc = subprocess.Popen(
            # a block a second, as a real chain makes them, so confirmations come
            [binary, "--host", "127.0.0.1", "--port", str(port), "--hardfork", "prague", "--block-time", "1"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        from web3 import HTTPProvider, Web3

        wait_for(Web3(HTTPProvider(url)).is_connected, "anvil", proc=proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def fresh_database() -> Iterator[Callable[[], str]]:
    """Makes empty PostgreSQL databases (no migrations); drops them at the end."""
    made: list[str] = []
    admin = _pg_conninfo(PG_ADMIN_URL)

    def make() -> str:
        name = f"tilework_ops_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Ran:
    code: int
    out: str
    err: str


def clean_environ() -> dict[str, str]:
    """This process's environment without any Tilework, AWS, database or Redis setting."""
    drop = ("TILEWORK_", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    for name in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL"):
        env.pop(name, None)
    return env


def tilework_argv() -> list[str]:
    script = Path(sys.executable).parent / "tilework"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "marketplace.cli"]


def run_tilework(env: dict[str, str], *args: str, timeout: float = 180) -> Ran:
    done = subprocess.run(
        [*tilework_argv(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Ran(done.returncode, done.stdout, done.stderr)
