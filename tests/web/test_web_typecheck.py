"""web/src and web/test type-check: `tsc --noEmit` with web/tsconfig.json (strict) and web/test/tsconfig.json
(Node's types for the unit tests) finds no error (`npm run check`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


def test_browser_sources_type_check() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot type-check the browser sources")
    tsc = WEB / "node_modules" / "typescript" / "bin" / "tsc"
    if not tsc.is_file():
        pytest.skip("web/node_modules absent: run `npm ci` in web/ to type-check the browser sources")
    for project in (WEB, WEB / "test"):
        proc = subprocess.run(
            [node, str(tsc), "--noEmit", "-p", str(project)],
            cwd=WEB,
            capture_output=True,
            text=True,
            timeout=300,
        )
        found = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"tsc found type errors in {project.name}/ (`npm run check`):\n{found}"
