"""``tilework job results JOB -o DIR`` downloads a completed job's files for its requester."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from marketplace.cli import main
from marketplace.config import Settings, get_settings
from tests.conftest import UserFactory
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, submit_ok


def test_cli_downloads_results(
    client: TestClient,
    quality_job: QualityJobFactory,
    make_user: UserFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    job = quality_job("boxes", data=2, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    body = claim_ok(client, worker, job["id"])
    submit_ok(client, worker, body["assignment_id"], answer_all(settings, body))
    monkeypatch.setenv("DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("TILEWORK_HOME", str(settings.home))
    monkeypatch.setenv("TILEWORK_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()
    try:
        out = tmp_path / "out"
        args = ["job", "results", str(job["id"]), "-o", str(out), "--token", job["requester"]["token"]]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert json.loads((out / "instances.json").read_text())["categories"][0]["name"] == "cat"
        denied = CliRunner().invoke(main, [*args[:-1], worker["token"]])
        assert denied.exit_code != 0
    finally:
        get_settings.cache_clear()
