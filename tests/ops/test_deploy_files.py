"""docker-compose.yml, the Dockerfile and constraints.txt, checked without Docker (none runs here):
their structure, and every ``tilework`` command they run parsed by the real command line."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest

from marketplace.cli import main

REPO = Path(__file__).resolve().parents[2]
LONG_RUNNING = ("postgres", "redis", "s3", "api", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def dockerfile() -> list[str]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def parse_tilework(argv: list[str]) -> None:
    """Resolve and parse ``tilework …`` down to the leaf command, as click would before running it."""
    assert argv[0] == "tilework", argv
    ctx = main.make_context("tilework", list(argv[1:]), resilient_parsing=False)
    group: click.Group = main
    args = ctx.protected_args + ctx.args
    while True:
        name, command, rest = group.resolve_command(ctx, args)
        assert command is not None, argv
        ctx = command.make_context(name or "", list(rest), parent=ctx)
        if not isinstance(command, click.Group):
            return
        group, args = command, ctx.protected_args + ctx.args


def test_long_running_services_restart_and_are_health_checked(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in LONG_RUNNING:
        assert services[name]["restart"] == "unless-stopped", name
    for name in ("postgres", "redis", "s3", "worker", "beat"):
        assert services[name]["healthcheck"]["test"], name
    assert any(line.startswith("HEALTHCHECK") and "/health" in line for line in dockerfile())  # the api's


def test_init_runs_first_and_anvil_is_dev_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("api", "worker", "beat"):
        assert services[name]["depends_on"]["init"] == {"condition": "service_completed_successfully"}
    assert services["chain"]["profiles"] == ["dev"]
    assert not any("chain" in (s.get("depends_on") or {}) for s in services.values())
    assert services["init"]["restart"] == "no"
    steps = [shlex.split(step) for step in services["init"]["command"][-1].split("&&")]
    assert [s[:3] for s in steps] == [
        ["tilework", "db", "upgrade"],
        ["tilework", "storage", "init"],
        ["tilework", "check"],
    ]


def test_every_tilework_command_parses(compose: dict[str, Any]) -> None:
    commands = []
    for service in compose["services"].values():
        command = service.get("command")
        if isinstance(command, list) and command[0] == "tilework":
            commands.append(command)
        elif isinstance(command, list) and command[:2] == ["sh", "-c"]:
            commands += [shlex.split(step) for step in command[2].split("&&")]
    cmd = next(line for line in dockerfile() if line.startswith("CMD"))
    commands.append(json.loads(cmd.removeprefix("CMD").strip()))
    assert len(commands) >= 5
    for argv in commands:
        parse_tilework(argv)


def test_image_is_multi_stage_non_root_and_pinned() -> None:
    lines = dockerfile()
    assert sum(line.startswith("FROM ") for line in lines) >= 2
    user = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in ("root", "0")
    assert any("-c constraints.txt" in line for line in lines)


def test_constraints_pin_every_runtime_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name] = version
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt (run tools/freeze_constraints.py)"
    for test_only in ("pytest", "schemathesis", "mypy"):
        assert test_only not in pins
