"""Helpers shared by the escrow tests."""

from __future__ import annotations

from eth_utils import keccak, to_checksum_address


def fresh_addresses(n: int, seed: int = 0) -> list[str]:
    """Deterministic, never-funded addresses with realistic (high-entropy) bytes."""
    return [to_checksum_address(keccak(f"worker-{seed}-{i}".encode())[12:]) for i in range(n)]
