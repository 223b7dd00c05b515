"""Gas of the Tilework escrow vault on the embedded chain, beside HUMAN Protocol's per-job Escrow.

Usage: python benchmarks/gas.py [--human-core PATH] [--no-human]

* launch: ``approve`` + ``fund`` of a new job in the vault (nothing is deployed per job);
* payouts: one ``bulkPayOut`` to 10, 100 and 500 fresh recipients (never held the token, so each
  transfer pays the 20k zero-to-nonzero SSTORE), realistic random addresses and 6-decimal amounts;
  per-recipient = transaction gas / recipients (base cost included).

HUMAN Protocol (npm ``@human-protocol/core``, artifacts as published): its ``Escrow`` is deployed per job
and set up with three oracles (fees 0 through its KVStore), funded by a token transfer, then paid with
``storeResults`` (reserve) + ``bulkPayOut`` (capped at 100 recipients). Both sides use the same OZ 5
ERC-20 TestToken so only the escrow code differs. If the package cannot be installed, its figures are
``na``. The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from marketplace.escrow.chain import ChainEscrow, TxResult, send_transaction
from marketplace.escrow.evm import DevChain, start_dev_chain

HUMAN_VERSION = "6.0.0"
SIZES = (10, 100, 500)
AMOUNT = 2_500_000  # 2.5 tUSD


def fresh(n: int, tag: str) -> list[str]:
    return [to_checksum_address(keccak(f"{tag}-{i}".encode())[12:]) for i in range(n)]


def ours(chain: DevChain) -> dict[str, int]:
    escrow = ChainEscrow(chain.w3, chain.escrow_address, chain.operator, simulate=False)
    requester = chain.accounts[0]
    out: dict[str, int] = {}
    funded = escrow.fund_job(requester, "bench-job", chain.token_address, 10**12, chain.now() + 86_400, "m")
    out["approve"] = funded.approve.gas_used
    out["fund"] = funded.fund.gas_used
    for n in SIZES:
        tx = escrow.bulk_pay_out("bench-job", f"bench-{n}", fresh(n, f"ours-{n}"), [AMOUNT] * n)
        out[f"payout_{n}"] = tx.gas_used
    out["store_results"] = escrow.store_results(
        "bench-job", "s3://bucket/results/bench-job.json", "h"
    ).gas_used
    out["complete"] = escrow.complete("bench-job").gas_used
    return out


# --------------------------------------------------------------------------- HUMAN Protocol


def find_human_core(explicit: str | None) -> Path | None:
    candidates = [explicit, os.environ.get("TILEWORK_HUMAN_CORE")]
    for cand in candidates:
        if cand and (Path(cand) / "artifacts" / "contracts" / "Escrow.sol").is_dir():
            return Path(cand)
    npm = shutil.which("npm")
    if npm is None:
        return None
    target = Path(tempfile.gettempdir()) / "tilework-bench-human-core"
    pkg = target / "node_modules" / "@human-protocol" / "core"
    if not pkg.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(target),
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    f"@human-protocol/core@{HUMAN_VERSION}",
                ],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.SubprocessError, OSError):
            return None
    return pkg if (pkg / "artifacts" / "contracts" / "Escrow.sol").is_dir() else None


def _artifact(core: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (core / "artifacts" / "contracts" / f"{name}.sol" / f"{name}.json").read_text()
    )
    return data


def _deploy(chain: DevChain, sender: Any, art: dict[str, Any], *args: Any) -> tuple[Any, TxResult]:
    factory = chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    result = send_transaction(
        chain.w3, sender, {"data": factory.constructor(*args).data_in_transaction, "gas": 8_000_000}
    )
    address = chain.w3.eth.get_transaction_receipt(result.tx_hash)["contractAddress"]
    return chain.w3.eth.contract(address=address, abi=art["abi"]), result


def _call(chain: DevChain, sender: Any, fn: Any, gas: int) -> TxResult:
    return send_transaction(
        chain.w3, sender, {"to": fn.address, "data": fn._encode_transaction_data(), "gas": gas}
    )


def human(chain: DevChain, core: Path) -> dict[str, int]:
    admin, launcher = chain.admin, chain.accounts[0]
    oracles = chain.accounts[1:4]
    token = ChainEscrow(chain.w3, chain.escrow_address, chain.operator).token(chain.token_address)
    kv, _ = _deploy(chain, admin, _artifact(core, "KVStore"))
    for oracle in oracles:
        _call(chain, oracle, kv.functions.set("fee", "0"), 200_000)
    out: dict[str, int] = {}
    escrows = []
    for n in SIZES:
        if n > 100:  # BULK_MAX_COUNT = 100 in HUMAN's Escrow
            continue
        esc, deployed = _deploy(
            chain,
            launcher,
            _artifact(core, "Escrow"),
            chain.token_address,
            launcher.address,
            admin.address,
            86_400,
            kv.address,
        )
        funded = _call(chain, launcher, token.functions.transfer(esc.address, 10**12), 100_000)
        setup = _call(
            chain,
            launcher,
            esc.functions.setup(
                oracles[0].address,
                oracles[1].address,
                oracles[2].address,
                "s3://bucket/manifest.json",
                "manifest-hash",
            ),
            1_000_000,
        )
        out["launch"] = deployed.gas_used + funded.gas_used + setup.gas_used
        out["deploy"], out["transfer"], out["setup"] = deployed.gas_used, funded.gas_used, setup.gas_used
        escrows.append(esc)
        reserve = _call(
            chain, oracles[1], esc.functions.storeResults("s3://bucket/i.json", "ih", AMOUNT * n), 500_000
        )
        pay = esc.functions.bulkPayOut(
            fresh(n, f"human-{n}"), [AMOUNT] * n, "s3://bucket/final.json", "final-hash", f"payout-{n}", False
        )
        tx = _call(chain, oracles[0], pay, 4_000_000)
        out[f"payout_{n}"] = tx.gas_used
        out[f"reserve_{n}"] = reserve.gas_used
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--human-core", help="path to an installed @human-protocol/core package")
    parser.add_argument("--no-human", action="store_true", help="skip the HUMAN Protocol comparison")
    args = parser.parse_args()

    chain = start_dev_chain(num_accounts=6)
    mine = ours(chain)
    launch = mine["approve"] + mine["fund"]
    print("Tilework vault (one contract, many jobs)")
    print(f"  launch: approve {mine['approve']} + fund {mine['fund']} = {launch} gas (no deploy per job)")
    for n in SIZES:
        total = mine[f"payout_{n}"]
        print(f"  bulkPayOut {n:>3} fresh recipients: {total:>10} gas, {total / n:>9.0f} per recipient")
    print(f"  storeResults {mine['store_results']}  complete (with refund) {mine['complete']}")

    theirs: dict[str, int] = {}
    core = None if args.no_human else find_human_core(args.human_core)
    if core is not None:
        try:
            theirs = human(chain, core)
        except Exception as exc:  # report, do not fail the benchmark
            print(f"HUMAN Protocol comparison failed: {exc}")
            theirs = {}
    if theirs:
        print(f"HUMAN Protocol Escrow @human-protocol/core {HUMAN_VERSION} (one contract per job)")
        print(
            f"  launch: deploy {theirs['deploy']} + fund transfer {theirs['transfer']} + setup "
            f"{theirs['setup']} = {theirs['launch']} gas"
        )
        for n in SIZES:
            if f"payout_{n}" in theirs:
                total = theirs[f"payout_{n}"]
                print(
                    f"  bulkPayOut {n:>3} fresh recipients: {total:>10} gas, {total / n:>9.0f} per recipient "
                    f"(+ storeResults reserve {theirs[f'reserve_{n}']})"
                )
            else:
                print(f"  bulkPayOut {n:>3}: not possible (at most 100 recipients per call)")
    else:
        print("HUMAN Protocol comparison: na")

    human_launch = str(theirs["launch"]) if theirs else "na"
    human_100 = str(round(theirs["payout_100"] / 100)) if theirs else "na"
    print(
        f"launch_gas={launch} per_recipient_100={round(mine['payout_100'] / 100)} "
        f"per_recipient_500={round(mine['payout_500'] / 500)} human_launch_gas={human_launch} "
        f"human_per_recipient_100={human_100}"
    )


if __name__ == "__main__":
    main()
