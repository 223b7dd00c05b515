"""The committed bundle in marketplace/web/static/js must be what web/src builds to (web/build.mjs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
BUNDLE = REPO / "marketplace" / "web" / "static" / "js"


def test_committed_bundle_matches_the_sources(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot rebuild the browser bundle")
    if not (WEB / "node_modules" / "esbuild").is_dir():
        pytest.skip("web/node_modules absent: run `npm ci` in web/ to check the bundle")
    proc = subprocess.run(
        [node, str(WEB / "build.mjs"), str(tmp_path)], cwd=WEB, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    fresh = sorted(p.name for p in tmp_path.glob("*.js"))
    committed = sorted(p.name for p in BUNDLE.glob("*.js"))
    assert fresh == committed, "the bundle's files differ: run `node web/build.mjs` and commit the result"
    stale = [name for name in fresh if (tmp_path / name).read_bytes() != (BUNDLE / name).read_bytes()]
    assert not stale, f"stale bundle {stale}: run `node web/build.mjs` and commit the result"
