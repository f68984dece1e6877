"""Feature values computed by hand on the tiny world (tests/tiny_world.py), as of 2024-04-01."""

from __future__ import annotations

import math
from datetime import date

import pytest

import tiny_world
from pipeline.config import load_config
from pipeline.engine.featurize import build_features
from pipeline.io.sources import open_source

T = date(2024, 4, 1)
END = date(2024, 9, 1)
NAN = float("nan")


def config():
    return load_config(
        None,
        {
            "features.attributes.categorical": ["industry"],
            "features.attributes.numeric": ["seats"],
            "features.milestones.value_milestones": ["first_report"],
        },
    )


def build(folder, skip=()):
    tiny_world.write(folder, skip=skip)
    with open_source(folder) as source:
        return build_features(source, config(), [T], end=END)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return build(tmp_path_factory.mktemp("tiny"))


def row(table, account):
    frame = table.frame.set_index("account_id")
    return frame.loc[account]


EXPECTED_A1 = {
    # usage: events at d=1 (1), d=7 (3), d=12 (1, null quantity = 1), d=46 (1), d=108 (1); one at T unseen
    "events_7d": 4, "events_30d": 5, "events_90d": 6,
    "events_login_7d": 1, "events_login_30d": 2, "events_login_90d": 3,
    "events_report_view_7d": 3, "events_export_90d": 0,
    "active_days_7d": 2, "active_days_30d": 3, "active_days_90d": 4,
    "active_users_7d": 2, "active_users_30d": 2, "active_users_90d": 2,
    "events_trend": 4.0,  # 5 in the last 30 days vs 1 in the 30 before
    "active_users_trend": 1.0,  # 2 users vs 1
    "usage_slope": 1.04,  # weekly events oldest..newest 0,0,1,4: slope 1.3 / mean 1.25
    "days_since_last_activity": 1, "breadth_7d": 2, "breadth_90d": 2,
    "events_per_user_30d": 2.5,
    "events_7d_vs_baseline": (4 / 7) / (6 / 90) - 1, "events_30d_vs_baseline": (5 / 30) / (6 / 90) - 1,
    "events_login_7d_vs_baseline": (1 / 7) / (3 / 90) - 1, "events_login_30d_vs_baseline": (2 / 30) / (3 / 90) - 1,
    "events_report_view_7d_vs_baseline": (3 / 7) / (3 / 90) - 1, "events_export_30d_vs_baseline": NAN,
    # tickets: T1 24 h (high), T2 open at T (urgent, resolved after T), T3 12 h, T4 at T unseen
    "tickets_30d": 2, "tickets_90d": 2, "open_tickets": 1, "open_urgent_tickets": 1,
    "oldest_open_urgent_ticket_days": 12, "median_resolution_hours": 18.0,
    "p90_resolution_hours": 22.8, "unresolved_share": 1 / 3, "recent_csat": 4.0,
    # milestones: kickoff 1 day early, first_report 76 late, team_rollout open and 31 days overdue
    "milestone_kickoff_days_late": -1, "milestone_first_report_days_late": 76,
    "milestone_team_rollout_days_late": 31, "milestone_integration_live_days_late": NAN,
    "overdue_open_milestones": 1, "milestones_on_time_share": 1 / 3, "days_to_first_value": 121,
    # NPS: 9 then 4; the 10 at T is unseen
    "nps_last": 4, "nps_detractor": 1, "nps_promoter": 0, "nps_change": -5, "days_since_nps": 17,
    # revenue: 100 -> 150 on 2024-02-01
    # a 2-month first row makes the term monthly; the running row (2024-02-01) renews about now
    "mrr": 150, "mrr_change": 0.5, "days_to_renewal": 30.4375 * 3 - 60 - 30.4375 * 1, "billing_term_days": 30.4375,
    "renewal_within_horizon": 1, "subscription_changes_365d": 2,
    "plan": "pro", "tenure_days": 122, "segment": "SMB", "attr_industry": "retail", "attr_seats": 10,
}

EXPECTED_A2 = {  # a subscription and nothing else
    "events_30d": 0, "active_days_30d": 0, "active_users_30d": 0, "events_trend": NAN,
    "usage_slope": NAN, "days_since_last_activity": 91, "breadth_30d": 0, "events_per_user_30d": NAN,
    "events_7d_vs_baseline": NAN,
    "tickets_90d": 0, "open_tickets": 0, "open_urgent_tickets": 0, "oldest_open_urgent_ticket_days": 0,
    "median_resolution_hours": NAN, "unresolved_share": NAN, "recent_csat": NAN,
    "milestone_kickoff_days_late": NAN, "overdue_open_milestones": 0, "milestones_on_time_share": NAN,
    "days_to_first_value": NAN, "nps_last": NAN, "nps_detractor": NAN, "nps_change": NAN,
    "days_since_nps": NAN, "mrr": 1000, "mrr_change": NAN, "plan": "enterprise", "tenure_days": 77,
}


def assert_values(actual_row, expected):
    for name, want in expected.items():
        got = actual_row[name]
        if isinstance(want, str):
            assert got == want, name
        elif isinstance(want, float) and math.isnan(want):
            assert got is None or math.isnan(got), f"{name}: expected missing, got {got}"
        else:
            assert got == pytest.approx(want), f"{name}: expected {want}, got {got}"


def test_hand_computed_values_for_a_busy_account(table):
    assert_values(row(table, "A1"), EXPECTED_A1)


def test_account_with_no_events_tickets_milestones_or_nps(table):
    assert_values(row(table, "A2"), EXPECTED_A2)


def test_only_active_accounts_get_a_row_and_labels_follow_the_contract(table):
    frame = table.frame.set_index("account_id")
    assert sorted(frame.index) == ["A1", "A2"]  # A3 ended on 2024-03-01
    assert frame.loc["A2", "churned"] == 1  # coverage ends 2024-05-01, inside (T, T+90]
    assert frame.loc["A1", "churned"] == 0


@pytest.mark.parametrize(
    "absent, dropped",
    [
        ("support_tickets", "open_urgent_tickets"),
        ("milestones", "overdue_open_milestones"),
        ("nps_responses", "nps_last"),
    ],
)
def test_absent_optional_table_drops_its_features(tmp_path, absent, dropped):
    built = build(tmp_path / "w", skip=(absent,))
    assert dropped not in built.feature_names
    assert "events_30d" in built.feature_names
    assert_values(row(built, "A1"), {"events_30d": 5, "mrr": 150})


def test_every_feature_has_a_meaning_unit_and_sentences(table):
    for f in table.features:
        assert f.description and "{" not in f.description, f.name
        assert f.definition.unit, f.name
        assert f.sentence(1.0) and f.sentence(None, toward_risk=False), f.name


def test_a_feature_tells_many_numbers_as_it_tells_each_one(table):
    """``Feature.sentences`` (the scorer's, a feature's numbers at once) writes what ``sentence`` writes number by
    number: both directions, at and below zero, around one (singular or plural), at and past each cap."""
    numbers = [-2.5, -1.0, -0.5, 0.0, 0.4, 0.5, 0.6, 1.0, 1.49, 1.5, 2.5, 89.9, 90.0, 365.0, 1234567.891, 1e-07,
               0.123456, *map(float, range(0, 400, 7))]
    for f in table.features:
        if f.kind != "categorical":
            for toward in (True, False):
                assert f.sentences(numbers, toward) == [f.sentence(n, toward) for n in numbers], (f.name, toward)


@pytest.mark.parametrize("values", [[], ["onboarding_call"]])
def test_first_value_is_any_milestone_when_none_of_the_configured_ones_is_in_the_data(tmp_path, values):
    tiny_world.write(tmp_path)
    cfg = load_config(None, {"features.milestones.value_milestones": values})
    with open_source(tmp_path) as source:
        frame = build_features(source, cfg, [T], end=END).frame.set_index("account_id")
    assert frame.loc["A1", "days_to_first_value"] == 6  # kickoff, completed 6 days after creation


def test_every_definition_declares_how_risk_moves_with_its_value():
    from features.base import DIRECTIONS, REGISTRY

    by_name = {d.name: d.direction for d in REGISTRY}
    assert set(by_name.values()) <= set(DIRECTIONS)
    assert all(d.direction == "context" for d in REGISTRY if d.kind != "numeric")  # a category has no order
    context = {"mrr", "tenure_days", "plan", "segment", "days_to_renewal", "billing_term_days",
               "renewal_within_horizon"}
    assert {n for n, d in by_name.items() if n in context} == context
    assert all(by_name[n] == "context" for n in context)
    assert by_name["open_urgent_tickets"] == "higher" and by_name["events_{window}d"] == "lower"


@pytest.mark.parametrize("name, value, sentence", [
    ("active_users_{window}d", 1, "Only 1 active user in the last 30 days"),
    ("active_users_{window}d", 2, "Only 2 active users in the last 30 days"),
    ("overdue_open_milestones", 1, "1 onboarding milestone is overdue and not done"),
    ("overdue_open_milestones", 3, "3 onboarding milestones are overdue and not done"),
    ("days_since_last_activity", 1.2, "No product activity for 1 day"),
    ("open_tickets", float("nan"), "unknown support tickets still open"),
])
def test_sentences_agree_in_number_with_the_value_shown(name, value, sentence):
    from features.base import REGISTRY, Feature

    definition = next(d for d in REGISTRY if d.name == name)
    assert Feature(name, definition, {"window": 30}).sentence(value) == sentence


def test_onboarding_lateness_speaks_only_while_onboarding_is_recent_and_ticket_age_is_capped(tmp_path):
    tiny_world.write(tmp_path)
    cfg = load_config(None, {"features.milestones.relevance_days": 100,  # A1 is 122 days old at T
                             "features.tickets.max_age_days": 5})
    with open_source(tmp_path) as source:
        a1 = build_features(source, cfg, [T], end=END).frame.set_index("account_id").loc["A1"]
    assert math.isnan(a1["milestone_team_rollout_days_late"]) and math.isnan(a1["milestone_kickoff_days_late"])
    assert a1["overdue_open_milestones"] == 0
    assert a1["milestones_on_time_share"] == pytest.approx(1 / 3)  # the record stays; only lateness stops speaking
    assert a1["oldest_open_urgent_ticket_days"] == 5  # 12 days open, capped


@pytest.mark.parametrize("name, params, value, sentence", [
    ("events_{window}d_vs_baseline", {"window": 7, "baseline": 90}, -0.861,
     "Daily usage in the last 7 days is 86 % below the account's 90-day average"),
    ("events_{window}d_vs_baseline", {"window": 7, "baseline": 90}, 0.3,
     "Daily usage in the last 7 days is 30 % above the account's 90-day average"),
    ("events_{event}_{window}d_vs_baseline", {"window": 7, "baseline": 90, "event_type": "report_view"}, -1.0,
     "Daily 'report_view' events in the last 7 days are down 100 % on the account's 90-day average"),
    ("events_trend", {"trend": 30}, 0.3, "Product usage is up 30 % on the previous 30 days"),
    ("nps_change", {}, -4.0, "NPS went down 4 points since the previous answer"),
    ("mrr_change", {"mrr_days": 90}, -0.25, "Monthly revenue is down 25 % on 90 days ago"),
    ("attr_{attribute}", {"attribute": "billing_term"}, "annual", "Billing term: annual"),
    ("attr_{attribute}", {"attribute": "seats_purchased"}, 430.0, "Seats purchased: 430"),
    ("plan", {}, "Business", "Plan: Business"),
])
def test_sentences_read_like_a_person_wrote_them(name, params, value, sentence):
    from features.base import REGISTRY, Feature

    definition = next(d for d in REGISTRY if d.name == name and (d.kind == "categorical") == isinstance(value, str))
    feature = Feature(name, definition, params)
    assert feature.sentence(value) == feature.sentence(value, toward_risk=False) == sentence


def unquoted(text: str) -> str:
    """``text`` without its quoted names from the data ('report_view' is an event type, not an identifier)."""
    import re

    return re.sub(r"'[^' ]*'", "''", text)


def test_every_group_has_one_name_in_words_and_no_sentence_shows_an_identifier(table):
    topics: dict[str, set[str]] = {}
    for f in table.features:
        topics.setdefault(f.group, set()).add(f.topic)
    assert all(len(t) == 1 and "" not in t and "_" not in unquoted(next(iter(t))) for t in topics.values()), topics
    assert {f.topic for f in table.features if f.group == "attr_industry"} == {"Industry"}
    for f in table.features:
        for value in (-0.5, 0.0, 3.0, "x" if f.kind == "categorical" else 12.0):
            for toward in (True, False):
                text = unquoted(f.sentence(value, toward) + f.moved(value, 1.0, toward))
                assert "_" not in text and " vs " not in text and "{" not in text, (f.name, text)


def test_a_move_says_where_the_value_came_from_in_the_sentence_s_own_format():
    from features.base import REGISTRY, Feature

    nps = Feature("nps_last", next(d for d in REGISTRY if d.name == "nps_last"), {})
    assert nps.moved(8.0, 4.0) == "Last NPS answer was 8 of 10, up from 4"
    assert nps.moved(8.0, 8.2) == "Last NPS answer was 8 of 10"  # reads the same: nothing to add
    assert nps.moved(8.0, None) == nps.moved(8.0, float("nan")) == "Last NPS answer was 8 of 10"
    usage = Feature("events_7d_vs_baseline", next(d for d in REGISTRY if d.name == "events_{window}d_vs_baseline"),
                    {"window": 7, "baseline": 90})
    assert usage.moved(-0.86, 0.1) == ("Daily usage in the last 7 days is 86 % below the account's 90-day average "
                                       "(was 10 % above)")
    events = Feature("events_30d", next(d for d in REGISTRY if d.name == "events_{window}d"), {"window": 30})
    assert events.moved(0.0, 1200.0) == "No product events in the last 30 days, down from 1,200"
    assert events.moved(1200.0, 0.0, toward_risk=False) == "1,200 product events in the last 30 days, up from 0"
    assert events.moved(0.0, -0.0) == "No product events in the last 30 days"
    detractor = Feature("nps_detractor", next(d for d in REGISTRY if d.name == "nps_detractor"), {})
    assert detractor.moved(1.0, 0.0) == "The customer is an NPS detractor (last score 0-6)"  # no value to compare
    change = Feature("nps_change", next(d for d in REGISTRY if d.name == "nps_change"), {})
    assert change.moved(-4.0, 2.0) == "NPS went down 4 points since the previous answer (was up 2)"
