"""The one Jinja2 environment of every page the pipeline writes: ``pipeline/render/templates``, autoescaped.

Risk lists, account pages, the impact page and the training report all render
through :func:`environment`, so autoescaping and whitespace rules are set once:
every value from the data, the config or the registry is inserted as text,
never as markup.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the pages: templates from ``pipeline/render/templates``, HTML autoescaped.

    The loader reads the folder beside this module, not a package's search path: with ``tests/`` on
    ``sys.path`` a package name can resolve to a namespace package of the tests (no templates there).
    """
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                              autoescape=jinja2.select_autoescape(), trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined)
