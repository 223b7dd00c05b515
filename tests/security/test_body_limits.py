"""Hostile bodies get a 4xx and never take the process down (issue 11, item 1)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.conftest import REPO
from tests.security.conftest import ServerProcess, free_port, server_env

NESTED = b"[" * 100_000 + b"]" * 100_000  # 200 KB


def test_nested_body_is_refused_and_the_server_lives(uvicorn_server: ServerProcess) -> None:
    r = httpx.post(
        f"{uvicorn_server.url}/api/auth/login",
        content=NESTED,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "json_too_deep"
    assert httpx.get(f"{uvicorn_server.url}/health", timeout=5).status_code == 200
    assert uvicorn_server.proc.poll() is None
    # deep objects, deep arrays inside strings (not nesting), and no content type at all
    deep_obj = b'{"a":' * 5000 + b"1" + b"}" * 5000
    r = httpx.post(f"{uvicorn_server.url}/api/auth/login", content=deep_obj, timeout=30)
    assert r.status_code == 400 and r.json()["error"] == "json_too_deep"
    in_string = json.dumps({"email": "[" * 300, "password": "x"}).encode()  # far deeper than 32
    r = httpx.post(
        f"{uvicorn_server.url}/api/auth/login",
        content=in_string,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 401, r.text  # parsed normally: brackets inside a string are not nesting
    assert httpx.get(f"{uvicorn_server.url}/health", timeout=5).status_code == 200


def test_recursion_limit_is_left_alone_in_a_fresh_process(migrated_pg: str, tmp_path: Path) -> None:
    code = (
        "import sys; before = sys.getrecursionlimit()\n"
        "from marketplace.app import create_app\n"
        "create_app()\n"
        "import eth, py_ecc, eth_tester  # already imported: no change either\n"
        "print(before, sys.getrecursionlimit())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=server_env(migrated_pg, tmp_path / "home"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    assert out[0] == out[1], out


def test_recursion_limit_unchanged_after_create_app(settings: Settings) -> None:
    from marketplace.app import create_app
    from marketplace.runtime import RECURSION_LIMIT

    create_app(settings)
    assert sys.getrecursionlimit() == RECURSION_LIMIT


def test_embedded_chain_works_at_the_normal_limit(settings: Settings) -> None:
    """The in-process EVM (py-evm) deploys and calls the vault with the interpreter's usual limit."""
    from marketplace.escrow.evm import start_dev_chain
    from marketplace.runtime import RECURSION_LIMIT

    sys.setrecursionlimit(RECURSION_LIMIT)
    dev = start_dev_chain(num_accounts=2)  # deploys the token and the vault
    assert dev.w3.eth.block_number >= 2
    assert sys.getrecursionlimit() == RECURSION_LIMIT


def test_too_large_json_is_413(client: TestClient) -> None:
    big = b'{"email": "' + b"a" * (9 * 1024 * 1024) + b'", "password": "x"}'
    r = client.post("/api/auth/login", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"
    # chunked, without a Content-Length: counted while it streams
    r = client.post(
        "/api/auth/login",
        content=(big[i : i + 65536] for i in range(0, len(big), 65536)),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_job_creation_may_carry_a_large_gt(client: TestClient, make_user: object) -> None:
    """The JSON job body carries the COCO ground truth inline: its own, larger, cap."""
    requester = make_user("requester")  # type: ignore[operator]
    gt = {"images": [], "annotations": [], "categories": [], "padding": "x" * (9 * 1024 * 1024)}
    r = client.post("/api/jobs", json={"title": "big", "gt": gt}, headers=requester["headers"])
    assert r.status_code == 422, r.text  # validated as a job, not refused as too large


def test_multipart_uploads_are_not_capped_as_json(client: TestClient, make_user: object) -> None:
    requester = make_user("requester")  # type: ignore[operator]
    files = [("images", (f"i{i}.png", b"x" * (3 * 1024 * 1024), "image/png")) for i in range(4)]
    r = client.post("/api/jobs/upload", data={"spec": "{}"}, files=files, headers=requester["headers"])
    assert r.status_code != 413, r.text


@pytest.mark.slow
def test_serve_replaces_a_dead_worker_process(migrated_pg: str, tmp_path: Path) -> None:
    """``tilework serve --workers 2``: a worker killed with SIGKILL is replaced, the API keeps answering."""
    port = free_port()
    env = server_env(
        migrated_pg,
        tmp_path / "home",
        REDIS_URL=os.environ.get("TILEWORK_TEST_REDIS_URL", "redis://127.0.0.1:6379/7"),
        TILEWORK_CHAIN_RPC_URL="http://127.0.0.1:9",  # never called here; not the per-process EVM
    )
    tilework = str(Path(sys.executable).parent / "tilework")
    server = ServerProcess(
        [tilework, "serve", "--no-migrate", "--port", str(port), "--workers", "2"],
        env,
        port,
        tmp_path / "serve.log",
    )
    try:
        server.wait_healthy()
        children = _children(server.proc.pid)
        assert len(children) == 2, (children, server.output())
        os.kill(children[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = _children(server.proc.pid)
            if len(now) == 2 and children[0] not in now:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the dead worker was not replaced:\n{server.output()}")
        for _ in range(5):
            assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200
    finally:
        server.stop()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    # uvicorn's supervisor may also run a resource tracker; keep the processes serving the app
    return sorted(int(p) for p in out if "multiprocessing.resource_tracker" not in _cmdline(int(p)))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_nested_json_inside_a_multipart_field_is_a_400(client: TestClient, make_user: object) -> None:
    requester = make_user("requester")  # type: ignore[operator]
    r = client.post(
        "/api/jobs/upload",
        data={"spec": "[" * 50_000 + "]" * 50_000},
        files=[("gt", ("gt.json", b"{}", "application/json")), ("images", ("a.png", b"x", "image/png"))],
        headers=requester["headers"],
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "json_too_deep"


def test_compose_restarts_the_processes_and_names_real_settings() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name in ("api", "worker", "beat"):
        assert compose["services"][name].get("restart") in ("always", "unless-stopped"), name
    assert "--workers" in compose["services"]["api"]["command"]
    fields = set(Settings.model_fields)
    env = compose["x-tilework-env"]
    for key in env:
        if key.startswith("TILEWORK_"):
            assert key.removeprefix("TILEWORK_").lower() in fields, f"{key} is not a setting"


def test_serve_refuses_several_processes_with_embedded_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from marketplace.cli import main
    from marketplace.config import get_settings

    for key in ("REDIS_URL", "TILEWORK_CHAIN_RPC_URL", "TILEWORK_REDIS_URL"):
        monkeypatch.delenv(key, raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["serve", "--no-migrate", "--workers", "3"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "--workers 1" in result.output


def test_json_depth_counts_few_brackets_in_python_as_numpy_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small body's depth is summed in Python (cheaper than NumPy's set-up): the same answer on
    well-formed and broken JSON, brackets inside strings and escapes included."""
    from marketplace.edge import body_limits

    rng = random.Random(19)
    bodies = [bytes(rng.choice(b'[]{}"\\ax,') for _ in range(rng.randint(0, 300))) for _ in range(2000)]
    bodies += [b'{"a": [[1], {"b": "[[[{"}]}', b'"[[', b"[]" * 300, b"[" * 40 + b"]" * 40]
    with_python = [body_limits.json_depth(b) for b in bodies]
    monkeypatch.setattr(body_limits, "_FEW", -1)
    assert [body_limits.json_depth(b) for b in bodies] == with_python
    assert with_python[-4:] == [3, 2, 1, 40]  # an unterminated string over-counts, as documented
