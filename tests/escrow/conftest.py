"""Escrow fixtures: one embedded chain per session, rolled back to a snapshot after every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from marketplace.escrow.chain import ChainEscrow, deploy_contract
from marketplace.escrow.evm import DevChain, start_dev_chain


@pytest.fixture(scope="session")
def _session_chain() -> tuple[DevChain, str]:
    chain = start_dev_chain(num_accounts=10)
    # A fee-on-transfer token (1% burnt per transfer), minted to every requester.
    fee_token, _ = deploy_contract(chain.w3, chain.admin, "FeeToken", 100, gas=2_000_000)
    escrow = chain.escrow()
    for account in chain.accounts:
        escrow._send(escrow.token(fee_token).functions.mint(account.address, 10**30), chain.admin, 100_000)
    return chain, fee_token


@pytest.fixture
def chain(_session_chain: tuple[DevChain, str]) -> Iterator[DevChain]:
    dev = _session_chain[0]
    snap = dev.snapshot()
    try:
        yield dev
    finally:
        dev.revert(snap)


@pytest.fixture
def fee_token(_session_chain: tuple[DevChain, str], chain: DevChain) -> str:
    return _session_chain[1]


@pytest.fixture
def escrow(chain: DevChain) -> ChainEscrow:
    return chain.escrow()
