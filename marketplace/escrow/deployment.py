"""Deploying the vault (and, on development and test networks, a test token): one code path for the
embedded chain, the tests and ``tilework chain deploy`` on a real node.

The deployed code is compared with ``deployedBytecode`` of the committed build
(``marketplace/contracts_build``); immutable values are zeros in the build, so those bytes may differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3

from marketplace.escrow.chain import EscrowError, TxResult, deploy_contract, load_artifact, send_transaction

TEST_TOKEN_ARGS = ("Tilework Test USD", "tUSD", 6)
GAS_TEST_TOKEN = 2_000_000
GAS_VAULT = 4_000_000
GAS_MINT = 100_000
GAS_ROLE = 120_000

#: Local development chains: anvil/hardhat, ganache/geth --dev, eth-tester.
DEV_CHAIN_IDS = frozenset({31337, 1337, 131277322940537})
#: Public test networks: Sepolia, Holesky, Polygon Amoy, Base Sepolia, Arbitrum Sepolia, OP Sepolia.
TEST_CHAIN_IDS = frozenset({11155111, 17000, 80002, 84532, 421614, 11155420})


def is_test_chain(chain_id: int) -> bool:
    """A chain where tokens have no value, so the anyone-may-mint TestToken may be deployed."""
    return chain_id in DEV_CHAIN_IDS or chain_id in TEST_CHAIN_IDS


@dataclass
class Deployment:
    chain_id: int
    escrow_address: str
    token_address: str
    #: The block of the first deploy transaction: where the funding poller may start.
    start_block: int
    transactions: list[TxResult] = field(default_factory=list)
    token_deployed: bool = False


def deploy_test_token(w3: Web3, deployer: LocalAccount) -> tuple[str, TxResult]:
    return deploy_contract(w3, deployer, "TestToken", *TEST_TOKEN_ARGS, gas=GAS_TEST_TOKEN)


def deploy_vault(w3: Web3, deployer: LocalAccount, admin: str, operator: str) -> tuple[str, TxResult]:
    """The ``TileworkEscrow`` vault; its constructor grants ``admin`` the admin role and ``operator`` the
    operator role."""
    args = (to_checksum_address(admin), to_checksum_address(operator))
    return deploy_contract(w3, deployer, "TileworkEscrow", *args, gas=GAS_VAULT)


def mint_test_token(w3: Web3, sender: LocalAccount, token: str, to: str, amount: int) -> TxResult:
    contract = w3.eth.contract(address=to_checksum_address(token), abi=load_artifact("TestToken")["abi"])
    data = contract.functions.mint(to_checksum_address(to), amount)._encode_transaction_data()
    return send_transaction(w3, sender, {"to": to_checksum_address(token), "data": data, "gas": GAS_MINT})


def code_matches_build(code: bytes, name: str) -> bool:
    """The runtime code at an address is the committed build of ``name`` (immutables aside)."""
    build = bytes(HexBytes(load_artifact(name)["deployedBytecode"]))
    if len(code) != len(build):
        return False
    return all(a == b or b == 0 for a, b in zip(code, build, strict=True))


def verify_code(w3: Web3, address: str, name: str) -> None:
    code = bytes(w3.eth.get_code(to_checksum_address(address)))
    if not code:
        raise EscrowError(f"no contract code at {address}")
    if not code_matches_build(code, name):
        raise EscrowError(f"the code at {address} is not the committed {name} build")


def wait_for_confirmations(w3: Web3, block: int, confirmations: int, timeout: float = 600.0) -> None:
    """Until ``confirmations`` blocks are on top of ``block`` (0: mined), as the funding poller counts."""
    deadline = time.monotonic() + timeout
    while int(w3.eth.block_number) - block < confirmations:
        if time.monotonic() > deadline:
            raise EscrowError(f"block {block} did not get {confirmations} confirmations in {timeout:.0f}s")
        time.sleep(1.0)


def deploy_platform(
    w3: Web3,
    deployer: LocalAccount,
    *,
    operator: str,
    admin: str | None = None,
    token: str | None = None,
    confirmations: int = 0,
    timeout: float = 600.0,
) -> Deployment:
    """Deploy the vault (and a test token when ``token`` is None, on test chains only), wait for
    ``confirmations``, check the operator role and that the code on chain is the committed build."""
    chain_id = int(w3.eth.chain_id)
    txs: list[TxResult] = []
    token_deployed = False
    if token is None:
        if not is_test_chain(chain_id):
            raise EscrowError(
                f"chain {chain_id} is not a development or test network: give the ERC-20 to fund jobs in "
                "(--token); the test token, which anyone may mint, is deployed on test chains only"
            )
        token, tx = deploy_test_token(w3, deployer)
        txs.append(tx)
        token_deployed = True
    else:
        token = to_checksum_address(token)
        if not bytes(w3.eth.get_code(token)):
            raise EscrowError(f"no contract code at the token address {token}")
    vault, tx = deploy_vault(w3, deployer, admin or deployer.address, operator)
    txs.append(tx)
    wait_for_confirmations(w3, txs[-1].block_number, confirmations, timeout)
    verify_code(w3, vault, "TileworkEscrow")
    if token_deployed:
        verify_code(w3, token, "TestToken")
    role = w3.eth.contract(address=to_checksum_address(vault), abi=load_artifact("TileworkEscrow")["abi"])
    operator_role = role.functions.OPERATOR_ROLE().call()
    if not role.functions.hasRole(operator_role, to_checksum_address(operator)).call():
        raise EscrowError(f"the vault at {vault} did not grant the operator role to {operator}")
    return Deployment(chain_id, vault, token, txs[0].block_number, txs, token_deployed)


def balances(w3: Web3, token: str | None, accounts: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Native and token balance of each named account."""
    erc20: Any = None
    if token:
        erc20 = w3.eth.contract(address=to_checksum_address(token), abi=load_artifact("TestToken")["abi"])
    out: dict[str, dict[str, Any]] = {}
    for name, address in accounts.items():
        checksum = to_checksum_address(address)
        row: dict[str, Any] = {"address": checksum, "native_wei": int(w3.eth.get_balance(checksum))}
        if erc20 is not None:
            row["token"] = int(erc20.functions.balanceOf(checksum).call())
        out[name] = row
    return out


def set_operator(w3: Web3, admin: LocalAccount, vault: str, account: str, *, grant: bool = True) -> TxResult:
    """Grant (or revoke) the vault's operator role; ``admin`` must hold the admin role."""
    contract = w3.eth.contract(address=to_checksum_address(vault), abi=load_artifact("TileworkEscrow")["abi"])
    role = contract.functions.OPERATOR_ROLE().call()
    change = contract.functions.grantRole if grant else contract.functions.revokeRole
    data = change(role, to_checksum_address(account))._encode_transaction_data()
    return send_transaction(w3, admin, {"to": to_checksum_address(vault), "data": data, "gas": GAS_ROLE})
