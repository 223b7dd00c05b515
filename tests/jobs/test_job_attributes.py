"""Per-object attributes, the pure part: what a requester may define, what an answer may carry, and
how merged objects vote."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from marketplace.jobs.attributes import AttributeSpec, checked_values, vote, voter

SPECS = [
    {"name": "occluded", "kind": "checkbox", "values": []},
    {"name": "colour", "kind": "select", "values": ["red", "green", "blue"]},
    {"name": "note", "kind": "text", "values": []},
]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "colour", "kind": "select", "values": ["red"]}, "at least two values"),
        ({"name": "colour", "kind": "select", "values": ["red", "red"]}, "unique"),
        ({"name": "occluded", "kind": "checkbox", "values": ["yes"]}, "only a select has values"),
        ({"name": "x", "kind": "slider"}, "kind"),
        ({"name": "", "kind": "text"}, "name"),
        ({"name": "a\nb", "kind": "text"}, "name"),
    ],
)
def test_a_bad_attribute_definition_is_refused_with_the_reason(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AttributeSpec.model_validate(spec)


def test_values_are_checked_and_defaults_filled_in() -> None:
    assert checked_values(SPECS, None) == {"occluded": False, "colour": "red", "note": ""}
    assert checked_values(SPECS, {"occluded": True, "colour": "blue", "note": "half hidden"}) == {
        "occluded": True,
        "colour": "blue",
        "note": "half hidden",
    }


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"truncated": True}, "unknown attribute"),
        ({"occluded": "yes"}, "checkbox: true or false"),
        ({"colour": True}, "takes a string"),
        ({"colour": "purple"}, "one of \\['red', 'green', 'blue'\\]"),
        ({"note": "x" * 501}, "at most 500"),
    ],
)
def test_a_wrong_value_names_the_attribute(given: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        checked_values(SPECS, given)


def test_merged_attributes_follow_the_heavier_workers() -> None:
    members = [
        ({"occluded": True, "colour": "green", "note": "a"}, 0.5),
        ({"occluded": False, "colour": "blue", "note": "b"}, 0.3),
        ({"occluded": False, "colour": "blue", "note": "b"}, 0.3),
    ]
    assert vote(SPECS, members) == {"occluded": False, "colour": "blue", "note": "b"}  # 0.6 beats 0.5
    heavy = [members[0], (members[1][0], 0.3)]
    assert vote(SPECS, heavy) == {"occluded": True, "colour": "green", "note": "a"}
    # a member without the attribute counts for its default; a tie goes to the value met first
    assert vote(SPECS, [({}, 0.5), ({"occluded": True}, 0.5)])["occluded"] is False
    assert vote(SPECS, [({"occluded": True}, 0.5), ({}, 0.5)])["occluded"] is True


def test_the_voter_maps_members_to_each_workers_objects() -> None:
    answers = [
        (7, [{"label": "cat", "attributes": {"occluded": True}}, {"label": "dog"}]),
        (8, [{"label": "cat", "attributes": {"occluded": True}}]),
        (9, [{"label": "cat", "attributes": {"occluded": False}}]),
    ]
    voted = voter(SPECS, answers, {7: 0.2, 8: 0.2, 9: 0.9})
    assert voted([(7, 0), (8, 0)])["occluded"] is True  # type: ignore[index]
    assert voted([(7, 0), (8, 0), (9, 0)])["occluded"] is False  # type: ignore[index]
    assert voted([(7, 1)]) == {"occluded": False, "colour": "red", "note": ""}
    assert voter([], answers, {})([(7, 0)]) is None
