"""Tests of ``features/base.py``: the ``feature`` decorator and ``Feature``."""

from __future__ import annotations

import math

import pytest

import features.base as base
from features.base import DIRECTIONS, FRAMES, Feature, feature, flag


def definition_args(**changes):
    args = dict(family="usage", frame="usage", unit="events", risk="r {value}", protective="p {value}",
                direction="lower")
    return {**args, **changes}


@pytest.mark.parametrize("changes, message", [
    ({"frame": "payments"}, "unknown frame 'payments'"),
    ({"direction": "up"}, "direction must be one of"),
    ({"kind": "categorical", "direction": "higher"}, "its direction is 'context', not 'higher'"),
])
def test_feature_refuses_bad_declarations(changes, message):
    with pytest.raises(ValueError, match=message):
        feature(**definition_args(**changes))


def test_feature_registers_a_definition_with_defaults(monkeypatch):
    monkeypatch.setattr(base, "REGISTRY", [])

    @feature(**definition_args(kind="categorical", direction="context"))
    def favourite_colour(f, p):
        """The colour
        the account likes.

        Details that are not part of the meaning.
        """

    (d,) = base.REGISTRY
    assert (d.name, d.group, d.fn, d.kind) == ("favourite_colour", "favourite_colour", favourite_colour, "categorical")
    assert d.doc == "The colour the account likes."
    assert set(FRAMES) >= {d.frame} and d.requires == ()


def test_feature_binds_parameters_and_picks_its_sentence(monkeypatch):
    monkeypatch.setattr(base, "REGISTRY", [])
    feature(name="events_{window}d", group="usage_{window}", at_most_zero="None in {window} days",
            **definition_args(risk="Only {value:.0f} in {window} days", protective="{value:.0f} in {window} days"))(
        lambda f, p: None)
    bound = Feature("events_7d", base.REGISTRY[0], {"window": 7})
    assert (bound.group, bound.family, bound.direction, bound.kind) == ("usage_7", "usage", "lower", "numeric")
    assert bound.sentence(3.2) == "Only 3 in 7 days"
    assert bound.sentence(3.2, toward_risk=False) == "3 in 7 days"
    assert bound.sentence(0) == bound.sentence(-2, toward_risk=False) == "None in 7 days"
    assert bound.sentence(None) == "Only unknown in 7 days"


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_sign_follows_the_direction(direction, monkeypatch):
    monkeypatch.setattr(base, "REGISTRY", [])
    feature(**definition_args(direction=direction))(lambda f, p: None)
    assert Feature("x", base.REGISTRY[0]).sign == {"higher": 1, "lower": -1, "context": 0}[direction]


def test_flag_is_one_zero_or_null():
    import ibis

    t = ibis.memtable({"x": [0.0, 2.0, None]})
    got = ibis.duckdb.connect().execute(t.select(f=flag(t.x > 1)))["f"].tolist()
    assert got[:2] == [0.0, 1.0] and math.isnan(got[2])


def test_parameters_read_as_attributes_and_a_missing_one_is_an_attribute_error():
    from features.base import P

    p = P(window=30)
    assert p.window == 30 and getattr(p, "trend", None) is None and not hasattr(p, "trend")


def test_a_capped_value_reads_as_at_least_the_cap():
    from features.base import REGISTRY, Feature

    definition = next(d for d in REGISTRY if d.name == "oldest_open_urgent_ticket_days")
    ticket = Feature(definition.name, definition, {"max_age": 180})
    assert ticket.sentence(180.0) == "A high/urgent support ticket has been open for 180+ days"
    assert ticket.sentence(43.0) == "A high/urgent support ticket has been open for 43 days"
    assert ticket.sentence(1.0) == "A high/urgent support ticket has been open for 1 day"


@pytest.mark.parametrize("history, params, days", [
    (None, {"window": 7}, None), ("{window}", {"window": 7}, 7), ("{trend}+{trend}", {"trend": 30}, 60),
    ("7*{weeks}", {"weeks": 4}, 28), ("365", {}, 365),
])
def test_history_days_fill_the_definition_template(monkeypatch, history, params, days):
    monkeypatch.setattr(base, "REGISTRY", [])
    feature(name="x", history=history, **definition_args())(lambda f, p: None)
    assert Feature("x", base.REGISTRY[0], params).history_days == days
