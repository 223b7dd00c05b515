"""The SQL of a submission: the assignment locked with what validating it needs, and the answers
stored with the new status. On PostgreSQL each is one statement (issue 19); SQLite stores the
answers and the status one statement each (:func:`store_answers`, :func:`mark_submitted`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import JSON, Integer, String, bindparam, cast, exists, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import Session

from marketplace.assignments.repository import ASSIGNMENTS, ITEMS, lock_job_then_assignment
from marketplace.assignments.states import ASSIGNMENT
from marketplace.models import Assignment, AssignmentItem, AssignmentSlot, AssignmentStatus, Job, JobImage


def lock_for_submit(session: Session, assignment_id: int, *, with_items: bool = False) -> Any:
    """What a submission needs of the assignment and of its job, both locked (job first:
    :func:`.repository.lock_job_then_assignment`), in one statement; with
    ``with_items`` (PostgreSQL), its items too (``items``: see :func:`item_rows_column`)."""
    return session.execute(_lock_for_submit_statement(with_items), {"p_assignment": assignment_id}).first()


@cache
def _lock_for_submit_statement(with_items: bool) -> Any:
    extra = [item_rows_column()] if with_items else []
    stmt = (
        select(
            *extra,
            Assignment.id,
            Assignment.worker_id,
            Assignment.job_id,
            Assignment.status,
            Assignment.slot,
            Assignment.deadline,
            Assignment.submitted_at,
            Assignment.submission_hash,
            Job.status.label("job_status"),
            Job.type.label("job_type"),
            Job.labels.label("job_labels"),
            Job.attributes.label("job_attributes"),
            Job.time_limit_s,
        )
        .join(Job, Job.id == Assignment.job_id)
        .where(Assignment.id == bindparam("p_assignment", type_=Integer))
    )
    return lock_job_then_assignment(stmt)


class SubmitItem(NamedTuple):
    id: int
    token: str
    name: str
    width: int
    height: int


def item_rows_column() -> Any:
    """The assignment's items (id, token, name, width, height) in display order, as one JSON column
    of :func:`.repository.lock_for_submit`'s row (the same rows as :func:`.repository.item_rows`)."""
    row = func.json_build_array(
        AssignmentItem.id, AssignmentItem.token, JobImage.name, JobImage.width, JobImage.height
    )
    return (
        select(func.json_agg(aggregate_order_by(row, AssignmentItem.position)))
        .select_from(AssignmentItem)
        .join(JobImage, JobImage.id == AssignmentItem.image_id)
        .where(AssignmentItem.assignment_id == Assignment.id)
        .correlate(Assignment)
        .scalar_subquery()
        .label("items")
    )


def submit_items(raw: Any) -> list[SubmitItem]:
    return [SubmitItem(*item) for item in raw or []]


def store_answers(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """``rows``: {item_pk, answer, interactions}; one batched statement."""
    t = ITEMS
    stmt = (
        update(t)
        .where(t.c.id == bindparam("item_pk"))
        .values(answer=bindparam("answer"), interactions=bindparam("interactions"))
    )
    session.execute(stmt, list(rows))


def submitted_values(now: datetime, digest: str) -> dict[str, Any]:
    """The ``SET`` values of ``assigned → submitted`` (for an ``assigned`` row)."""
    return {
        **ASSIGNMENT.set_clause(AssignmentStatus.assigned, AssignmentStatus.submitted),
        "submitted_at": now,
        "submission_hash": digest,
    }


def mark_submitted(session: Session, assignment_id: int, now: datetime, digest: str) -> None:
    t = ASSIGNMENTS
    session.execute(
        update(t)
        .where(t.c.id == assignment_id, t.c.status == AssignmentStatus.assigned.value)
        .values(**submitted_values(now, digest))
    )


def store_submission(
    session: Session,
    assignment_id: int,
    job_id: int,
    worker_id: int,
    answers: Sequence[dict[str, Any]],
    set_values: dict[str, Any],
) -> bool:
    """Store the answers (``answers``: {item_pk, answer, interactions}) and mark the assignment
    submitted (``set_values``: its new status, time and hash) in one statement; return whether the
    worker holds a ``next`` assignment in the job to promote. Read after the assignment's lock was
    taken, so a claim ahead that committed while the submission waited for it is seen."""
    params: dict[str, Any] = {
        "p_assignment": assignment_id,
        "p_job": job_id,
        "p_worker": worker_id,
        "p_item_pks": [a["item_pk"] for a in answers],
        "p_answers": [json.dumps(a["answer"]) for a in answers],
        "p_interactions": [json.dumps(a["interactions"]) for a in answers],
    }
    params |= {f"p_set_{column}": value for column, value in set_values.items()}
    return bool(session.scalar(_store_submission_statement(tuple(set_values)), params))


@cache
def _store_submission_statement(set_columns: tuple[str, ...]) -> Any:
    """:func:`store_submission`'s statement, built once per set of columns (values bound as
    ``p_``-named parameters, never named like a column: such a parameter would become a ``SET``)."""
    rows = (
        func.unnest(
            bindparam("p_item_pks", type_=ARRAY(Integer)),
            bindparam("p_answers", type_=ARRAY(String)),
            bindparam("p_interactions", type_=ARRAY(String)),
        )
        .table_valued("item_pk", "answer", "interactions")
        .render_derived()
    )
    stored = (
        update(ITEMS)
        .where(ITEMS.c.id == rows.c.item_pk)
        .values(answer=cast(rows.c.answer, JSON), interactions=cast(rows.c.interactions, JSON))
        .cte("stored_answers")
    )
    t = ASSIGNMENTS
    assignment_id = bindparam("p_assignment", type_=Integer)
    marked = (
        update(t)
        .where(t.c.id == assignment_id, t.c.status == AssignmentStatus.assigned.value)
        .values({column: bindparam(f"p_set_{column}", type_=t.c[column].type) for column in set_columns})
        .cte("marked")
    )
    has_next = exists().where(
        t.c.job_id == bindparam("p_job", type_=Integer),
        t.c.worker_id == bindparam("p_worker", type_=Integer),
        t.c.status == AssignmentStatus.assigned.value,
        t.c.slot == AssignmentSlot.next.value,
    )
    return select(has_next).add_cte(stored, marked)
