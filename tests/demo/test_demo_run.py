"""A short ``tilework demo`` on embedded defaults, in a fresh folder, as a newcomer would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_short_demo_on_embedded_defaults(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TILEWORK_", "DATABASE_URL", "REDIS_URL"))
    }
    env["HOME"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "marketplace.cli", "demo", "--images", "40", "--workers", "8"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (tmp_path / ".tilework" / "tilework.db").is_file()  # SQLite, local storage: nothing configured
    assert report["images"] == 40
    assert report["assignments_accepted"] >= 1
    assert report["merged_accuracy"] > 0.6
    # money: every base unit is accounted for, and only integers move
    assert report["paid"] + report["fees"] + report["refunded"] == report["funded"]
    assert report["gas_funding"] > 0
    assert report["results_on_chain"] is True  # the vault holds the hash of the downloaded results
    assert "accuracy" in proc.stderr and "wall time" in proc.stderr
