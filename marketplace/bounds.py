"""Bounded input types shared by every route and request model: ids, paging, money, storable text.

Whatever a client sends must fit where it ends up (a PostgreSQL ``integer`` id, a ``NUMERIC(78,0)``
ledger amount, a uint256 on chain, a text column that refuses NUL, a file name the file system takes),
or the request is refused with a 422 that names the field, before any query runs.

Path and query values arrive as text and are parsed (``Id``, ``Limit``, ``Offset``); numbers in JSON
bodies are strict (``StrictId``, ``Amount``): ``true``, ``5.0`` or ``"5"`` are not the integer 5 (an
amount alone may also be a string of decimal digits, because JavaScript cannot hold 2**53 and above).
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any, get_args

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Strict,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

#: Every id is a PostgreSQL ``integer`` (int4) column; a larger value cannot name a row.
MAX_ID = 2**31 - 1
MAX_OFFSET = 2**31 - 1
MAX_PAGE = 500
#: A token amount must fit the ERC-20's uint256, which also fits the ledger's NUMERIC(78,0) (< 10**78).
MAX_AMOUNT = 2**256 - 1
#: Stripe's largest charge: eight digits of the smallest unit ($999,999.99).
MAX_CARD_AMOUNT = 99_999_999
#: File names (one path component) on the usual file systems, in UTF-8 bytes.
MAX_FILE_NAME_BYTES = 255

#: What an S3 bucket name can be (3 to 63 lower-case letters, digits, dots and hyphens).
S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

Id = Annotated[int, Ge(1), Le(MAX_ID)]
StrictId = Annotated[int, Strict(), Ge(1), Le(MAX_ID)]
Limit = Annotated[int, Ge(1), Le(MAX_PAGE)]
Offset = Annotated[int, Ge(0), Le(MAX_OFFSET)]


def _amount_from_text(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("an amount is an integer number of cents or token base units, never a fraction")
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > 78:
            raise ValueError("an amount given as text must be decimal digits only (at most 78)")
        return int(value)
    return value


def _amount_fits(value: int) -> int:
    if value > MAX_AMOUNT:
        raise ValueError("too large for any ledger or token: the maximum is 2**256 - 1 base units")
    return value


Amount = Annotated[
    int,
    BeforeValidator(_amount_from_text),
    Strict(),
    Ge(1),
    AfterValidator(_amount_fits),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT},
                {"type": "string", "pattern": "^[0-9]{1,78}$"},
            ],
            "description": "an integer (cents or token base units), or its decimal digits as a string",
        }
    ),
]


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "text must not contain NUL characters (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text must be valid Unicode (a lone surrogate such as \\ud800 is not)"
    return None


def unstorable_text(value: Any) -> str | None:
    """Why a string anywhere in ``value`` (lists and dicts, keys included) cannot be stored, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return problem
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def refuse_unstorable_text(value: Any) -> Any:
    problem = unstorable_text(value)
    if problem:
        raise ValueError(problem)
    return value


def _may_hold_text(annotation: Any) -> bool:
    """Whether a field's values can contain strings that no nested model checks itself."""
    if annotation is str or annotation is Any:
        return True
    if isinstance(annotation, type):
        return not issubclass(annotation, BaseModel | Enum) and issubclass(annotation, str | dict)
    return any(_may_hold_text(arg) for arg in get_args(annotation))


_TEXT_FIELDS: dict[type, frozenset[str]] = {}


class ApiInput(BaseModel):
    """Base of request bodies: every string in every field must be storable (PostgreSQL text takes
    neither NUL nor lone surrogates). Only fields that can hold text are walked, so long lists of
    numbers (mouse tracks) cost nothing here."""

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Any, info: ValidationInfo) -> Any:
        fields = _TEXT_FIELDS.get(cls)
        if fields is None:
            fields = frozenset(n for n, f in cls.model_fields.items() if _may_hold_text(f.annotation))
            _TEXT_FIELDS[cls] = fields
        if info.field_name in fields:
            refuse_unstorable_text(value)
        return value
