"""The Jinja2 environment of the CSM pages (risk lists, account pages): ``pipeline/templates``, autoescaped."""

from __future__ import annotations

from functools import lru_cache

import jinja2


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the pages: templates from ``pipeline/templates``, HTML autoescaped."""
    return jinja2.Environment(loader=jinja2.PackageLoader("pipeline", "templates"),
                              autoescape=jinja2.select_autoescape(), trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined)
