"""Reasons from exact contributions: grouping, ordering, sentences, JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from features.base import Definition, Feature
from models.reasons import NO_RISK, explain
from models.errors import ModelError


def feature(name, group, direction, kind="numeric", risk="{value:.0f} risk", protective="{value:.0f} fine",
            family="usage"):
    definition = Definition(name=name, family=family, frame="usage", fn=None, doc=name, unit="", risk=risk,
                            protective=protective, group=group, direction=direction, kind=kind)
    return Feature(name, definition, {})


FEATURES = [
    feature("events_7d", "usage", "lower", risk="Only {value:.0f} events in 7 days",
            protective="{value:.0f} events in 7 days"),
    feature("events_30d", "usage", "lower", risk="Only {value:.0f} events in 30 days",
            protective="{value:.0f} events in 30 days"),
    feature("events_90d", "usage", "lower", risk="Only {value:.0f} events in 90 days",
            protective="{value:.0f} events in 90 days"),
    feature("open_urgent_tickets", "tickets", "higher", risk="{value:.0f} urgent tickets open",
            protective="No urgent tickets"),
    feature("nps_last", "nps", "lower", risk="NPS {value:.0f}", protective="NPS {value:.0f}"),
    feature("days_to_renewal", "renewal", "context", risk="Renewal in {value:.0f} days",
            protective="Renewal in {value:.0f} days"),
    feature("plan", "plan", "context", kind="categorical", risk="On plan '{value}'", protective="On plan '{value}'"),
]
NAMES = [f.name for f in FEATURES]


def frame(rows):
    return pd.DataFrame(rows, columns=[*NAMES, "base_value"])


def values(rows):
    return pd.DataFrame(rows, columns=NAMES).astype({"plan": "string"})


def reasons_of(result, i=0):
    return json.loads(result.reasons[i])


def test_windows_of_one_signal_read_as_one_reason_ordered_by_contribution():
    contrib = frame([[0.5, 0.3, -0.1, 0.9, -0.4, 2.0, 0.0, -3.0]])
    result = explain(contrib, values([[2, 9, 40, 3, 4, 20, "Team"]]), FEATURES, top_k=3, context_groups=["renewal"])
    doc = reasons_of(result)
    assert [r["group"] for r in doc["risk"]] == ["tickets", "usage"]
    assert [r["contribution"] for r in doc["risk"]] == pytest.approx([0.9, 0.7])
    usage = doc["risk"][1]
    assert usage["feature"] == "events_7d" and usage["value"] == 2.0 and usage["sentence"] == "Only 2 events in 7 days"
    assert [(r["group"], r["sentence"]) for r in doc["protective"]] == [("nps", "NPS 4")]
    assert [(r["group"], r["contribution"]) for r in doc["context"]] == [("renewal", 2.0), ("plan", 0.0)]
    assert doc["base_value"] == -3.0 and doc["other"] == pytest.approx(0.0)
    assert result.summary[0] == "3 urgent tickets open; Only 2 events in 7 days"
    assert result.first[0] == "tickets"
    assert list(result.group_contributions.columns) == ["usage", "tickets", "nps", "renewal", "plan"]


def test_the_quoted_member_pushes_in_the_direction_of_its_group():
    contrib = frame([[0.5, 0.4, -0.6, 0, 0, 0, 0, 0]])  # sum +0.3, the largest |c| lowers the risk
    doc = reasons_of(explain(contrib, values([[1, 2, 3, 0, 5, 9, "Team"]]), FEATURES))
    assert doc["risk"][0]["feature"] == "events_7d"
    assert doc["risk"][0]["sentence"] == "Only 1 events in 7 days"


def test_protective_reasons_use_the_protective_sentence_and_most_negative_first():
    contrib = frame([[-0.1, -0.1, 0, -0.5, -0.9, 0, 0.2, 0]])
    doc = reasons_of(explain(contrib, values([[50, 60, 70, 0, 10, 9, "Business"]]), FEATURES, top_k=2))
    assert [r["sentence"] for r in doc["protective"]] == ["NPS 10", "No urgent tickets"]
    assert doc["risk"] == []  # the plan raises the risk, but a plan is context, never a reason
    assert [r["sentence"] for r in doc["context"]] == ["On plan 'Business'", "Renewal in 9 days"]
    assert doc["other"] == pytest.approx(-0.2)  # usage, not listed with top_k=2


def test_a_missing_value_is_never_a_reason_and_reads_unknown_as_context():
    contrib = frame([[0, 0, 0, 0, 1.0, 0, 0.5, 0]])
    doc = reasons_of(explain(contrib, values([[1, 2, 3, 0, np.nan, 9, None]]), FEATURES))
    assert doc["risk"] == [] and doc["protective"] == []  # "NPS unknown" says nothing a CSM can act on
    plan = doc["context"][0]
    assert plan["value"] is None and plan["sentence"] == "On plan 'unknown'"
    assert doc["other"] == pytest.approx(1.0)


def test_a_feature_is_a_risk_only_on_the_risky_side_of_its_training_median():
    medians = {"events_7d": 10, "events_30d": 40, "events_90d": 120, "open_urgent_tickets": 0, "nps_last": 8}
    contrib = frame([[0.4, 0.2, 0, 0.3, 0.2, 0, 0, -3.0], [0.4, 0.2, 0, 0.3, 0.2, 0, 0, -3.0]])
    vals = values([[25, 50, 200, 0, 9, 9, "Team"],  # busy, nothing open, happy: every push is on the safe side
                   [2, 50, 200, 2, 4, 9, "Team"]])  # few events this week, 2 urgent tickets, NPS 4
    result = explain(contrib, vals, FEATURES, medians=medians)
    calm, worried = reasons_of(result, 0), reasons_of(result, 1)
    assert calm["risk"] == [] and result.summary[0] == NO_RISK
    assert [(r["feature"], r["value"]) for r in worried["risk"]] == [
        ("events_7d", 2.0), ("open_urgent_tickets", 2.0), ("nps_last", 4.0)]
    # events_30d (50 > median 40) pushes up too but is on its safe side: the usage reason quotes events_7d
    assert worried["risk"][0]["contribution"] == pytest.approx(0.6)


def test_an_account_with_nothing_raising_its_risk():
    contrib = frame([[-0.1, 0, 0, -0.2, 0, 0, 0, -4.0]])
    result = explain(contrib, values([[5, 5, 5, 0, 9, 9, "Team"]]), FEATURES)
    assert reasons_of(result)["risk"] == [] and result.summary[0] == NO_RISK and result.first[0] is None


def test_a_model_feature_without_definition_is_an_error():
    contrib = pd.DataFrame({"mystery": [0.1], "base_value": [0.0]})
    with pytest.raises(ModelError, match="mystery"):
        explain(contrib, pd.DataFrame({"mystery": [1.0]}), FEATURES)


@settings(max_examples=60, deadline=None)
@given(
    data=hnp.arrays(np.float64, st.tuples(st.integers(1, 20), st.just(len(NAMES) + 1)),
                    elements=st.floats(-3, 3, allow_nan=False).map(lambda x: round(x, 3))),
    top_k=st.integers(1, 4),
)
def test_reasons_are_the_largest_groups_and_add_up_to_the_raw_score(data, top_k):
    contrib = frame(data)
    vals = values([[1, 2, 3, 4, 5, 6, "Team"]] * len(data))
    result = explain(contrib, vals, FEATURES, top_k=top_k, context_groups=["renewal"])
    sums = result.group_contributions.drop(columns=["renewal", "plan"])
    for i, text in enumerate(result.reasons):
        doc = json.loads(text)
        listed = [r["contribution"] for part in ("risk", "protective", "context") for r in doc[part]]
        assert doc["base_value"] + sum(listed) + doc["other"] == pytest.approx(data[i].sum(), abs=1e-5)
        risk = [r["contribution"] for r in doc["risk"]]
        expected = sorted((v for v in sums.iloc[i] if v > 0), reverse=True)[:top_k]
        assert risk == pytest.approx(expected, abs=1e-6)
        protective = [r["contribution"] for r in doc["protective"]]
        assert protective == pytest.approx(sorted(v for v in sums.iloc[i] if v < 0)[:top_k], abs=1e-6)


def test_every_group_contribution_is_kept_as_json():
    contrib = frame([[0.5, 0.3, -0.1, 0.9, -0.4, 2.0, 0.0, -3.0]])
    result = explain(contrib, values([[2, 9, 40, 3, 4, 20, "Team"]]), FEATURES)
    kept = json.loads(result.contributions[0])
    assert {g: e[0] for g, e in kept.items()} == pytest.approx(
        {"usage": 0.7, "tickets": 0.9, "nps": -0.4, "renewal": 2.0})  # plan's 0.0 is left out
    # each group keeps its leading member (largest |contribution|) and that member's value
    assert {g: e[1:3] for g, e in kept.items()} == {"usage": ["events_7d", 2.0], "tickets": ["open_urgent_tickets", 3.0],
                                                     "nps": ["nps_last", 4.0], "renewal": ["days_to_renewal", 20.0]}


def test_a_contribution_that_is_not_a_number_is_refused_rather_than_written_as_invalid_json():
    # the warehouse stores the documents without parsing them: a NaN would otherwise be stored as text "nan"
    contrib = frame([[0.5, np.nan, -0.1, 0.9, -0.4, 2.0, 0.0, -3.0]])
    with pytest.raises(ValueError, match="not a finite number"):
        explain(contrib, values([[2, 9, 40, 3, 4, 20, "Team"]]), FEATURES)


def test_a_cause_is_read_before_its_effect_when_both_are_risk_reasons():
    from models.reasons import cause_first

    contrib = frame([[0.2, 0.1, 0, 0.9, 0.4, 0, 0, -3.0]])  # tickets 0.9 > nps 0.4 > usage 0.3
    vals = values([[2, 9, 40, 3, 4, 20, "Team"]])
    plain = reasons_of(explain(contrib, vals, FEATURES))
    assert [r["group"] for r in plain["risk"]] == ["tickets", "nps", "usage"]
    caused = explain(contrib, vals, FEATURES, causes={"tickets": ["usage"]})
    assert [r["group"] for r in reasons_of(caused)["risk"]] == ["usage", "tickets", "nps"]
    assert caused.first[0] == "usage" and caused.summary[0].startswith("Only 2 events in 7 days; ")
    order = np.array([[0, 1, -1], [2, 1, 0], [1, -1, -1]])
    assert cause_first(order, ["tickets", "usage", "nps"], {"tickets": ["usage"]}).tolist() == [
        [1, 0, -1], [2, 1, 0], [1, -1, -1]]  # only where both are listed and the effect comes first


def _contributions_per_row(result, vals) -> list[str]:
    """The contributions JSON the way it was first written: one row, one group at a time, Python's float repr."""
    from models.reason_documents import DECIMALS

    by_name = {f.name: f for f in FEATURES}
    docs = []
    for i in range(len(vals)):
        cells = []
        for group, total in result.group_contributions.iloc[i].items():
            rounded = round(float(total), 4)
            if rounded == 0:
                continue
            members = [f for f in FEATURES if f.group == group]
            lead = members[0] if len(members) == 1 else None
            kept = json.loads(result.contributions[i])[group]
            lead = lead or by_name[kept[1]]
            value = vals.iloc[i][lead.name]
            if lead.kind == "categorical":
                text = "null" if pd.isna(value) else json.dumps(str(value), ensure_ascii=False)
            else:
                # + 0.0: a value of -0.0 reads 0.0 (as the vectorised writer renders it)
                text = repr(round(float(value), DECIMALS) + 0.0) if np.isfinite(float(value)) else "null"
            cells.append(f"{json.dumps(group)}: [{rounded!r}, {json.dumps(lead.name)}, {text}, {json.dumps(lead.topic)}]")
        docs.append("{" + ", ".join(cells) + "}")
    return docs


@settings(max_examples=40, deadline=None)
@given(
    data=hnp.arrays(np.float64, st.tuples(st.integers(1, 15), st.just(len(NAMES) + 1)),
                    elements=st.one_of(st.just(0.0), st.floats(-5, 5, allow_nan=False))),
    numbers=st.lists(st.one_of(st.none(), st.floats(-1e7, 1e7, allow_nan=False), st.just(1e-7)),
                     min_size=6, max_size=6),
    plan=st.sampled_from(["Team", None, 'Ent "plus"', "Großkunde"]),
)
def test_the_vectorised_contributions_json_is_byte_identical_to_row_by_row(data, numbers, plan):
    """The contributions JSON is built column-wise for speed; every byte must equal the row-by-row rendering."""
    contrib = frame(data)
    vals = values([[np.nan if n is None else n for n in numbers] + [plan]] * len(data))
    result = explain(contrib, vals, FEATURES, context_groups=["renewal"])
    assert list(result.contributions) == _contributions_per_row(result, vals)


@settings(max_examples=30, deadline=None)
@given(
    data=hnp.arrays(np.float64, st.tuples(st.integers(1, 40), st.just(len(NAMES) + 1)),
                    elements=st.one_of(st.just(0.0), st.floats(-5, 5, allow_nan=False))),
    block=st.integers(1, 9),
    plans=st.lists(st.sampled_from(["Team", None, "Pro"]), min_size=40, max_size=40),
)
def test_rows_explained_in_blocks_on_threads_read_exactly_as_in_one_block(data, block, plans):
    """Large runs are explained in blocks of rows on every core (``BLOCK_ROWS``): the same documents, in order."""
    import models.reasons as reasons

    contrib = frame(data).set_axis([f"r{i}" for i in range(len(data))])
    vals = values([[i % 7, 2, 30 - i, i % 3, 5 + i % 4, 20, plans[i]] for i in range(len(data))])
    causes = {"tickets": ["usage"]}
    whole = explain(contrib, vals, FEATURES, top_k=2, context_groups=["renewal"], causes=causes)
    original, reasons.BLOCK_ROWS = reasons.BLOCK_ROWS, block
    try:
        blocks = explain(contrib, vals, FEATURES, top_k=2, context_groups=["renewal"], causes=causes)
    finally:
        reasons.BLOCK_ROWS = original
    for name in ("reasons", "summary", "first", "contributions"):
        assert list(getattr(blocks, name)) == list(getattr(whole, name)), name
    pd.testing.assert_frame_equal(blocks.group_contributions, whole.group_contributions)


@pytest.mark.parametrize("first", [-0.0, 0.0])
def test_minus_zero_and_zero_read_the_same_whichever_a_block_meets_first(first):
    """Sentences are rendered once per value for the whole run (shared by the blocks): -0.0 is 0.0 there."""
    import models.reasons as reasons

    rows = 12
    contrib = frame([[1.0, 0, 0, 0, 0, 0, 0, 0.0]] * rows)
    zeros = [first if i % 2 == 0 else -first for i in range(rows)]
    vals = values([[z, 5, 5, 0, 8, 20, "Team"] for z in zeros])
    original, reasons.BLOCK_ROWS = reasons.BLOCK_ROWS, 5
    try:
        result = explain(contrib, vals, FEATURES, top_k=1, context_groups=["renewal"])
    finally:
        reasons.BLOCK_ROWS = original
    quoted = [reasons_of(result, i)["risk"][0] for i in range(rows)]
    assert {(q["value"], q["sentence"]) for q in quoted} == {(0.0, "Only 0 events in 7 days")}
    assert len(set(result.reasons)) == 1 and '"value": 0.0' in result.reasons[0]


@settings(max_examples=30, deadline=None)
@given(
    data=hnp.arrays(np.float64, st.tuples(st.integers(2, 25), st.just(len(NAMES) + 1)),
                    elements=st.one_of(st.just(0.0), st.floats(-5, 5, allow_nan=False))),
    numbers=st.lists(st.one_of(st.none(), st.just(-0.0), st.sampled_from([0.0, 1.0, 2.5, 7.0])), min_size=150,
                     max_size=150),
    plans=st.lists(st.sampled_from(["Team", None, "Pro"]), min_size=25, max_size=25),
)
def test_each_row_reads_as_if_explained_alone(data, numbers, plans):
    """Sentences are rendered once per distinct (feature, value, category, direction) of a slot: rows that share
    some of those and differ in the others never borrow each other's text."""
    worded = [f if f.name != "days_to_renewal" else
              feature(f.name, "renewal", "context", risk="Renewal in {value:.0f} days",
                      protective="Renewal {value:.0f} days out, no pressure") for f in FEATURES]
    contrib = frame(data)
    vals = values([[np.nan if n is None else n for n in numbers[6 * i:6 * i + 6]] + [plans[i]]
                   for i in range(len(data))])
    together = explain(contrib, vals, worded, context_groups=["renewal"])
    for i in range(len(data)):
        alone = explain(contrib.iloc[[i]], vals.iloc[[i]], worded, context_groups=["renewal"])
        assert (together.reasons[i], together.summary[i]) == (alone.reasons[0], alone.summary[0])


def test_numbers_are_written_as_numpy_writes_them():
    """The documents' numbers are the text NumPy's ``astype(str)`` gives (Python's float ``repr``), on floats of every
    magnitude, the edges of scientific notation, integers, the smallest and largest floats, and rounded values, where
    those of at most 6 decimals between 1e-4 and 1e9 are written from their count of millionths: around both edges,
    signed, whole, of 4 and of 7 decimals."""
    from models.reason_documents import _number_texts

    rng = np.random.default_rng(7)
    rounded = [np.round(rng.normal(size=5_000) * 10.0 ** rng.integers(-7, 11, 5_000), d) for d in (4, 6, 7)]
    numbers = np.concatenate([rng.normal(size=20_000) * 10.0 ** rng.integers(-320, 300, 20_000),
                              np.round(rng.normal(size=5_000), 6), rng.integers(-10**9, 10**9, 5_000).astype(float),
                              *rounded, np.arange(-200, 201) * 1e-6, 999_999_999.999999 + np.arange(-3, 4) * 1e-6,
                              [0.0, -0.0, 1e16, 9999999999999998.0, 1e-4, 1e-5, 9.9e-05, 0.1, 100.0, 5e-324,
                               1.7976931348623157e308, 123456789012345678.0, -2.5, 1e9, -1e9, 1e15, 0.000123]])
    assert _number_texts(numbers).to_pylist() == numbers.astype(str).tolist()
