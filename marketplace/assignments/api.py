"""HTTP routes of the assignment server: parse, authorise, call the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from marketplace.assignments import assist, service
from marketplace.assignments.schemas import (
    AssignmentOut,
    BoxAssistIn,
    BoxAssistOut,
    ExportAssignmentOut,
    MyAssignmentOut,
    OpenJobOut,
    ProgressOut,
    SubmissionIn,
    SubmitOut,
)
from marketplace.bounds import Id, Limit, Offset
from marketplace.deps import CurrentUser, SessionDep, SettingsDep, WorkerUser, in_unit_of_work
from marketplace.errors import Forbidden, error_responses
from marketplace.flows import submission
from marketplace.models import Role, User

router = APIRouter(tags=["assignments"])

# The two routes every worker calls in a loop (claim, submit) are ``async`` and send the service call
# and the commit to one worker thread (``in_unit_of_work``): the database work stays off the event loop,
# where a sync route would hop to the thread pool three times (each hop costs CPU of its own).

NOTHING_DESCRIPTION = (
    "nothing available: `reason` is job_not_active, banned, already_assigned, no_assignments_left, "
    "or, with `ahead=true`, no_current_assignment or ahead_limit_reached"
)
AHEAD_DESCRIPTION = (
    "claim ahead: while holding exactly one active assignment in the job, reserve the next one too "
    "(to preload its images). Its deadline is the current one's plus the time limit until the current "
    "one is submitted, then a full time limit from that moment. At most one current + one next."
)
NOTHING = {409: NOTHING_DESCRIPTION}


@router.get("/api/work/jobs", response_model=list[OpenJobOut], responses=error_responses(401, 403))
def job_board(user: WorkerUser, session: SessionDep, settings: SettingsDep) -> list[OpenJobOut]:
    """Open jobs this worker can take: type, pay per assignment, assignments left, time limit."""
    return service.open_jobs(session, user, settings)


@router.post(
    "/api/jobs/{job_id}/assignments/claim",
    response_model=AssignmentOut,
    responses=error_responses(401, 403, 404, 409, 422, descriptions=NOTHING),
)
async def claim_in_job(
    job_id: Id,
    user: WorkerUser,
    session: SessionDep,
    settings: SettingsDep,
    ahead: Annotated[bool, Query(description=AHEAD_DESCRIPTION)] = False,
) -> AssignmentOut:
    """My next assignment in this job; with ``ahead=true``, one more while I hold the current one."""
    return await in_unit_of_work(session, service.claim_in_job, session, user, job_id, settings, ahead=ahead)


@router.post(
    "/api/assignments/claim",
    response_model=AssignmentOut,
    responses=error_responses(401, 403, 409, descriptions=NOTHING),
)
def claim_any(user: WorkerUser, session: SessionDep, settings: SettingsDep) -> AssignmentOut:
    """The next assignment in any job this worker can do."""
    return service.claim_any(session, user, settings)


@router.get(
    "/api/assignments/mine", response_model=list[MyAssignmentOut], responses=error_responses(401, 403, 422)
)
def my_assignments(
    user: WorkerUser,
    session: SessionDep,
    limit: Annotated[Limit, Query()] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> list[MyAssignmentOut]:
    """My current and past assignments with status and score."""
    return service.my_assignments(session, user, limit=limit, offset=offset)


@router.get(
    "/api/assignments/{assignment_id}",
    response_model=AssignmentOut,
    responses=error_responses(401, 403, 404, 422),
)
def get_assignment(
    assignment_id: Id, user: WorkerUser, session: SessionDep, settings: SettingsDep
) -> AssignmentOut:
    """One of my assignments; while it is open, its items come with fresh image links."""
    return service.get_my_assignment(session, user, assignment_id, settings)


@router.post(
    "/api/assignments/{assignment_id}/submit",
    response_model=SubmitOut,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)
async def submit(assignment_id: Id, body: SubmissionIn, user: WorkerUser, session: SessionDep) -> SubmitOut:
    return await in_unit_of_work(session, submission.submit, session, user, assignment_id, body)


@router.post(
    "/api/assignments/{assignment_id}/assist/box-to-polygon",
    response_model=BoxAssistOut,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)
def box_to_polygon(
    assignment_id: Id, body: BoxAssistIn, user: WorkerUser, session: SessionDep, settings: SettingsDep
) -> BoxAssistOut:
    """Polygon jobs: rings outlining the object inside a box drawn on one item of my open assignment
    (GrabCut), for the editor to show as an editable suggestion. Nothing is stored."""
    return assist.box_to_polygon(session, user, assignment_id, body, settings)


def _not_worker(user: User) -> User:
    if user.role is Role.worker:
        raise Forbidden("workers see their own assignments, not a job's progress")
    return user


@router.get(
    "/api/jobs/{job_id}/progress", response_model=ProgressOut, responses=error_responses(401, 403, 404, 422)
)
def job_progress(job_id: Id, user: CurrentUser, session: SessionDep) -> ProgressOut:
    """Images done/total and assignments by status; the job's requester (and staff) only."""
    return service.job_progress(session, _not_worker(user), job_id)


@router.get(
    "/api/jobs/{job_id}/submissions",
    response_model=list[ExportAssignmentOut],
    responses=error_responses(401, 403, 404, 422),
)
def export_submissions(job_id: Id, user: CurrentUser, session: SessionDep) -> list[ExportAssignmentOut]:
    """Every submission with its answers and per-item interaction records (hovers, clicks, mouse)."""
    return service.export_submissions(session, _not_worker(user), job_id)
