"""The embedded chain served over HTTP JSON-RPC behaves like a node for a plain web3 HTTP client."""

from __future__ import annotations

import json
import urllib.request

import pytest
from escrow_helpers import fresh_addresses
from web3 import HTTPProvider, Web3

from marketplace.escrow.chain import ChainEscrow, EscrowRevert, JobStatus
from marketplace.escrow.evm import DevChain, serve_json_rpc


def test_fund_and_pay_over_http(chain: DevChain) -> None:
    with serve_json_rpc(chain.w3) as server:
        assert server.url.startswith("http://127.0.0.1:")
        w3 = Web3(HTTPProvider(server.url))
        assert w3.is_connected()
        assert w3.eth.chain_id == chain.w3.eth.chain_id
        assert w3.eth.block_number == chain.w3.eth.block_number
        requester = chain.accounts[0]
        assert w3.eth.get_balance(requester.address) > 0
        # A CLI holding only a URL and a key funds a job.
        cli = ChainEscrow(w3, chain.escrow_address, chain.operator)
        deadline = int(w3.eth.get_block("latest")["timestamp"]) + 3600
        cli.fund_job(requester, "http-job", chain.token_address, 1000, deadline)
        assert chain.escrow().get_job("http-job").status is JobStatus.FUNDED
        worker = fresh_addresses(1)[0]
        tx = cli.bulk_pay_out("http-job", "p", [worker], [10])
        receipt = w3.eth.get_transaction_receipt(tx.tx_hash)
        assert receipt["status"] == 1 and receipt["gasUsed"] == tx.gas_used
        (event,) = cli.funded_events(0)
        assert event.args["amount"] == 1000
        # Custom errors come back as JSON-RPC revert data and are decoded by name.
        with pytest.raises(EscrowRevert) as err:
            cli.bulk_pay_out("http-job", "p", [worker], [10])
        assert err.value.name == "PayoutAlreadyDone"


def test_raw_protocol_batch_and_errors(chain: DevChain) -> None:
    with serve_json_rpc(chain.w3) as server:

        def post(payload: object) -> object:
            req = urllib.request.Request(
                server.url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())

        reply = post(
            [
                {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
                {"jsonrpc": "2.0", "id": 2, "method": "eth_chainId", "params": []},
                {"jsonrpc": "2.0", "id": 3, "method": "no_such_method", "params": []},
            ]
        )
        assert isinstance(reply, list)
        assert reply[0]["result"] == hex(chain.w3.eth.block_number)
        assert reply[1]["result"] == hex(chain.w3.eth.chain_id)
        assert "error" in reply[2]
        bad = post({"jsonrpc": "2.0", "id": 4})
        assert isinstance(bad, dict) and bad["error"]["code"] == -32600
