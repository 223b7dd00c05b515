"""Per-object attributes a requester defines for a job (``occluded``, ``truncated``, a colour, a note).

Each drawn object (box, point, polygon) carries a value for every attribute of its job:

* ``checkbox``: true or false;
* ``select``: one of the attribute's ``values``;
* ``text``: free text up to :data:`MAX_TEXT` characters.

An answer may leave an attribute out; it then takes the attribute's default (false, the first value,
or empty text), so every stored object has all of them. When workers' objects are merged, each
attribute of the merged object is the weighted vote of its members' values (:func:`vote`); ties go
to the value seen first among the heaviest. Attributes are carried to the COCO export as each
annotation's ``attributes`` object (the shape CVAT's COCO export uses). They are not scored: the GT
check is about geometry and labels.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

MAX_ATTRIBUTES = 20
MAX_VALUES = 50
MAX_TEXT = 500
AttributeName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_ .-]*$")
]
AttributeValue = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class AttributeKind(StrEnum):
    checkbox = "checkbox"
    select = "select"
    text = "text"


class AttributeSpec(BaseModel):
    """One attribute of the job's objects."""

    model_config = ConfigDict(extra="forbid")

    name: AttributeName
    kind: AttributeKind
    values: list[AttributeValue] = Field(
        default_factory=list, max_length=MAX_VALUES, description="select only: the choices, 2 or more"
    )

    @model_validator(mode="after")
    def _values_fit_the_kind(self) -> AttributeSpec:
        if self.kind is AttributeKind.select:
            if len(self.values) < 2:
                raise ValueError(f"attribute {self.name!r}: a select needs at least two values")
            if len(set(self.values)) != len(self.values):
                raise ValueError(f"attribute {self.name!r}: values must be unique")
        elif self.values:
            raise ValueError(f"attribute {self.name!r}: only a select has values")
        return self


def check_specs(specs: Sequence[AttributeSpec]) -> None:
    """Names unique (a ValueError names the repeated one)."""
    names = [s.name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"attribute names must be unique: {', '.join(repeated)} repeated")


def default(spec: Mapping[str, Any]) -> bool | str:
    kind = AttributeKind(spec["kind"])
    if kind is AttributeKind.checkbox:
        return False
    if kind is AttributeKind.select:
        return str(spec["values"][0])
    return ""


def checked_values(
    specs: Sequence[Mapping[str, Any]], given: Mapping[str, Any] | None
) -> dict[str, bool | str]:
    """Every attribute of the job with its value from ``given`` (or its default). A ValueError says
    which attribute is unknown or has a value of the wrong kind."""
    given = dict(given or {})
    by_name = {s["name"]: s for s in specs}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        known = ", ".join(by_name) or "none"
        raise ValueError(f"unknown attribute(s) {', '.join(map(repr, unknown))}; the job's: {known}")
    out: dict[str, bool | str] = {}
    for name, spec in by_name.items():
        if name not in given:
            out[name] = default(spec)
            continue
        value, kind = given[name], AttributeKind(spec["kind"])
        if kind is AttributeKind.checkbox and not isinstance(value, bool):
            raise ValueError(f"attribute {name!r} is a checkbox: true or false, not {value!r}")
        if kind is not AttributeKind.checkbox and not isinstance(value, str):
            raise ValueError(f"attribute {name!r} takes a string, not {value!r}")
        if kind is AttributeKind.select and value not in spec["values"]:
            raise ValueError(f"attribute {name!r} is one of {spec['values']}, not {value!r}")
        if kind is AttributeKind.text and len(value) > MAX_TEXT:
            raise ValueError(f"attribute {name!r}: text is at most {MAX_TEXT} characters")
        out[name] = value
    return out


def vote(
    specs: Sequence[Mapping[str, Any]], members: Sequence[tuple[Mapping[str, Any] | None, float]]
) -> dict[str, bool | str]:
    """The merged object's attributes from its members' ``(attributes, weight)``: per attribute the
    value with the most weight (a member without the attribute counts for its default); on a tie, the
    value met first."""
    out: dict[str, bool | str] = {}
    for spec in specs:
        name = spec["name"]
        totals: dict[bool | str, float] = {}
        for values, weight in members:
            value = (values or {}).get(name, default(spec))
            totals[value] = totals.get(value, 0.0) + max(float(weight), 0.0)
        out[name] = max(totals, key=lambda v: totals[v]) if totals else default(spec)
    return out


def voter(
    specs: Sequence[Mapping[str, Any]],
    answers: Sequence[tuple[Hashable, Sequence[Mapping[str, Any]]]],
    weights: Mapping[Any, float],
    default_weight: float = 0.5,
) -> Callable[[Sequence[tuple[Hashable, int]]], dict[str, bool | str] | None]:
    """For one image's answers ``(worker, objects)``: a function from a merged object's members
    ``(worker, object index)`` to its attributes (:func:`vote` with the workers' weights); it gives
    None when the job has no attributes."""
    drawn = dict(answers)

    def voted(members: Sequence[tuple[Hashable, int]]) -> dict[str, bool | str] | None:
        if not specs:
            return None
        weighted = [(drawn[w][i].get("attributes"), weights.get(w, default_weight)) for w, i in members]
        return vote(specs, weighted)

    return voted
