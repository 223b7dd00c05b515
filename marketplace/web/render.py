"""A deliberately tiny template renderer: ``{{ name }}`` is HTML-escaped, ``{{! name }}`` is inserted raw.

The pages are thin shells (the work happens in ES modules that call the JSON API), so a template
engine would be a dependency for very little. Raw insertion is only used for fragments this module
or ``pages.py`` built with :func:`esc` already applied.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

_PLACEHOLDER = re.compile(r"\{\{(!?)\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


@lru_cache(maxsize=64)
def _load(name: str) -> str:
    path = (TEMPLATES / name).resolve()
    if TEMPLATES not in path.parents:
        raise ValueError(f"template outside the template folder: {name}")
    return path.read_text(encoding="utf-8")


def render_string(template: str, context: dict[str, Any]) -> str:
    def _sub(match: re.Match[str]) -> str:
        raw, key = match.group(1), match.group(2)
        if key not in context:
            raise KeyError(f"template variable {key!r} is missing")
        value = context[key]
        return str(value) if raw else esc(value)

    return _PLACEHOLDER.sub(_sub, template)


def render(name: str, **context: Any) -> str:
    return render_string(_load(name), context)
