"""Why a score moved: the groups whose contributions moved, told in sentences from the feature definitions."""

from __future__ import annotations

from features.base import Definition, Feature
from models.score_moves import MoveTeller, moves, why_moved


def feature(name, group, risk, protective, at_most_zero=None, **params):
    definition = Definition(name=name, family="usage", frame="usage", fn=None, doc=name, unit="", risk=risk,
                            protective=protective, group=group, direction="lower", at_most_zero=at_most_zero)
    return Feature(name, definition, params)


FEATURES = {f.name: f for f in [
    feature("nps_last", "nps", "Last NPS answer was {value:.0f} of 10", "Last NPS answer was {value:.0f} of 10"),
    feature("events_per_user_30d", "usage_depth", "Only {value:,.1f} events per active user in the last {window} days",
            "{value:,.1f} events per active user in the last {window} days", window=30),
    feature("events_7d_vs_baseline", "usage_trend",
            "Daily usage in the last {window} days is {pct} {above} the account's {baseline}-day average",
            "Daily usage in the last {window} days is {pct} {above} the account's {baseline}-day average",
            window=7, baseline=90),
    feature("plan", "plan", "Plan: {value}", "Plan: {value}"),
]}


def test_each_moved_group_reads_as_a_sentence_with_where_its_value_came_from():
    before = {"nps": [-0.2, "nps_last", 8.0, "NPS"], "usage_trend": [-0.1, "events_7d_vs_baseline", 0.1, "Usage"],
              "usage_depth": [0.0, "events_per_user_30d", 20.0, "Events per active user"]}
    now = {"nps": [0.6, "nps_last", 4.0, "NPS"], "usage_trend": [0.4, "events_7d_vs_baseline", -0.861, "Usage"],
           "usage_depth": [0.01, "events_per_user_30d", 19.0, "Events per active user"]}
    assert why_moved(0.12, now, before, None, FEATURES) == (
        "risk up 12 points: Last NPS answer was 4 of 10, down from 8; "
        "Daily usage in the last 7 days is 86 % below the account's 90-day average (was 10 % above)")
    back = why_moved(-0.3, before, now, None, FEATURES, top=3)
    assert back == ("risk down 30 points: Last NPS answer was 8 of 10, up from 4; "
                    "Daily usage in the last 7 days is 10 % above the account's 90-day average (was 86 % below)")


def test_a_category_says_what_it_was_and_a_new_leading_feature_says_where_it_is():
    before = {"plan": [0.0, "plan", "pro", "Plan"], "nps": [0.0, "nps_detractor", 1.0, "NPS"]}
    now = {"plan": [0.3, "plan", "basic", "Plan"], "nps": [0.2, "nps_last", 3.0, "NPS"]}
    assert why_moved(0.1, now, before, None, FEATURES) == (
        "risk up 10 points: Plan: basic (was pro); Last NPS answer was 3 of 10")


def test_small_moves_get_no_reason_and_the_threshold_is_a_setting():
    before, now = {"nps": [0.0, "nps_last", 8.0, "NPS"]}, {"nps": [0.6, "nps_last", 4.0, "NPS"]}
    assert why_moved(0.049, now, before, None, FEATURES) is None  # under the default 5 points
    assert why_moved(0.049, now, before, None, FEATURES, min_points=1).startswith("risk up 5 points: Last NPS")
    assert moves(0.05) and not moves(0.0499) and moves(0.01, 1) and not moves(float("nan"))
    assert why_moved(0.2, now, None, None, FEATURES) is None  # no previous run


def test_no_group_identifier_is_ever_written():
    """Older rows keep only numbers; a group without a known feature is told by its listed sentence or not at all."""
    before = {"tickets": 0.1, "usage_volume": 0.2, "attr_billing_term": 0.0}
    now = {"tickets": 1.0, "usage_volume": 0.5, "attr_billing_term": 0.3}
    said = {"risk": [{"group": "tickets", "sentence": "2 urgent tickets open"}], "protective": [], "context": []}
    text = why_moved(0.12, now, before, said)
    assert text == "risk up 12 points: 2 urgent tickets open"
    assert why_moved(0.12, now, before, None) == "risk up 12 points"
    unknown = {"usage_volume": [0.9, "events_7d", 3.0, "Product usage"]}
    assert why_moved(0.2, unknown, {}, None, FEATURES) == "risk up 20 points"  # no definition: nothing invented


def test_only_the_sentences_told_are_rendered_and_the_reasons_read_only_when_a_group_needs_them():
    """A night after a retrain explains every account: rendering every mover's sentence, or parsing every
    reasons document, was most of the write's time (why_moved renders ``top`` and reads ``reasons`` lazily)."""
    rendered = []

    class Counting(Feature):
        def moved(self, value, before, toward_risk=True):
            rendered.append(self.name)
            return super().moved(value, before, toward_risk)

    features = {n: Counting(f.name, f.definition, f.params) for n, f in FEATURES.items()}
    before = {"nps": [0.0, "nps_last", 8.0, "NPS"], "plan": [0.0, "plan", "pro", "Plan"],
              "usage_depth": [0.0, "events_per_user_30d", 20.0, "Events per active user"]}
    now = {"nps": [0.6, "nps_last", 4.0, "NPS"], "plan": [0.4, "plan", "basic", "Plan"],
           "usage_depth": [0.2, "events_per_user_30d", 9.0, "Events per active user"]}
    read = []

    def reasons():
        read.append(1)
        return {"risk": [{"group": "tickets", "sentence": "2 urgent tickets open"}]}

    assert why_moved(0.2, now, before, reasons, features) == (
        "risk up 20 points: Last NPS answer was 4 of 10, down from 8; Plan: basic (was pro)")
    assert rendered == ["nps_last", "plan"] and not read  # the third mover is not rendered, the reasons not read
    assert why_moved(0.2, now, before, reasons, features, top=0) == "risk up 20 points"
    with_unknown = {**now, "tickets": 0.9}
    assert why_moved(0.2, with_unknown, before, reasons, features) == (
        "risk up 20 points: 2 urgent tickets open; Last NPS answer was 4 of 10, down from 8")
    assert read == [1]  # read once, for the group without a feature


def test_a_teller_renders_each_distinct_sentence_once_and_tells_what_why_moved_tells():
    rendered = []

    class Counting(Feature):
        def moved(self, value, before, toward_risk=True):
            rendered.append((value, before))
            return super().moved(value, before, toward_risk)

    plain = feature("seats", "seats", "{value} seats", "{value} seats")
    features = {"seats": Counting(plain.name, plain.definition, plain.params)}
    before = {"seats": [0.0, "seats", 3.0, "Seats"]}
    tell = MoveTeller(features)
    accounts = [({"seats": [0.5, "seats", 1.0, "Seats"]}, "risk up 10 points: 1.0 seats, down from 3.0"),
                ({"seats": [0.5, "seats", 1.0, "Seats"]}, "risk up 10 points: 1.0 seats, down from 3.0"),
                ({"seats": [0.5, "seats", 1, "Seats"]}, "risk up 10 points: 1 seats, down from 3.0")]
    assert [tell(0.1, now, before, None) for now, _ in accounts] == [expected for _, expected in accounts]
    # the second account reused the first one's sentence; 1 and 1.0 are equal keys but read differently
    assert [(type(v), v) for v, _ in rendered] == [(float, 1.0), (int, 1)]
    assert all(why_moved(0.1, now, before, None, features) == expected for now, expected in accounts)
