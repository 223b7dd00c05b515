"""Chain rail of the escrow engine: a thin web3.py adapter over the ``TileworkEscrow`` vault contract.

One vault holds every job; funding a job writes a record, it deploys nothing. The adapter signs
transactions locally with the operator's key (production reads the key from the environment; tests and
the embedded chain pass an account in), so it behaves the same against the embedded EVM, anvil and any
JSON-RPC node.

Conventions:

* Amounts are Python ``int`` in token base units. Floats are refused.
* Job and payout ids are 32 bytes on chain. :func:`as_bytes32` turns the platform's ids into them:
  ``bytes`` of length 32 and ``0x``-prefixed 64-hex strings are taken as they are, ``int`` is
  big-endian encoded, any other string is hashed with keccak-256 (so ``"payout:42"`` is a fine id).
* Every transaction carries an explicit gas limit (eth-tester's estimation re-executes the call and is
  5-10x slower than mining; on real chains a fixed generous limit for a known call shape is fine).
* Before sending, a call is simulated with ``eth_call`` so a revert surfaces as :class:`EscrowRevert`
  with the contract's custom error name and arguments, and no failed transaction is mined.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from importlib import resources
from typing import Any

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import function_abi_to_4byte_selector, keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError

DEFAULT_BATCH_SIZE = 500

#: Gas limits per call shape. Generous: unused gas is not charged.
GAS_APPROVE = 80_000
GAS_FUND = 250_000
GAS_STORE_RESULTS_BASE = 120_000
GAS_CLOSE = 150_000
GAS_PAYOUT_BASE = 150_000
GAS_PAYOUT_PER_RECIPIENT = 40_000

#: Largest amount one packed ``bulkPayOut`` entry can carry (the high 96 bits of the word).
MAX_PACKED_AMOUNT = 2**96 - 1
#: Entries one oversized amount may be split into before the adapter refuses it.
MAX_SPLIT = 16


class JobStatus(IntEnum):
    NONE = 0
    FUNDED = 1
    COMPLETED = 2
    CANCELLED = 3
    RECLAIMED = 4


class EscrowError(Exception):
    """Base class for chain escrow failures."""


class EscrowRevert(EscrowError):
    """The contract refused the call. ``name`` is the custom error (e.g. ``PayoutAlreadyDone``)."""

    def __init__(self, name: str, args: tuple[Any, ...] = (), data: bytes = b"") -> None:
        self.name = name
        self.error_args = args
        self.data = data
        super().__init__(f"{name}{args!r}" if args else name)


class EscrowTxFailed(EscrowError):
    """A transaction was mined but failed (status 0)."""

    def __init__(self, tx_hash: str, gas_used: int) -> None:
        self.tx_hash = tx_hash
        self.gas_used = gas_used
        super().__init__(f"transaction {tx_hash} reverted (gas used {gas_used})")


@dataclass(frozen=True)
class TxResult:
    tx_hash: str
    gas_used: int
    block_number: int


@dataclass(frozen=True)
class FundResult:
    approve: TxResult
    fund: TxResult
    #: What the vault recorded (less than requested for fee-on-transfer tokens).
    amount: int


@dataclass(frozen=True)
class PayoutBatchResult:
    payout_id: bytes
    recipients: int
    total: int
    #: None when the batch had already been executed (found done on reconciliation, not re-sent).
    tx: TxResult | None


@dataclass(frozen=True)
class JobInfo:
    job_id: bytes
    token: str
    status: JobStatus
    deadline: int
    requester: str
    funded: int
    remaining: int
    refunded: int
    manifest_hash: bytes
    results_hash: bytes
    results_url: str

    @property
    def paid(self) -> int:
        return self.funded - self.remaining - self.refunded


@dataclass(frozen=True)
class ChainEvent:
    name: str
    args: dict[str, Any]
    tx_hash: str
    log_index: int
    block_number: int

    @property
    def key(self) -> str:
        """Stable external id for an inbox row: ``<tx_hash>:<log_index>``."""
        return f"{self.tx_hash}:{self.log_index}"


# --------------------------------------------------------------------------- artifacts and ids


@cache
def load_artifact(name: str) -> dict[str, Any]:
    """ABI and bytecode of a compiled contract from ``marketplace/contracts_build``."""
    text = resources.files("marketplace").joinpath("contracts_build", f"{name}.json").read_text("utf-8")
    artifact: dict[str, Any] = json.loads(text)
    return artifact


_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")


def as_bytes32(value: bytes | str | int) -> bytes:
    """Map a platform id to the contract's ``bytes32`` (see module docstring)."""
    if isinstance(value, bool):
        raise TypeError("a bool is not an id")
    if isinstance(value, bytes | bytearray):
        if len(value) != 32:
            raise ValueError(f"expected 32 bytes, got {len(value)}")
        return bytes(value)
    if isinstance(value, int):
        if value < 0 or value >= 2**256:
            raise ValueError("id out of range for bytes32")
        return value.to_bytes(32, "big")
    if isinstance(value, str):
        if _HEX32.match(value):
            return bytes.fromhex(value[2:])
        if not value:
            raise ValueError("empty id")
        return keccak(text=value)
    raise TypeError(f"cannot make a bytes32 id from {type(value).__name__}")


def batch_payout_id(base: bytes | str | int, index: int) -> bytes:
    """Payout id of batch ``index`` of a logical payout; deterministic, so a retry reuses it."""
    return keccak(as_bytes32(base) + index.to_bytes(32, "big"))


def split_batches(
    recipients: Sequence[str], amounts: Sequence[int], size: int = DEFAULT_BATCH_SIZE
) -> list[tuple[list[str], list[int]]]:
    """Split a payout into batches of at most ``size`` recipients, preserving order."""
    if size <= 0:
        raise ValueError("batch size must be positive")
    if len(recipients) != len(amounts):
        raise ValueError("recipients and amounts differ in length")
    return [
        (list(recipients[i : i + size]), list(amounts[i : i + size])) for i in range(0, len(recipients), size)
    ]


def _check_amount(amount: Any) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"token amounts are ints in base units, got {type(amount).__name__}")
    if amount < 0:
        raise ValueError("negative amount")
    return amount


def pack_payout(recipient: str, amount: int) -> int:
    """One ``bulkPayOut`` entry: the amount in the high 96 bits, the recipient in the low 160 bits.

    ``amount`` must fit in 96 bits (:func:`pack_payouts` splits larger ones). Zero amounts and the zero
    address are packed as they are; the contract refuses them (``InvalidAmount``/``InvalidRecipient``).
    """
    amount = _check_amount(amount)
    if amount > MAX_PACKED_AMOUNT:
        raise ValueError(f"amount {amount} does not fit in 96 bits; use pack_payouts to split it")
    return (amount << 160) | int(to_checksum_address(recipient), 16)


def pack_payouts(recipients: Sequence[str], amounts: Sequence[int]) -> list[int]:
    """The packed ``bulkPayOut`` argument for a batch, in order.

    An amount above ``MAX_PACKED_AMOUNT`` (2^96 - 1, about 7.9e10 tokens of 18 decimals) becomes several
    consecutive entries to the same recipient that add up to it, at most ``MAX_SPLIT`` of them.
    """
    if len(recipients) != len(amounts):
        raise ValueError("recipients and amounts differ in length")
    if not recipients:
        raise ValueError("empty payout batch")
    packed: list[int] = []
    for recipient, raw in zip(recipients, amounts, strict=True):
        amount = _check_amount(raw)
        if amount > MAX_PACKED_AMOUNT * MAX_SPLIT:
            raise ValueError(f"amount {amount} is too large for one payout entry")
        while amount > MAX_PACKED_AMOUNT:
            packed.append(pack_payout(recipient, MAX_PACKED_AMOUNT))
            amount -= MAX_PACKED_AMOUNT
        packed.append(pack_payout(recipient, amount))
    return packed


def unpack_payout(entry: int) -> tuple[str, int]:
    """Inverse of :func:`pack_payout`: ``(recipient, amount)``."""
    return to_checksum_address((entry & (2**160 - 1)).to_bytes(20, "big")), entry >> 160


# --------------------------------------------------------------------------- revert decoding


def _error_table(abis: Sequence[Sequence[dict[str, Any]]]) -> dict[bytes, tuple[str, list[str]]]:
    table: dict[bytes, tuple[str, list[str]]] = {}
    for abi in abis:
        for item in abi:
            if item.get("type") == "error":
                types = [inp["type"] for inp in item.get("inputs", [])]
                selector = bytes(function_abi_to_4byte_selector(item))  # type: ignore[arg-type]
                table[selector] = (item["name"], types)
    table[bytes.fromhex("08c379a0")] = ("Error", ["string"])
    table[bytes.fromhex("4e487b71")] = ("Panic", ["uint256"])
    return table


@cache
def _known_errors() -> dict[bytes, tuple[str, list[str]]]:
    names = ("TileworkEscrow", "TestToken", "FeeToken", "QuirkyToken")
    return _error_table([load_artifact(n)["abi"] for n in names])


def decode_revert(data: bytes) -> EscrowRevert:
    """Turn raw revert data into an :class:`EscrowRevert` named after the custom error."""
    entry = _known_errors().get(bytes(data[:4]))
    if entry is None:
        return EscrowRevert("UnknownRevert", (HexBytes(data).to_0x_hex(),), data)
    name, types = entry
    try:
        args = tuple(abi_decode(types, data[4:]))
    except Exception:  # malformed payload: keep the name, drop the args
        args = ()
    return EscrowRevert(name, args, data)


def revert_data_from_exception(exc: BaseException) -> bytes | None:
    """Revert data from web3's ContractLogicError (JSON-RPC nodes) or eth-tester's TransactionFailed."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    # eth-tester raises TransactionFailed("execution reverted: b'...'") with the raw bytes as a repr.
    for arg in exc.args:
        if isinstance(arg, bytes | bytearray):
            return bytes(arg)
        if isinstance(arg, BaseException):
            inner = revert_data_from_exception(arg)
            if inner is not None:
                return inner
        if isinstance(arg, str):
            match = re.search(r"execution reverted: (b'.*'|b\".*\")$", arg, re.S)
            if match:
                try:
                    value = ast.literal_eval(match.group(1))
                except (ValueError, SyntaxError):
                    return None
                if isinstance(value, bytes):
                    return value
    return None


def _is_revert(exc: BaseException) -> bool:
    if isinstance(exc, ContractLogicError):
        return True
    return type(exc).__name__ == "TransactionFailed"


# --------------------------------------------------------------------------- deployment


def send_transaction(
    w3: Web3,
    sender: LocalAccount,
    tx: dict[str, Any],
    *,
    priority_fee_wei: int = 1_000_000_000,
    timeout: float = 120.0,
) -> TxResult:
    """Fill nonce, chain id and EIP-1559 fees, sign locally, send, wait, and check the status."""
    if "gas" not in tx:
        raise ValueError("pass an explicit gas limit")
    latest = w3.eth.get_block("latest")
    base_fee = int(latest.get("baseFeePerGas", 0) or 0)
    full = dict(tx)
    full.setdefault("from", sender.address)
    full.setdefault("nonce", w3.eth.get_transaction_count(sender.address, "pending"))
    full.setdefault("chainId", w3.eth.chain_id)
    full.setdefault("maxPriorityFeePerGas", priority_fee_wei)
    full.setdefault("maxFeePerGas", 2 * base_fee + priority_fee_wei)
    full.pop("gasPrice", None)
    signed = sender.sign_transaction(full)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
    result = TxResult(HexBytes(tx_hash).to_0x_hex(), int(receipt["gasUsed"]), int(receipt["blockNumber"]))
    if receipt["status"] != 1:
        raise EscrowTxFailed(result.tx_hash, result.gas_used)
    return result


def deploy_contract(
    w3: Web3, deployer: LocalAccount, name: str, *args: Any, gas: int = 4_000_000
) -> tuple[str, TxResult]:
    """Deploy a contract from ``contracts_build``; returns its address and the deploy transaction."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    data = factory.constructor(*args).data_in_transaction
    result = send_transaction(w3, deployer, {"data": data, "gas": gas})
    receipt = w3.eth.get_transaction_receipt(HexBytes(result.tx_hash))
    address = receipt["contractAddress"]
    if not address:
        raise EscrowError(f"deploying {name} produced no contract")
    return to_checksum_address(address), result


# --------------------------------------------------------------------------- the adapter


class ChainEscrow:
    """Operator-side adapter over one deployed ``TileworkEscrow`` vault."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        operator: LocalAccount,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        simulate: bool = True,
        priority_fee_wei: int = 1_000_000_000,
        receipt_timeout: float = 120.0,
    ) -> None:
        if batch_size <= 0:
            raise ValueError("batch size must be positive")
        self.w3 = w3
        self.address = to_checksum_address(address)
        self.operator = operator
        self.batch_size = batch_size
        self.simulate = simulate
        self.priority_fee_wei = priority_fee_wei
        self.receipt_timeout = receipt_timeout
        self.contract = w3.eth.contract(address=self.address, abi=load_artifact("TileworkEscrow")["abi"])
        self._token_abi = load_artifact("TestToken")["abi"]

    # ---------------------------------------------------------------- plumbing

    def token(self, address: str) -> Any:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=self._token_abi)

    def _send(self, call: Any, sender: LocalAccount, gas: int) -> TxResult:
        if self.simulate:
            try:
                call.call({"from": sender.address, "gas": gas})
            except Exception as exc:
                if not _is_revert(exc):
                    raise
                data = revert_data_from_exception(exc)
                if data is None:
                    raise EscrowRevert("Reverted", (str(exc),)) from exc
                raise decode_revert(data) from exc
        data = call._encode_transaction_data()
        return send_transaction(
            self.w3,
            sender,
            {"to": call.address, "data": data, "gas": gas},
            priority_fee_wei=self.priority_fee_wei,
            timeout=self.receipt_timeout,
        )

    # ---------------------------------------------------------------- requester side (dev tools, tests)

    def fund_job(
        self,
        requester: LocalAccount,
        job_id: bytes | str | int,
        token: str,
        amount: int,
        deadline: int,
        manifest_hash: bytes | str | int = b"\x00" * 32,
    ) -> FundResult:
        """Approve the vault and fund a job from ``requester``'s wallet (what a wallet UI would do)."""
        amount = _check_amount(amount)
        jid = as_bytes32(job_id)
        erc20 = self.token(token)
        approve = self._send(erc20.functions.approve(self.address, amount), requester, GAS_APPROVE)
        fund = self._send(
            self.contract.functions.fund(
                jid, to_checksum_address(token), amount, int(deadline), as_bytes32(manifest_hash)
            ),
            requester,
            GAS_FUND,
        )
        return FundResult(approve, fund, self.get_job(jid).funded)

    def mint_test_tokens(self, account: LocalAccount, token: str, amount: int) -> TxResult:
        """Development chains only: ``TestToken.mint`` (anyone may mint it) to ``account``."""
        return self._send(self.token(token).functions.mint(account.address, int(amount)), account, 150_000)

    def reclaim(self, requester: LocalAccount, job_id: bytes | str | int) -> TxResult:
        """After the deadline the requester takes the remainder back, without the platform."""
        return self._send(self.contract.functions.reclaim(as_bytes32(job_id)), requester, GAS_CLOSE)

    # ---------------------------------------------------------------- operator side

    def bulk_pay_out(
        self,
        job_id: bytes | str | int,
        payout_id: bytes | str | int,
        recipients: Sequence[str],
        amounts: Sequence[int],
    ) -> TxResult:
        """One batch. Reverts with ``PayoutAlreadyDone`` if this payout id was ever executed.

        The pairs are packed into one word each (:func:`pack_payouts`); an amount above 2^96 - 1 goes out
        as several entries to the same recipient. The batch total is sent along; the contract books it
        before paying and reverts unless the entries add up to it.
        """
        packed = pack_payouts(recipients, amounts)
        total = sum(entry >> 160 for entry in packed)
        gas = GAS_PAYOUT_BASE + GAS_PAYOUT_PER_RECIPIENT * len(packed)
        call = self.contract.functions.bulkPayOut(as_bytes32(job_id), as_bytes32(payout_id), packed, total)
        return self._send(call, self.operator, gas)

    def pay_out(
        self,
        job_id: bytes | str | int,
        payout_key: bytes | str | int,
        recipients: Sequence[str],
        amounts: Sequence[int],
        batch_size: int | None = None,
    ) -> list[PayoutBatchResult]:
        """Pay any number of recipients in batches of at most ``batch_size`` (default: the adapter's).

        Batch ``i`` uses payout id :func:`batch_payout_id` ``(payout_key, i)``. Batches already done on
        chain are skipped, so calling this again after a crash or timeout finishes the payout without
        paying anybody twice (the contract would refuse anyway). Keep the split stable across retries:
        same recipients, same order, same batch size.
        """
        results: list[PayoutBatchResult] = []
        for index, (batch_to, batch_amounts) in enumerate(
            split_batches(recipients, amounts, batch_size or self.batch_size)
        ):
            pid = batch_payout_id(payout_key, index)
            total = sum(batch_amounts)
            if self.is_payout_done(pid):
                results.append(PayoutBatchResult(pid, len(batch_to), total, None))
                continue
            tx = self.bulk_pay_out(job_id, pid, batch_to, batch_amounts)
            results.append(PayoutBatchResult(pid, len(batch_to), total, tx))
        return results

    def is_payout_done(self, payout_id: bytes | str | int) -> bool:
        return bool(self.contract.functions.payoutDone(as_bytes32(payout_id)).call())

    def store_results(self, job_id: bytes | str | int, url: str, results_hash: bytes | str | int) -> TxResult:
        gas = GAS_STORE_RESULTS_BASE + 25_000 * (len(url.encode()) // 32 + 1)
        call = self.contract.functions.storeResults(as_bytes32(job_id), url, as_bytes32(results_hash))
        return self._send(call, self.operator, gas)

    def complete(self, job_id: bytes | str | int) -> TxResult:
        return self._send(self.contract.functions.complete(as_bytes32(job_id)), self.operator, GAS_CLOSE)

    def cancel(self, job_id: bytes | str | int) -> TxResult:
        return self._send(self.contract.functions.cancel(as_bytes32(job_id)), self.operator, GAS_CLOSE)

    # ---------------------------------------------------------------- reads

    def get_job(self, job_id: bytes | str | int) -> JobInfo:
        jid = as_bytes32(job_id)
        raw = self.contract.functions.getJob(jid).call()
        (token, status, deadline, requester, funded, remaining, refunded, manifest, rhash, url) = raw
        return JobInfo(
            job_id=jid,
            token=to_checksum_address(token),
            status=JobStatus(status),
            deadline=int(deadline),
            requester=to_checksum_address(requester),
            funded=int(funded),
            remaining=int(remaining),
            refunded=int(refunded),
            manifest_hash=bytes(manifest),
            results_hash=bytes(rhash),
            results_url=str(url),
        )

    def has_role(self, role: str, account: str) -> bool:
        role_id = keccak(text=role) if role != "DEFAULT_ADMIN_ROLE" else b"\x00" * 32
        return bool(self.contract.functions.hasRole(role_id, to_checksum_address(account)).call())

    def events(self, name: str, from_block: int, to_block: int | str = "latest") -> list[ChainEvent]:
        """Decoded ``name`` events of this vault in ``[from_block, to_block]``, in chain order."""
        event = getattr(self.contract.events, name)
        logs = event.get_logs(from_block=from_block, to_block=to_block)
        return [
            ChainEvent(
                name=name,
                args=dict(log["args"]),
                tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(),
                log_index=int(log["logIndex"]),
                block_number=int(log["blockNumber"]),
            )
            for log in sorted(logs, key=lambda lg: (lg["blockNumber"], lg["logIndex"]))
        ]

    def funded_events(self, from_block: int, to_block: int | str = "latest") -> list[ChainEvent]:
        """``JobFunded`` events; ``args`` holds jobId, requester, token, amount, deadline, manifestHash."""
        return self.events("JobFunded", from_block, to_block)

    def iter_funded_events(self, from_block: int, to_block: int, step: int = 2_000) -> Iterator[ChainEvent]:
        """Like :meth:`funded_events` but in block windows of ``step`` (nodes cap ``eth_getLogs`` ranges)."""
        start = from_block
        while start <= to_block:
            end = min(start + step - 1, to_block)
            yield from self.funded_events(start, end)
            start = end + 1


def operator_from_key(private_key: str) -> LocalAccount:
    """The operator account from a hex private key (production reads it from the environment)."""
    from eth_account import Account

    account: LocalAccount = Account.from_key(private_key)
    return account


__all__: list[str] = [
    "ChainEscrow",
    "ChainEvent",
    "EscrowError",
    "EscrowRevert",
    "EscrowTxFailed",
    "FundResult",
    "JobInfo",
    "JobStatus",
    "PayoutBatchResult",
    "TxResult",
    "as_bytes32",
    "batch_payout_id",
    "decode_revert",
    "deploy_contract",
    "load_artifact",
    "operator_from_key",
    "pack_payout",
    "pack_payouts",
    "revert_data_from_exception",
    "send_transaction",
    "split_batches",
    "unpack_payout",
]
