"""The transition check every ``states.py`` builds on: a table of allowed moves per status.

A domain's ``states.py`` declares its table once (``MACHINE = StateMachine("payout", {...})``) and is
the only code that assigns a status: ``MACHINE.move(row, target)`` on a loaded row, or
``MACHINE.set_clause(source, target)`` for a set-based ``UPDATE`` in a repository.
``tests/architecture/test_status_changes.py`` fails on any other assignment.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Generic, TypeVar

from marketplace.errors import Conflict

S = TypeVar("S", bound=StrEnum)


class StateMachine(Generic[S]):
    def __init__(self, what: str, allowed: Mapping[S, frozenset[S]]):
        self.what = what
        self.allowed = dict(allowed)

    def can(self, current: S, target: S) -> bool:
        return target in self.allowed[current]

    def check(self, ident: object, current: S, target: S) -> None:
        if not self.can(current, target):
            raise Conflict(
                f"{self.what} {ident} is {current.value}; it cannot become {target.value}",
                extra={"reason": f"{self.what}_{current.value}"},
            )

    def move(self, row: Any, target: S) -> None:
        """Check and apply ``row.status = target`` (a loaded ORM row with ``id`` and ``status``)."""
        self.check(row.id, row.status, target)
        row.status = target

    def set_clause(self, source: S, target: S) -> dict[str, str]:
        """The ``SET`` of an ``UPDATE … WHERE status = source`` that moves rows to ``target``."""
        if not self.can(source, target):
            raise ValueError(f"{self.what}: {source.value} → {target.value} is not a transition")
        return {"status": target.value}
