"""Jinja2 renders the pages, with autoescaping on: a value is HTML-escaped unless it is already
``Markup`` (a rendered template), and a missing variable is an error, not an empty string.

The pages are thin shells (the work happens in ES modules that call the JSON API); shared pieces
(form errors) are macros in ``templates/_forms.html``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: Any) -> Markup:
    """The template ``name`` rendered: safe HTML, inserted as is into another template."""
    return Markup(environment().get_template(name).render(**context))
