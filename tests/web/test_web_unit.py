"""The browser app's unit tests (web/test/*.test.ts: geometry, undo history, the box/point/polygon tools'
gestures and drawing, money formatting) pass under Node's test runner (`npm test` in web/)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


def test_browser_unit_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot run the browser unit tests")
    if not (WEB / "node_modules" / "esbuild").is_dir():
        pytest.skip("web/node_modules absent: run `npm ci` in web/ to run the browser unit tests")
    proc = subprocess.run(
        [node, str(WEB / "test" / "run.mjs")], cwd=WEB, capture_output=True, text=True, timeout=300
    )
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"web unit tests failed (`npm test` in web/):\n{report}"
    assert "# fail 0" in report and "# pass 0" not in report, report
