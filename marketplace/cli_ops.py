"""Operator commands of ``tilework``: ``check``, ``storage init``, ``chain deploy``, ``chain status``.

Registered on the main group by :mod:`marketplace.cli`. ``check`` prints one line per part and one
``FAIL  <code>: …`` line per misconfiguration, and exits 1 when there is any.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from marketplace.config import Settings, get_settings
from marketplace.ops.findings import Finding


def load_settings_or_findings() -> tuple[Settings | None, list[Finding]]:
    """The settings, or (when they do not load, e.g. an unknown variable in production) why not."""
    from pydantic import ValidationError

    from marketplace.ops.checks import check_variables

    try:
        return get_settings(), []
    except ValidationError as exc:
        findings = [f for f in check_variables(os.environ) if not f.ok]
        for error in exc.errors():
            message = str(error.get("msg", "")).removeprefix("Value error, ")
            if not message.startswith("unknown variable"):
                findings.append(Finding("settings", "invalid_settings", message))
        return None, findings


def run_checks(settings: Settings) -> list[Finding]:
    from marketplace.ops.checks import full_check

    return full_check(settings, os.environ)


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help="print the findings as JSON")
def check(as_json: bool) -> None:
    """Check the configuration end to end: settings, database (reachable, migrated), Redis, the platform
    bucket (exists, writable), the chain node (chain id, code at the addresses, operator role), Stripe."""
    from marketplace.ops.checks import problems

    settings, findings = load_settings_or_findings()
    if settings is not None:
        findings = run_checks(settings)
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        for finding in findings:
            click.echo(finding.line())
    wrong = problems(findings)
    if wrong:
        click.echo(f"{len(wrong)} problem(s): {', '.join(f.code for f in wrong)}", err=True)
        sys.exit(1)


# -- storage -------------------------------------------------------------------------------------


@click.group("storage")
def storage() -> None:
    """The platform's own storage (TILEWORK_STORAGE_URL)."""


@storage.command("init")
def storage_init() -> None:
    """Create the platform bucket (or folder) if it is missing, then check that it takes a write."""
    from marketplace.storage.platform import StorageProblem, check_writable, init_platform_storage

    settings = get_settings()
    try:
        click.echo(init_platform_storage(settings))
        check_writable(settings)
    except StorageProblem as problem:
        raise click.ClickException(f"{problem.code}: {problem.detail}") from problem
    click.echo(f"{settings.effective_storage_url} is writable")


# -- chain ---------------------------------------------------------------------------------------


@click.group("chain")
def chain() -> None:
    """The chain rail: deploy the vault, show its state."""


@chain.command("deploy")
@click.option("--rpc-url", default=None, help="JSON-RPC URL of the node (default TILEWORK_CHAIN_RPC_URL)")
@click.option(
    "--operator",
    default=None,
    help="address given the operator role (default: that of TILEWORK_CHAIN_OPERATOR_KEY)",
)
@click.option("--admin", default=None, help="address given the admin role (default: the deployer)")
@click.option(
    "--token",
    default=None,
    help="the ERC-20 jobs are funded in; without it a test token is deployed (test networks only)",
)
@click.option(
    "--confirmations",
    type=click.IntRange(0, 1000),
    default=None,
    help="blocks on top of the deployment to wait for (default TILEWORK_CHAIN_CONFIRMATIONS)",
)
@click.option("--operator-gas", type=int, default=0, help="wei the deployer sends the operator for gas")
@click.option("--mint-to", default=None, help="test token only: an address to mint --mint base units to")
@click.option("--mint", "mint_amount", type=int, default=0)
@click.option("--timeout", type=float, default=600.0, show_default=True, help="seconds to wait per step")
def chain_deploy(
    rpc_url: str | None,
    operator: str | None,
    admin: str | None,
    token: str | None,
    confirmations: int | None,
    operator_gas: int,
    mint_to: str | None,
    mint_amount: int,
    timeout: float,
) -> None:
    """Deploy the TileworkEscrow vault with the deployer key of TILEWORK_CHAIN_DEPLOYER_KEY, grant the
    operator role, check the code on chain against the committed build, and print the variables to set
    (on stdout; progress goes to stderr)."""
    from marketplace.escrow.chain import EscrowError, operator_from_key, send_transaction
    from marketplace.escrow.deployment import deploy_platform, mint_test_token
    from marketplace.ops.chain_setup import connect

    settings = get_settings()
    url = rpc_url or settings.chain_rpc_url
    if not url:
        raise click.UsageError("give --rpc-url or set TILEWORK_CHAIN_RPC_URL")
    if not settings.chain_deployer_key:
        raise click.UsageError("set TILEWORK_CHAIN_DEPLOYER_KEY to the deployer's private key")
    deployer = operator_from_key(settings.chain_deployer_key)
    if operator is None:
        if not settings.chain_operator_key:
            raise click.UsageError("give --operator or set TILEWORK_CHAIN_OPERATOR_KEY")
        operator = operator_from_key(settings.chain_operator_key).address
    if (mint_to or mint_amount) and token:
        raise click.UsageError("--mint-to and --mint are for the test token only (not with --token)")
    w3 = connect(url)
    chain_id = int(w3.eth.chain_id)
    click.echo(f"chain {chain_id} at {url}; deployer {deployer.address}; operator {operator}", err=True)
    try:
        done = deploy_platform(
            w3,
            deployer,
            operator=operator,
            admin=admin,
            token=token,
            confirmations=settings.chain_confirmations if confirmations is None else confirmations,
            timeout=timeout,
        )
        if operator_gas:
            gas_tx = {"to": w3.to_checksum_address(operator), "value": operator_gas, "gas": 21_000}
            send_transaction(w3, deployer, gas_tx, timeout=timeout)
        if mint_to and mint_amount:
            mint_test_token(w3, deployer, done.token_address, mint_to, mint_amount)
    except EscrowError as exc:
        raise click.ClickException(str(exc)) from exc
    what = "test token and vault" if done.token_deployed else "vault"
    gas = sum(tx.gas_used for tx in done.transactions)
    click.echo(f"deployed the {what} ({gas} gas); the vault's code matches the committed build", err=True)
    click.echo("# set these for the API, worker and beat:", err=True)
    for name, value in (
        ("TILEWORK_CHAIN_RPC_URL", url),
        ("TILEWORK_CHAIN_ID", done.chain_id),
        ("TILEWORK_CHAIN_ESCROW_ADDRESS", done.escrow_address),
        ("TILEWORK_CHAIN_TOKEN_ADDRESS", done.token_address),
        ("TILEWORK_CHAIN_START_BLOCK", done.start_block),
    ):
        click.echo(f"{name}={value}")


@chain.command("grant-operator")
@click.argument("address")
@click.option("--revoke", is_flag=True, help="take the role away instead (the old key, after a rotation)")
def chain_grant_operator(address: str, revoke: bool) -> None:
    """Grant (or --revoke) the vault's operator role, signed with TILEWORK_CHAIN_DEPLOYER_KEY (the
    vault's admin). For rotating the operator key: grant the new address, switch
    TILEWORK_CHAIN_OPERATOR_KEY and restart, then revoke the old address."""
    from marketplace.escrow.chain import EscrowError, operator_from_key
    from marketplace.escrow.deployment import set_operator
    from marketplace.ops.chain_setup import connect

    settings = get_settings()
    if not (settings.chain_rpc_url and settings.chain_escrow_address):
        raise click.UsageError("set TILEWORK_CHAIN_RPC_URL and TILEWORK_CHAIN_ESCROW_ADDRESS")
    if not settings.chain_deployer_key:
        raise click.UsageError("set TILEWORK_CHAIN_DEPLOYER_KEY to the vault admin's private key")
    admin = operator_from_key(settings.chain_deployer_key)
    try:
        tx = set_operator(
            connect(settings.chain_rpc_url), admin, settings.chain_escrow_address, address, grant=not revoke
        )
    except EscrowError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{'revoked' if revoke else 'granted'} OPERATOR_ROLE for {address} (tx {tx.tx_hash})")


@chain.command("status")
def chain_status() -> None:
    """Chain id and block, balances (native and token) of the vault, operator and treasury, the
    operator's role, and the payouts waiting to be sent, as JSON."""
    from marketplace.db import session_factory, session_scope
    from marketplace.models import Rail
    from marketplace.ops.chain_setup import chain_status as read_status
    from marketplace.ops.chain_setup import connect
    from marketplace.payouts.repository import outbox_depth, pending_summary

    settings = get_settings()
    if not settings.chain_rpc_url:
        raise click.UsageError(
            "set TILEWORK_CHAIN_RPC_URL (the embedded chain lives inside a server process)"
        )
    status: dict[str, Any] = read_status(connect(settings.chain_rpc_url), settings)
    with session_scope(session_factory(settings)) as session:
        status["pending_payouts"] = pending_summary(session, Rail.chain)
        status["payout_outbox_depth"] = outbox_depth(session)
    click.echo(json.dumps(status, indent=2, default=str))


COMMANDS = (check, storage, chain)
