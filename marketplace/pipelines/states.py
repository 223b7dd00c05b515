"""The lifecycles of a pipeline, its items and their issues.

Item: annotating → completed (every annotate stage done) → reviewing (one QA worker holds it) →
approved | discarded | issue_open; reviewing → completed when the hold lapses; issue_open →
for_review once every issue is fixed → reviewing (the QA worker who raised them) → approved,
discarded, or issue_open again (reopened). Reviewing → routed: a QA worker set one of the QA
stage's custom statuses; routed → reviewing when one of that route's members claims it (and back to
routed if their hold lapses); they decide it as the QA stage does. Approved and discarded are final
unless the QA worker who decided was stopped (they missed too many hidden defects): then the item is
completed again.
A hidden check (a GT image with a known defect) goes reviewing → completed after each decision: it
scores that QA worker and waits for the next.

Issue: open → fixed → resolved (the item decided), or fixed → open (reopened).
"""

from __future__ import annotations

from marketplace.models import (
    IssueStatus,
    ItemIssue,
    ItemStatus,
    Pipeline,
    PipelineItem,
    PipelineStatus,
    utcnow,
)
from marketplace.statemachine import StateMachine

S = ItemStatus

ITEM = StateMachine(
    "pipeline item",
    {
        S.annotating: frozenset({S.completed}),
        S.completed: frozenset({S.reviewing}),
        S.reviewing: frozenset({S.completed, S.approved, S.discarded, S.issue_open, S.routed}),
        # a custom status of the QA stage: waits for that route's members (a lapsed hold comes back)
        S.routed: frozenset({S.reviewing}),
        S.issue_open: frozenset({S.for_review}),
        S.for_review: frozenset({S.reviewing}),
        # decided by a QA worker later stopped for missing hidden defects: reviewed again
        S.approved: frozenset({S.completed}),
        S.discarded: frozenset({S.completed}),
    },
)
ISSUE = StateMachine(
    "issue",
    {
        IssueStatus.open: frozenset({IssueStatus.fixed}),
        IssueStatus.fixed: frozenset({IssueStatus.open, IssueStatus.resolved}),
        IssueStatus.resolved: frozenset(),
    },
)
PIPELINE = StateMachine(
    "pipeline",
    {
        PipelineStatus.annotating: frozenset({PipelineStatus.reviewing}),
        PipelineStatus.reviewing: frozenset({PipelineStatus.completed}),
        PipelineStatus.completed: frozenset(),
    },
)
FINAL = (S.approved, S.discarded)


def move_item(item: PipelineItem, target: ItemStatus) -> None:
    ITEM.move(item, target)
    item.updated_at = utcnow()


def move_issue(issue: ItemIssue, target: IssueStatus) -> None:
    ISSUE.move(issue, target)


def move_pipeline(pipeline: Pipeline, target: PipelineStatus) -> None:
    PIPELINE.move(pipeline, target)
