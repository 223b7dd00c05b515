"""A production-like bring-up from a clean state with only the documented commands, on real parts
(PostgreSQL, Redis, SeaweedFS, anvil): ``tilework chain deploy``, ``storage init``, ``db upgrade``,
``check``; then ``tilework check`` names each misconfiguration introduced, and ``serve`` refuses to
start on one."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path

from eth_account import Account

from benchmarks._load_stack import RedisServer
from tests.ops.conftest import ANVIL_KEYS, Ran, clean_environ, run_tilework
from tests.s3_server import S3Server

REQUESTER = "0x" + "42" * 20


def failed(ran: Ran) -> set[str]:
    """The codes of the ``FAIL  <code>: …`` lines."""
    return {line.split()[1].rstrip(":") for line in ran.out.splitlines() if line.startswith("FAIL")}


def production_env(
    tmp_path: Path, database: str, redis: RedisServer, s3: S3Server, rpc_url: str
) -> dict[str, str]:
    return {
        **clean_environ(),
        "TILEWORK_ENVIRONMENT": "production",
        "TILEWORK_SECRET_KEY": secrets.token_hex(32),
        "TILEWORK_HOME": str(tmp_path / "home"),
        "DATABASE_URL": database,
        "REDIS_URL": redis.url,
        "TILEWORK_STORAGE_URL": f"s3://tw-platform-{uuid.uuid4().hex[:8]}/platform",
        "S3_ENDPOINT_URL": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_DEFAULT_REGION": s3.region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "TILEWORK_CHAIN_RPC_URL": rpc_url,
        "TILEWORK_CHAIN_DEPLOYER_KEY": ANVIL_KEYS[0],
        "TILEWORK_CHAIN_OPERATOR_KEY": ANVIL_KEYS[1],
        "TILEWORK_CHAIN_CONFIRMATIONS": "1",
    }


def test_bring_up_then_check_names_each_misconfiguration(
    tmp_path: Path,
    s3_server: S3Server,
    own_redis: RedisServer,
    anvil_url: str,
    fresh_database: Callable[[], str],
) -> None:
    env = production_env(tmp_path, fresh_database(), own_redis, s3_server, anvil_url)

    before = run_tilework(env, "check")
    assert before.code == 1, before.out
    assert {
        "database_unmigrated",
        "bucket_missing",
        "escrow_address_missing",
        "token_address_missing",
    } <= failed(before), before.out

    deploy = run_tilework(env, "chain", "deploy", "--mint-to", REQUESTER, "--mint", str(10**12))
    assert deploy.code == 0, deploy.err
    assert "matches the committed build" in deploy.err
    variables = dict(line.split("=", 1) for line in deploy.out.splitlines() if line.startswith("TILEWORK_"))
    assert set(variables) == {
        "TILEWORK_CHAIN_RPC_URL",
        "TILEWORK_CHAIN_ID",
        "TILEWORK_CHAIN_ESCROW_ADDRESS",
        "TILEWORK_CHAIN_TOKEN_ADDRESS",
        "TILEWORK_CHAIN_START_BLOCK",
    }
    assert variables["TILEWORK_CHAIN_ID"] == "31337"
    env.update(variables)
    for step in (("storage", "init"), ("db", "upgrade")):
        ran = run_tilework(env, *step)
        assert ran.code == 0, ran.err
    after = run_tilework(env, "check")
    assert after.code == 0, after.out + after.err
    assert not failed(after) and "operator 0x" in after.out

    status = run_tilework(env, "chain", "status")
    assert status.code == 0, status.err
    shown = json.loads(status.out)
    assert shown["chain_id"] == 31337 and shown["roles"]["operator"]["operator_role"] is True
    assert shown["pending_payouts"]["count"] == 0 and shown["payout_outbox_depth"] == 0

    misconfigurations = {
        "chain_id_mismatch": {"TILEWORK_CHAIN_ID": "137"},
        "escrow_no_code": {"TILEWORK_CHAIN_ESCROW_ADDRESS": "0x" + "11" * 20},
        "bucket_missing": {"TILEWORK_STORAGE_URL": f"s3://tw-missing-{uuid.uuid4().hex[:8]}/platform"},
        "database_unmigrated": {"DATABASE_URL": fresh_database()},
        "operator_role_missing": {"TILEWORK_CHAIN_OPERATOR_KEY": ANVIL_KEYS[2]},
        "unknown_variable": {"TILEWORK_OPERATOR_KEY": ANVIL_KEYS[1]},
    }
    for code, change in misconfigurations.items():
        ran = run_tilework({**env, **change}, "check")
        assert ran.code == 1 and failed(ran) == {code}, (code, ran.out, ran.err)
    assert "did you mean TILEWORK_CHAIN_OPERATOR_KEY" in ran.out

    # rotating the operator key: grant the new address, switch, revoke the old one
    new_key = {"TILEWORK_CHAIN_OPERATOR_KEY": ANVIL_KEYS[2]}
    new_address = Account.from_key(ANVIL_KEYS[2]).address
    assert run_tilework(env, "chain", "grant-operator", new_address).code == 0
    assert run_tilework({**env, **new_key}, "check").code == 0
    old_address = Account.from_key(ANVIL_KEYS[1]).address
    assert run_tilework(env, "chain", "grant-operator", "--revoke", old_address).code == 0
    assert failed(run_tilework(env, "check")) == {"operator_role_missing"}
    env.update(new_key)

    refused = run_tilework({**env, **misconfigurations["bucket_missing"]}, "serve", "--no-migrate")
    assert refused.code != 0 and "bucket_missing" in refused.err, refused.err
