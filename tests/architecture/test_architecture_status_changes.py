"""A status changes only through its domain's ``states.py`` (the transition tables).

Walks the source of ``marketplace/`` and fails on any other assignment of a ``status``: an attribute
assignment (``row.status = …``) or the ``SET`` of an SQL ``UPDATE`` (``update(…).values(status=…)`` or
a ``{"status": …}`` dict). Creating a row with its first status is not a change and is allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

MARKETPLACE = Path(__file__).resolve().parents[2] / "marketplace"


def _is_update(node: ast.expr) -> bool:
    """Whether a ``….values`` receiver is a chain that starts with ``update(…)``."""
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "update":
                return True
            node = func
        else:
            node = node.value
    return False


def status_writes(source: str) -> list[int]:
    """Line numbers in ``source`` that assign a status outside a state machine."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Attribute) and t.attr == "status" for t in targets):
            lines.append(node.lineno)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "values"
            and _is_update(node.func.value)
        ):
            keyed = any(k.arg == "status" for k in node.keywords)
            in_dict = any(
                isinstance(k, ast.Constant) and k.value == "status"
                for a in node.args
                if isinstance(a, ast.Dict)
                for k in a.keys
            )
            if keyed or in_dict:
                lines.append(node.lineno)
    return lines


def test_the_scan_finds_each_kind_of_status_write() -> None:
    source = """
row.status = Done
job.status: S = S.active
session.execute(update(T).where(T.c.id == 1).values(status="expired", finished_at=now))
session.execute(update(T).values({"status": "done"}))
session.execute(insert(T).values(status="open"))          # a new row: allowed
session.execute(update(T).values(**MACHINE.set_clause(a, b)))  # through the table: allowed
status = "draft"                                           # a local name: allowed
"""
    assert status_writes(source) == [2, 3, 4, 5]


def test_no_status_is_assigned_outside_states_modules() -> None:
    offenders = []
    for path in sorted(MARKETPLACE.rglob("*.py")):
        if path.name == "states.py" or path.name == "statemachine.py" or "migrations" in path.parts:
            continue
        offenders += [f"{path.relative_to(MARKETPLACE.parent)}:{n}" for n in status_writes(path.read_text())]
    assert not offenders, f"status assigned outside a states.py: {offenders}"
