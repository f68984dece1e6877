"""Tests of ``features/sentences.py``: filling a sentence template, one number at a time and many at once."""

from __future__ import annotations

import pytest

from features.sentences import render, render_numbers


@pytest.mark.parametrize("value, text", [
    (1, "1 user is active"), (2, "2 users are active"), (0, "0 users are active"),
    (0.6, "1 user is active"), (1.5, "2 users are active"), (-1, "-1 user is active"),
])
def test_plural_agrees_with_the_value_as_shown(value, text):
    assert render("{value:.0f} user{s} {are} active", value, {}) == text


@pytest.mark.parametrize("value", [None, float("nan")])
def test_a_missing_value_reads_unknown_and_drops_its_format_spec(value):
    assert render("Only {value:,.0f} event{s} in {window} days", value, {"window": 30}) == \
        "Only unknown events in 30 days"


def test_a_format_spec_that_does_not_fit_a_text_value_falls_back_to_the_plain_value():
    assert render("Plan is {value:.1f} ({value:+.0%})", "pro", {}) == "Plan is pro (pro)"


@pytest.mark.parametrize("template, params", [
    ("{label}: {value} ({pct} {above}, {up} {size:.1f}) seat{s} {are} {plus}{cap}", {"attribute": "seat_count", "cap": 9}),
    ("{value:,.0f} event{s} in {window} days {{literally}}", {"window": 30}),
    ("{pct} of {value:.0%}", {"pct": "a parameter wins over the words"}),
    ("{value:{width}} day{s}", {"width": 3}),  # a nested spec: told one by one
    ("{value!r} and {size:d}", {}),  # a conversion, and a spec a float refuses: one by one, as render falls back
    ("{plus}{value:.2f}", {}),
    ("{size:d} unit{s}", {}),  # a spec floats refuse, without a conversion: one by one too
])
def test_render_numbers_writes_what_render_writes_of_each_number(template, params):
    numbers = [-1.5, -1.0, -0.4, 0.0, 0.5, 0.51, 1.0, 1.5, 2.0, 3.25, 1234.5678]
    assert render_numbers(template, numbers, params) == [render(template, n, params) for n in numbers]


def test_render_numbers_refuses_an_unknown_field_as_render_does():
    with pytest.raises(KeyError):
        render_numbers("{nothing} here", [1.0], {})
