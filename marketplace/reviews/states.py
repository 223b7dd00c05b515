"""The dispute state machine: ``open → decided`` (a reviewer's decision; a new dispute is opened for
the same subject if it needs another look)."""

from __future__ import annotations

from marketplace.models import DisputeStatus
from marketplace.statemachine import StateMachine

D = DisputeStatus

DISPUTE = StateMachine("dispute", {D.open: frozenset({D.decided}), D.decided: frozenset()})
