"""Checking a submission against its assignment: every item answered once, labels of the job,
geometry inside the image. Every problem is a 422 naming the item."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from marketplace.assignments.schemas import SubmissionIn
from marketplace.assignments.video import check_tracks
from marketplace.errors import InvalidInput
from marketplace.geometry import polygons as geo
from marketplace.jobs.attributes import checked_values
from marketplace.models import TRACK_KINDS, JobType

GEOMETRY_SLACK = 1e-6


class Rules:
    """What validation needs of a job."""

    __slots__ = ("type", "labels", "attributes")

    def __init__(
        self, job_type: JobType, labels: list[str], attributes: list[dict[str, Any]] | None = None
    ) -> None:
        self.type, self.labels, self.attributes = job_type, labels, attributes or []


class JobRules(Protocol):
    @property
    def type(self) -> JobType: ...

    @property
    def labels(self) -> list[str]: ...

    @property
    def attributes(self) -> list[dict[str, Any]]: ...


class ImageSize(Protocol):
    @property
    def token(self) -> str: ...

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...


def validate_submission(
    job: JobRules, rows: Sequence[ImageSize], body: SubmissionIn, segment: Any = None
) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any] | None]]:
    """token → (annotations, interactions); ``rows`` are the items with their image sizes. Every
    problem is a 422 naming the item. A video item (``segment``: its frames) answers with tracks,
    stored as track JSON in place of the annotations."""
    images = {row.token: row for row in rows}
    out: dict[str, tuple[list[dict[str, Any]], dict[str, Any] | None]] = {}
    for index, answer in enumerate(body.items):
        where = f"items[{index}] (item {answer.item_id})"
        if answer.item_id not in images:
            raise InvalidInput(f"{where} is not part of this assignment", field=f"items[{index}].item_id")
        if answer.item_id in out:
            raise InvalidInput(f"{where} is answered twice", field=f"items[{index}].item_id")
        image = images[answer.item_id]
        if segment is not None:
            if answer.tracks is None or answer.annotations is not None:
                raise InvalidInput(
                    f"{where}: a video item answers with 'tracks'", field=f"items[{index}].tracks"
                )
            tracks = check_tracks(
                answer.tracks,
                job.labels,
                segment.start_frame,
                segment.end_frame,
                (image.width, image.height),
                where,
                TRACK_KINDS[job.type],
            )
            interactions = answer.interactions.model_dump(mode="json") if answer.interactions else None
            out[answer.item_id] = (tracks, interactions)
            continue
        if answer.annotations is None or answer.tracks is not None:
            raise InvalidInput(
                f"{where}: an image item answers with 'annotations'", field=f"items[{index}].annotations"
            )
        annotations = [
            _with_attributes(
                job,
                _checked_annotation(job, image, a.label, a.geometry, f"{where} annotation {n}"),
                a.attributes,
                f"{where} annotation {n}",
            )
            for n, a in enumerate(answer.annotations)
        ]
        if job.type is JobType.classification and len({a["label"] for a in annotations}) != len(annotations):
            raise InvalidInput(f"{where} repeats a label", field=f"items[{index}].annotations")
        interactions = answer.interactions.model_dump(mode="json") if answer.interactions else None
        out[answer.item_id] = (annotations, interactions)
    missing = [row.token for row in rows if row.token not in out]
    if missing:
        raise InvalidInput(
            f"item(s) {', '.join(missing)} have no answer; send an empty 'annotations' list for an item "
            "with nothing to mark",
            field="items",
        )
    return out


def _checked_annotation(
    job: JobRules, image: ImageSize, label: str, geometry: list[Any] | None, where: str
) -> dict[str, Any]:
    if label not in job.labels:
        raise InvalidInput(f"{where}: label {label!r} is not one of the job's labels {job.labels}")
    if job.type is JobType.classification:
        if geometry is not None:
            raise InvalidInput(f"{where}: a classification answer has a label and no geometry")
        return {"label": label, "geometry": None}
    if job.type is JobType.polygons:
        return {"label": label, "geometry": _check_polygon(geometry, image, where)}
    if job.type is JobType.boxes:
        _check_box(geometry, image, where)
    else:
        _check_point(geometry, image, where)
    assert geometry is not None
    return {"label": label, "geometry": [float(v) for v in geometry]}


def _with_attributes(
    job: JobRules, annotation: dict[str, Any], given: dict[str, Any] | None, where: str
) -> dict[str, Any]:
    """The annotation with every attribute of the job (defaults filled in); none for a job without."""
    if not job.attributes:
        if given:
            raise InvalidInput(f"{where}: this job defines no attributes")
        return annotation
    try:
        return {**annotation, "attributes": checked_values(job.attributes, given)}
    except ValueError as exc:
        raise InvalidInput(f"{where}: {exc}") from exc


def _check_polygon(geometry: list[Any] | None, image: ImageSize, where: str) -> list[list[float]]:
    """The rings as stored: exactly as drawn when they are valid, repaired when they cross (see
    :func:`marketplace.geometry.polygons.check_rings`)."""
    if not geometry or not isinstance(geometry[0], list):
        raise InvalidInput(f"{where}: a polygon is a list of rings [[x0, y0, x1, y1, ...], ...]")
    try:
        return geo.check_rings(geometry, image.width, image.height)
    except geo.GeometryError as exc:
        raise InvalidInput(f"{where}: {exc}") from exc


def _check_box(geometry: list[Any] | None, image: ImageSize, where: str) -> None:
    if geometry is None or len(geometry) != 4 or isinstance(geometry[0], list):
        raise InvalidInput(f"{where}: a box is [x, y, w, h]")
    x, y, w, h = geometry
    if w <= 0 or h <= 0:
        raise InvalidInput(f"{where}: box {geometry} has a non-positive size")
    if x < 0 or y < 0 or x + w > image.width + GEOMETRY_SLACK or y + h > image.height + GEOMETRY_SLACK:
        raise InvalidInput(f"{where}: box {geometry} lies outside the {image.width}x{image.height} image")


def _check_point(geometry: list[Any] | None, image: ImageSize, where: str) -> None:
    if geometry is None or len(geometry) != 2 or isinstance(geometry[0], list):
        raise InvalidInput(f"{where}: a point is [x, y]")
    x, y = geometry
    if not (0 <= x <= image.width and 0 <= y <= image.height):
        raise InvalidInput(f"{where}: point {geometry} lies outside the {image.width}x{image.height} image")
