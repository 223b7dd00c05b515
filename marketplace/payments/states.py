"""Funding and inbox state machines.

Funding: ``pending → succeeded | failed`` (money arrived, or the attempt died). An inbox event (a
Stripe webhook or a chain log, stored before any work): ``pending → applied | ignored``.
"""

from __future__ import annotations

from marketplace.models import FundingStatus, InboxStatus
from marketplace.statemachine import StateMachine

F = FundingStatus
I = InboxStatus  # noqa: E741

FUNDING = StateMachine("funding", {F.pending: frozenset({F.succeeded, F.failed}), F.succeeded: frozenset(),
                                   F.failed: frozenset()})  # fmt: skip
INBOX = StateMachine("inbox event", {I.pending: frozenset({I.applied, I.ignored}), I.applied: frozenset(),
                                     I.ignored: frozenset()})  # fmt: skip
