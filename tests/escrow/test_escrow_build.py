"""The committed ABI+bytecode in marketplace/contracts_build must be what the sources compile to."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"
BUILD = REPO / "marketplace" / "contracts_build"


def test_committed_build_matches_sources(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed: cannot recompile the contracts")
    if not (CONTRACTS / "node_modules" / "solc").is_dir():
        pytest.skip("contracts/node_modules absent: run `npm ci` in contracts/ to check the build")
    proc = subprocess.run(
        [node, str(CONTRACTS / "compile.js"), str(tmp_path)],
        cwd=CONTRACTS,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    fresh = sorted(p.name for p in tmp_path.glob("*.json"))
    committed = sorted(p.name for p in BUILD.glob("*.json"))
    assert fresh == committed, "set of contracts differs: run `node contracts/compile.js`"
    stale = [name for name in fresh if (tmp_path / name).read_bytes() != (BUILD / name).read_bytes()]
    assert not stale, f"stale build output {stale}: run `node contracts/compile.js` and commit the result"
