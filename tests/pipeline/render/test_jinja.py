"""Tests mirroring ``pipeline/steps/pages.py``: one autoescaped, strict Jinja2 environment for the CSM pages."""

from __future__ import annotations

import jinja2
import pytest

from pipeline.render.jinja import environment


def test_templates_are_found_autoescaped_and_strict():
    env = environment()
    assert env is environment()  # built once
    assert {"risk_list.html", "sparkline.html", "account.html"} <= set(env.list_templates())
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()
