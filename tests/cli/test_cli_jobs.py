"""The command line against the same database: accounts, job create with progress, list, cancel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from marketplace.cli import main
from marketplace.config import Settings, get_settings


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {"DATABASE_URL": settings.effective_database_url, "TILEWORK_HOME": str(settings.home)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def _run(args: list[str], **kwargs: Any) -> Any:
    result = CliRunner().invoke(main, args, catch_exceptions=False, **kwargs)
    return result


def _token(output: str) -> str:
    return next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("token: "))


def test_cli_create_list_show_cancel(
    cli_env: dict[str, str], box_dataset: dict[str, Any], tmp_path: Path
) -> None:
    r = _run(
        [
            "user",
            "create",
            "--email",
            "req@example.org",
            "--password",
            "pw-long-enough",
            "--role",
            "requester",
        ]
    )
    assert r.exit_code == 0, r.output
    token = _token(r.output)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(box_dataset["gt"]))
    args = [
        "job", "create", "--token", token, "--type", "boxes", "--title", "Pets", "--labels", "cat,dog",
        "--data", str(box_dataset["root"]), "--gt", str(gt), "--bounty", "5000", "--currency", "usd",
        "--rail", "card", "--assignment-size", "2", "--gt-per-assignment", "1", "--json",
    ]  # fmt: skip
    r = _run(args)
    assert r.exit_code == 0, r.output
    # not a terminal: one line per intake phase, no refreshing bar
    assert "listing: 6 img" in r.stderr and "checking: 6 img" in r.stderr and "\r" not in r.stderr
    job = json.loads(r.stdout[r.stdout.index("{") :])
    assert job["status"] == "draft" and job["image_count"] == 6

    r = _run(["job", "list", "--token", token])
    assert f"job {job['id']} [draft]" in r.output
    r = _run(["job", "show", str(job["id"]), "--token", token])
    assert json.loads(r.output)["id"] == job["id"]
    r = _run(["job", "cancel", str(job["id"]), "--token", token])
    assert r.exit_code == 0 and "cancelled" in r.output
    r = _run(["job", "cancel", str(job["id"]), "--token", token])
    assert r.exit_code == 2 and "cannot be cancelled" not in r.output and "only a draft" in r.stderr


def test_cli_reports_intake_errors_cleanly(
    cli_env: dict[str, str], box_dataset: dict[str, Any], tmp_path: Path
) -> None:
    r = _run(
        ["user", "create", "--email", "r2@example.org", "--password", "pw-long-enough", "--role", "requester"]
    )
    token = _token(r.output)
    gt = tmp_path / "gt.json"
    gt.write_text("{broken")
    r = _run(
        ["job", "create", "--token", token, "--type", "boxes", "--title", "t", "--labels", "cat,dog",
         "--data", str(box_dataset["root"]), "--gt", str(gt), "--bounty", "5000", "--currency", "usd",
         "--rail", "card"]
    )  # fmt: skip
    assert r.exit_code == 2
    assert "error: GT is not valid JSON" in r.stderr


def test_worker_token_cannot_create_jobs(cli_env: dict[str, str], box_dataset: dict[str, Any]) -> None:
    r = _run(
        ["user", "create", "--email", "w@example.org", "--password", "pw-long-enough", "--role", "worker"]
    )
    r = _run(["job", "list", "--token", _token(r.output)])
    assert r.exit_code == 0
    r = _run(["job", "cancel", "1", "--token", "tw_bogus"])
    assert r.exit_code == 2 and "invalid or expired token" in r.stderr


def test_cli_creates_a_video_job_without_gt(cli_env: dict[str, str], tmp_path: Path) -> None:
    from tests.video.videos import make_video

    root = tmp_path / "clips"
    root.mkdir()
    (root / "a.mp4").write_bytes(make_video([i * 40 for i in range(40)]))
    r = _run(
        ["user", "create", "--email", "v@example.org", "--password", "pw-long-enough", "--role", "requester"]
    )
    token = _token(r.output)
    args = [
        "job", "create", "--token", token, "--type", "video_boxes", "--title", "Cars", "--labels", "car",
        "--data", str(root), "--bounty", "5000", "--currency", "usd", "--rail", "card",
        "--segment-frames", "16", "--segment-overlap", "4", "--json",
    ]  # fmt: skip
    r = _run(args)
    assert r.exit_code == 0, r.output
    job = json.loads(r.stdout[r.stdout.index("{") :])
    assert (job["type"], job["segment_count"], job["gt_per_assignment"]) == ("video_boxes", 3, 0)
    r = _run([*args[:5], "boxes", *args[6:]])  # an image job still needs its GT
    assert r.exit_code == 2 and "--gt is required" in r.stderr


def test_a_database_without_tables_is_a_clear_error_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer's first `tilework job show` before anything created the database."""
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("TILEWORK_HOME", str(home))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["job", "show", "1", "--token", "tw_anything"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "has no Tilework tables yet" in result.output and "tilework db upgrade" in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an exception
    assert "Traceback" not in result.output
