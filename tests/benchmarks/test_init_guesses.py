"""Tests of ``benchmarks/init_guesses.py``: the README's table of ``churn init`` drafts, re-measured."""

from __future__ import annotations

import pytest

from benchmarks.init_guesses import LAYOUTS, score, write
from benchmarks.worlds import foreign
from pipeline.steps.init import draft

#: layout -> (TODOs, columns right, value mappings right) as README "Your own data" reports them
README = {"warehouse": (0, 28, "1/1"), "exports": (0, 28, "1/1"), "ops": (0, 28, "2/2"), "camel": (0, 28, "0/0"),
          "legacy": (0, 28, "1/1"), "blind": (2, 26, "2/2")}


@pytest.fixture(scope="module")
def world(small_world):
    return foreign.read_world(small_world)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_drafts_as_the_readme_says_and_never_guesses_wrong(world, tmp_path, layout):
    result = score(draft(write(world, layout, tmp_path)).text, layout, set(world))
    assert result["wrong"] == 0
    assert (result["todos"], result["right"], result["values"]) == README[layout]
