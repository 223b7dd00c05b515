"""The embedded chain: an in-process EVM (eth-tester + py-evm, Prague rules) with the vault deployed.

:func:`start_dev_chain` returns a :class:`DevChain` with a ``Web3`` instance, funded dev accounts, a
mintable ``TestToken`` and a ``TileworkEscrow`` whose operator role is granted to ``operator``. It is
the default when no JSON-RPC URL is configured, and what the tests use.

:func:`serve_json_rpc` makes that chain reachable the way a real node is: it serves standard JSON-RPC
over HTTP on 127.0.0.1 so a CLI (``Web3(HTTPProvider(url))``) or a browser wallet can fund a job.

The dev accounts use eth-tester's well-known private keys (1, 2, 3, ...). They are public: never use
them anywhere but a throwaway chain.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, Web3
from web3.middleware import combine_middleware

from marketplace.escrow.chain import ChainEscrow, revert_data_from_exception
from marketplace.escrow.deployment import deploy_test_token, deploy_vault, mint_test_token

DEV_GAS_LIMIT = 60_000_000
DEV_TOKEN_SUPPLY = 10**27  # per requester account, in base units


@dataclass
class DevChain:
    w3: Web3
    tester: EthereumTester
    escrow_address: str
    token_address: str
    admin: LocalAccount
    operator: LocalAccount
    #: Further funded accounts (requesters, workers); each holds TestToken when ``mint`` was set.
    accounts: list[LocalAccount] = field(default_factory=list)

    def escrow(self, **kwargs: Any) -> ChainEscrow:
        """A :class:`ChainEscrow` adapter acting as the operator."""
        return ChainEscrow(self.w3, self.escrow_address, self.operator, **kwargs)

    def now(self) -> int:
        """Timestamp of the latest block."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def time_travel(self, seconds: int) -> int:
        """Mine a block ``seconds`` after the latest one; returns the new timestamp."""
        target = self.now() + seconds
        self.tester.time_travel(target)
        return target

    def snapshot(self) -> Any:
        return self.tester.take_snapshot()

    def revert(self, snapshot: Any) -> None:
        self.tester.revert_to_snapshot(snapshot)


class SerializedTesterProvider(EthereumTesterProvider):
    """eth-tester is not thread-safe; the embedded chain is used by API threads, the beat thread and
    the JSON-RPC server at once, so every request to it goes through one lock (as a node would)."""

    def __init__(self, tester: EthereumTester) -> None:
        super().__init__(tester)
        self._lock = threading.RLock()

    def make_request(self, method: Any, params: Any) -> Any:
        with self._lock:
            return super().make_request(method, params)


def dev_keys(count: int) -> list[LocalAccount]:
    """eth-tester's default accounts (private keys 1..count) as signing accounts."""
    return [Account.from_key(i.to_bytes(32, "big")) for i in range(1, count + 1)]


def start_dev_chain(num_accounts: int = 10, mint: int = DEV_TOKEN_SUPPLY) -> DevChain:
    """Start an in-process chain, deploy TestToken and TileworkEscrow, grant the operator role.

    Account 0 is the admin/deployer, account 1 the operator, the rest go to ``accounts`` and receive
    ``mint`` TestToken each.
    """
    if num_accounts < 2:
        raise ValueError("need at least an admin and an operator account")
    params = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": DEV_GAS_LIMIT})
    state = PyEVMBackend.generate_genesis_state(num_accounts=num_accounts)
    tester = EthereumTester(PyEVMBackend(genesis_parameters=params, genesis_state=state))
    w3 = Web3(SerializedTesterProvider(tester))
    keys = dev_keys(num_accounts)
    admin, operator, others = keys[0], keys[1], keys[2:]

    token_address, _ = deploy_test_token(w3, admin)
    escrow_address, _ = deploy_vault(w3, admin, admin.address, operator.address)
    if mint:
        for account in others:
            mint_test_token(w3, admin, token_address, account.address, mint)
    return DevChain(w3, tester, escrow_address, token_address, admin, operator, list(others))


# --------------------------------------------------------------------------- JSON-RPC over HTTP


def _to_rpc(value: Any) -> Any:
    """eth-tester results use Python ints and bytes; JSON-RPC wants 0x quantities and data."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return HexBytes(value).to_0x_hex()
    if isinstance(value, dict):
        return {k: _to_rpc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_rpc(v) for v in value]
    return value


class JsonRpcServer:
    """JSON-RPC 2.0 over HTTP for an in-process eth-tester chain. One request at a time (eth-tester is
    not thread-safe); batches are supported. Reverts come back as ``{"code": 3, "data": "0x..."}`` like
    geth and anvil, so web3 clients decode custom errors as usual."""

    def __init__(self, w3: Web3, host: str = "127.0.0.1", port: int = 0) -> None:
        provider = w3.provider
        if not isinstance(provider, EthereumTesterProvider):
            raise TypeError("serve_json_rpc needs a Web3 over EthereumTesterProvider")
        self._lock = threading.Lock()
        self._request = combine_middleware(
            middleware=tuple(provider._middleware), w3=w3, provider_request_fn=provider.make_request
        )
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    payload = json.loads(body)
                except ValueError:
                    reply: Any = _error(None, -32700, "parse error")
                else:
                    if isinstance(payload, list):
                        reply = [server.handle(item) for item in payload] or _error(None, -32600, "empty")
                    else:
                        reply = server.handle(payload)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(data)

            def do_OPTIONS(self) -> None:  # noqa: N802 - CORS preflight from browser wallets/pages
                self.send_response(204)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "Content-Type")
                self.end_headers()

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="tilework-evm-rpc", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"

    def handle(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, -32600, "invalid request")
        req_id = request.get("id")
        method = request["method"]
        params = request.get("params") or []
        try:
            with self._lock:
                response = self._request(method, params)
        except Exception as exc:
            data = revert_data_from_exception(exc)
            if type(exc).__name__ == "TransactionFailed" or data is not None:
                err = _error(req_id, 3, "execution reverted")
                if data is not None:
                    err["error"]["data"] = HexBytes(data).to_0x_hex()
                return err
            return _error(req_id, -32000, str(exc) or type(exc).__name__)
        if "error" in response:
            return {"jsonrpc": "2.0", "id": req_id, "error": response["error"]}
        return {"jsonrpc": "2.0", "id": req_id, "result": _to_rpc(response.get("result"))}

    def start(self) -> JsonRpcServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> JsonRpcServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _error(req_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": {"code": code, "message": message}}


def serve_json_rpc(w3: Web3, host: str = "127.0.0.1", port: int = 0) -> JsonRpcServer:
    """Serve the in-process chain over HTTP JSON-RPC (port 0 picks a free port); returns the running
    server. Use ``server.url`` with ``Web3(HTTPProvider(...))`` and ``server.close()`` to stop."""
    return JsonRpcServer(w3, host, port).start()
