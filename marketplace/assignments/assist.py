"""The editor's box-to-polygon assist: a worker draws a box on one item of their open assignment and
gets back rings to accept and edit (GrabCut, :mod:`marketplace.geometry.assist`). Never commits.

It reads only what the worker can already see (their item's image, through the same check as the image
link: their assignment, assigned, before its deadline) and answers the same way for hidden GT items as
for any other: the GT is never looked at.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.assignments import repository
from marketplace.assignments.schemas import BoxAssistIn, BoxAssistOut
from marketplace.config import Settings
from marketplace.errors import InvalidInput, NotFound, WrongJobType
from marketplace.geometry import assist
from marketplace.geometry.polygons import GeometryError
from marketplace.media.service import worker_file
from marketplace.models import JobType, User


def box_to_polygon(
    session: Session, worker: User, assignment_id: int, body: BoxAssistIn, settings: Settings
) -> BoxAssistOut:
    assignment = repository.get_assignment(session, assignment_id)
    if assignment is None or assignment.worker_id != worker.id:
        raise NotFound(f"assignment {assignment_id} not found")
    job = repository.get_job(session, assignment.job_id)
    assert job is not None
    if job.type is not JobType.polygons:
        raise WrongJobType(f"the box-to-polygon assist is for polygon jobs; job {job.id} is {job.type.value}")
    images = {item.token: image for item, image in repository.items_with_images(session, assignment.id)}
    if body.item_id not in images:
        raise InvalidInput(f"item {body.item_id} is not part of assignment {assignment_id}", field="item_id")
    served = worker_file(session, body.item_id, settings)  # 404 once the assignment is no longer open
    try:
        rgb = assist.decode_rgb(served.content)
        # the worker gets a rendition (resampled); boxes and rings are in the original image's pixels
        sx, sy = rgb.shape[1] / images[body.item_id].width, rgb.shape[0] / images[body.item_id].height
        x, y, w, h = body.box
        rings = assist.box_to_rings(rgb, (x * sx, y * sy, w * sx, h * sy))
    except GeometryError as exc:
        raise InvalidInput(str(exc), field="box") from exc
    return BoxAssistOut(
        rings=[[v / (sx if n % 2 == 0 else sy) for n, v in enumerate(ring)] for ring in rings]
    )
