"""Main flow against anvil over real JSON-RPC (npm @foundry-rs/anvil-linux-amd64, via `npm ci`)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from escrow_helpers import fresh_addresses
from eth_account import Account
from web3 import HTTPProvider, Web3

from marketplace.escrow.chain import ChainEscrow, EscrowRevert, JobStatus, deploy_contract, send_transaction

REPO = Path(__file__).resolve().parents[2]
NPM_ANVIL = REPO / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


def anvil_binary() -> str | None:
    if NPM_ANVIL.is_file():
        return str(NPM_ANVIL)
    return shutil.which("anvil")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def anvil() -> Iterator[Web3]:
    binary = anvil_binary()
    if binary is None:
        pytest.skip("anvil not installed (run `npm ci` in contracts/ to get @foundry-rs/anvil-linux-amd64)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", str(port), "--hardfork", "prague", "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        w3 = Web3(HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 30}))
        for _ in range(200):
            if proc.poll() is not None:
                pytest.fail(f"anvil exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                if w3.is_connected():
                    break
            except Exception:
                pass
            time.sleep(0.05)
        else:
            pytest.fail("anvil did not start")
        yield w3
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_main_flow_on_anvil(anvil: Web3) -> None:
    w3 = anvil
    admin, operator, requester = (Account.create() for _ in range(3))
    for account in (admin, operator, requester):
        w3.provider.make_request("anvil_setBalance", [account.address, hex(10**21)])  # type: ignore[arg-type]

    token, _ = deploy_contract(w3, admin, "TestToken", "Tilework Test USD", "tUSD", 6, gas=2_000_000)
    vault, deployed = deploy_contract(w3, admin, "TileworkEscrow", admin.address, operator.address)
    escrow = ChainEscrow(w3, vault, operator)
    erc20 = escrow.token(token)
    mint = erc20.functions.mint(requester.address, 10**12)._encode_transaction_data()
    send_transaction(w3, admin, {"to": token, "data": mint, "gas": 100_000})

    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 3600
    start = w3.eth.block_number
    funded = escrow.fund_job(requester, "anvil-job", token, 10**9, deadline, "manifest")
    assert funded.amount == 10**9
    (event,) = escrow.funded_events(start)
    assert event.tx_hash == funded.fund.tx_hash

    workers = fresh_addresses(50, seed=3)
    results = escrow.pay_out("anvil-job", "final", workers, [10**6] * 50, batch_size=20)
    assert [r.recipients for r in results] == [20, 20, 10]
    assert all(r.tx is not None and r.tx.gas_used > 0 for r in results)
    assert erc20.functions.balanceOf(workers[-1]).call() == 10**6
    with pytest.raises(EscrowRevert) as err:  # a retried batch cannot pay twice
        escrow.bulk_pay_out("anvil-job", results[0].payout_id, workers[:20], [10**6] * 20)
    assert err.value.name == "PayoutAlreadyDone"

    escrow.store_results("anvil-job", "s3://results/anvil-job/coco.json", "results")
    escrow.complete("anvil-job")
    info = escrow.get_job("anvil-job")
    assert info.status is JobStatus.COMPLETED
    assert (info.paid, info.refunded) == (50 * 10**6, 10**9 - 50 * 10**6)
    assert erc20.functions.balanceOf(vault).call() == 0

    # Reclaim after the deadline, without the platform.
    escrow.fund_job(requester, "late-job", token, 500, deadline)
    w3.provider.make_request("evm_increaseTime", [7200])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    escrow.reclaim(requester, "late-job")
    assert escrow.get_job("late-job").status is JobStatus.RECLAIMED
