"""The one Jinja2 environment of the pages: autoescape on for every template, undefined names
an error (a typo in a template must fail a test, never print an empty cell)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2

from bulkx.kinds.model import ALLOWANCES, Allowance

#: Longest value shown in a cell: a page stays readable, and its size bounded, whatever a plan
#: holds (the JSON and CSV outputs carry every byte).
MAX_VALUE = 300


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bulkx.audit", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shown"] = shown
    env.filters["thousands"] = lambda n: f"{n:,}"
    return env


def allowance_words(given: Mapping[Allowance, str] | None) -> Mapping[Allowance, str]:
    """How a page names what an apply must be allowed to do (`Allowance`): as its caller says
    (the CLI gives the flags that allow each), else by the allowance's own name."""
    return {allowance: (given or {}).get(allowance, allowance) for allowance in ALLOWANCES}


def render_page(template: str, context: Mapping[str, Any]) -> str:
    return environment().get_template(template).render(**context)


def shown(value: Any) -> str:
    """A value as a person reads it in a cell: text as is, other values as JSON, long ones cut
    (escaping is the template's: this returns plain text)."""
    if value is None:
        text = "null"
    elif value == "":
        text = '""'
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
