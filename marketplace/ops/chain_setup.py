"""The chain rail for an operator: is the configured vault really ours and usable, and what it holds.

``inspect_deployment`` is the chain part of ``tilework check``: contract code at the configured
addresses (the vault's compared with the committed build), the operator key present, holding the
operator role and some gas. ``chain_status`` is ``tilework chain status``.
"""

from __future__ import annotations

from typing import Any

from eth_utils import keccak, to_checksum_address
from web3 import HTTPProvider, Web3

from marketplace.config import Settings
from marketplace.escrow.chain import load_artifact, operator_from_key
from marketplace.escrow.deployment import balances, code_matches_build
from marketplace.ops.findings import Finding, ok_finding

PART = "chain"

OPERATOR_ROLE = keccak(text="OPERATOR_ROLE")


def connect(rpc_url: str, timeout: float = 60.0) -> Web3:
    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


def _vault(w3: Web3, address: str) -> Any:
    return w3.eth.contract(address=to_checksum_address(address), abi=load_artifact("TileworkEscrow")["abi"])


def inspect_deployment(w3: Web3, settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    vault_ok = False
    escrow = settings.chain_escrow_address
    if not escrow:
        found.append(Finding(PART, "escrow_address_missing", "TILEWORK_CHAIN_ESCROW_ADDRESS is not set"))
    else:
        code = bytes(w3.eth.get_code(to_checksum_address(escrow)))
        if not code:
            found.append(
                Finding(PART, "escrow_no_code", f"no contract at TILEWORK_CHAIN_ESCROW_ADDRESS {escrow}")
            )
        elif not code_matches_build(code, "TileworkEscrow"):
            found.append(
                Finding(
                    PART, "escrow_code_mismatch", f"the contract at {escrow} is not the TileworkEscrow build"
                )
            )
        else:
            vault_ok = True
            found.append(ok_finding(PART, f"vault at {escrow} matches the committed build"))
    token = settings.chain_token_address
    if not token:
        found.append(Finding(PART, "token_address_missing", "TILEWORK_CHAIN_TOKEN_ADDRESS is not set"))
    elif not bytes(w3.eth.get_code(to_checksum_address(token))):
        found.append(Finding(PART, "token_no_code", f"no contract at TILEWORK_CHAIN_TOKEN_ADDRESS {token}"))
    else:
        found.append(ok_finding(PART, f"token at {token}"))
    if not settings.chain_operator_key:
        found.append(Finding(PART, "operator_key_missing", "TILEWORK_CHAIN_OPERATOR_KEY is not set"))
        return found
    operator = operator_from_key(settings.chain_operator_key).address
    if vault_ok and escrow:
        if not _vault(w3, escrow).functions.hasRole(OPERATOR_ROLE, operator).call():
            found.append(
                Finding(
                    PART, "operator_role_missing", f"the operator {operator} lacks OPERATOR_ROLE on {escrow}"
                )
            )
        else:
            found.append(ok_finding(PART, f"operator {operator} holds OPERATOR_ROLE"))
    if int(w3.eth.get_balance(operator)) == 0:
        found.append(Finding(PART, "operator_no_gas", f"the operator {operator} has no native coin for gas"))
    return found


def chain_status(w3: Web3, settings: Settings) -> dict[str, Any]:
    """Chain id and block, the vault, the token, the operator's and treasury's balances and roles."""
    status: dict[str, Any] = {"chain_id": int(w3.eth.chain_id), "block": int(w3.eth.block_number)}
    accounts: dict[str, str] = {}
    escrow = settings.chain_escrow_address
    if escrow:
        accounts["vault"] = to_checksum_address(escrow)
    if settings.chain_operator_key:
        accounts["operator"] = operator_from_key(settings.chain_operator_key).address
    if settings.chain_treasury_address:
        accounts["treasury"] = to_checksum_address(settings.chain_treasury_address)
    status["escrow_address"] = escrow
    status["token_address"] = settings.chain_token_address
    status["balances"] = balances(w3, settings.chain_token_address, accounts)
    if escrow and bytes(w3.eth.get_code(to_checksum_address(escrow))):
        vault = _vault(w3, escrow)
        status["roles"] = {
            name: {"operator_role": bool(vault.functions.hasRole(OPERATOR_ROLE, address).call())}
            for name, address in accounts.items()
            if name != "vault"
        }
    return status
