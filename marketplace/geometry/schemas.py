"""Geometry fields of request bodies (submissions, reviewers' GT fixes)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from marketplace.geometry.polygons import MAX_RINGS, MAX_VERTICES

#: A flat list: a box or a point (any length here, so a polygon sent without its ring brackets is
#: refused by the validation with a message saying so, not by a type error).
Coordinates = Annotated[list[float], Field(max_length=2 * MAX_VERTICES)]
Ring = Annotated[list[float], Field(min_length=6, max_length=2 * MAX_VERTICES)]
Rings = Annotated[list[Ring], Field(min_length=1, max_length=MAX_RINGS)]
