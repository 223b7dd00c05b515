"""The payout state machine: ``pending → done`` once the rail has it (sent, or found there when
reconciling); ``failed`` is kept for a payout given up by an operator."""

from __future__ import annotations

from marketplace.models import PayoutStatus
from marketplace.statemachine import StateMachine

P = PayoutStatus

PAYOUT = StateMachine("payout", {P.pending: frozenset({P.done, P.failed}), P.done: frozenset(),
                                 P.failed: frozenset()})  # fmt: skip
