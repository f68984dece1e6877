"""Renewal timing from the data: billing terms inferred from closed rows, ``renewal_date`` when given."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.engine.featurize import build_features
from pipeline.io.sources import open_frames

T = date(2025, 6, 1)
MONTH = 365.25 / 12


def _world(subscriptions: list[tuple], renewal_dates: bool = False) -> dict[str, pd.DataFrame]:
    accounts = sorted({row[0] for row in subscriptions})
    columns = ["account_id", "start_date", "end_date", "mrr", "plan"] + (["renewal_date"] if renewal_dates else [])
    subs = pd.DataFrame(subscriptions, columns=columns).astype({"end_date": object})
    for col in ("start_date", "end_date", "renewal_date"):
        if col in subs:
            subs[col] = pd.to_datetime(subs[col]).dt.date
    return {
        "accounts": pd.DataFrame({"account_id": accounts, "name": accounts, "segment": "SMB", "csm": "Ann",
                                  "created_at": pd.Timestamp("2023-01-01")}),
        "subscriptions": subs,
        "usage_events": pd.DataFrame({"account_id": accounts, "occurred_at": pd.Timestamp("2025-05-30"),
                                      "event_type": "login", "user_id": "u", "quantity": 1.0}),
    }


def _features(tables) -> pd.DataFrame:
    cfg = load_config(None, {"labels.horizon_days": 90})
    with open_frames(tables) as source:
        frame = build_features(source, cfg, [T], with_labels=False, end=T).frame
    return frame.set_index("account_id")[["days_to_renewal", "billing_term_days", "renewal_within_horizon"]]


def test_terms_come_from_the_lengths_of_closed_rows():
    rows = [
        # monthly: a new row every month; the running one started 2025-05-20, 12 days before T
        ("M", "2025-03-20", "2025-04-20", 10.0, "p"), ("M", "2025-04-20", "2025-05-20", 10.0, "p"),
        ("M", "2025-05-20", None, 10.0, "p"),
        # quarterly: rows of 3 months; the running one started 2025-04-15, 47 days before T
        ("Q", "2024-10-15", "2025-01-15", 10.0, "p"), ("Q", "2025-01-15", "2025-04-15", 10.0, "p"),
        ("Q", "2025-04-15", None, 10.0, "p"),
        # annual: one closed year; the running row started 2024-09-01, 273 days before T
        ("A", "2023-09-01", "2024-09-01", 10.0, "p"), ("A", "2024-09-01", None, 10.0, "p"),
        # monthly with a mid-month upgrade: a closed row of 1 month, one of 45 days (fits no term)
        ("U", "2025-02-01", "2025-03-01", 10.0, "p"), ("U", "2025-03-01", "2025-04-15", 10.0, "p"),
        ("U", "2025-04-15", None, 20.0, "q"),
        # a first term still running: nothing tells the term, a year is assumed and the term is unknown
        ("N", "2025-03-01", None, 10.0, "p"),
    ]
    got = _features(_world(rows))
    expected_term = {"M": MONTH, "Q": 3 * MONTH, "A": 12 * MONTH, "U": MONTH}
    for account, term in expected_term.items():
        assert got.loc[account, "billing_term_days"] == pytest.approx(term)
    assert pd.isna(got.loc["N", "billing_term_days"])
    # days to the end of the running term; calendar months differ from 30.44 days by at most ~2 days
    hand = {"M": 19, "Q": 45, "A": 92, "U": 14, "N": 365.25 - 92}
    for account, days in hand.items():
        assert got.loc[account, "days_to_renewal"] == pytest.approx(days, abs=2.5), account
    assert got["renewal_within_horizon"].to_dict() == {"A": 0.0, "M": 1.0, "N": 0.0, "Q": 1.0, "U": 1.0}


def test_renewal_date_is_used_when_the_data_has_it():
    rows = [
        ("R", "2024-09-01", None, 10.0, "p", "2026-09-01"),  # a two-year contract signed on 2024-09-01
        ("S", "2025-05-01", None, 10.0, "p", None),           # no renewal_date on this row: inferred
        ("P", "2024-01-01", "2025-01-01", 10.0, "p", "2025-01-01"), ("P", "2025-01-01", None, 10.0, "p", "2025-07-01"),
    ]
    got = _features(_world(rows, renewal_dates=True))
    assert got.loc["R", "days_to_renewal"] == (date(2026, 9, 1) - T).days
    assert got.loc["P", "days_to_renewal"] == (date(2025, 7, 1) - T).days
    assert got.loc["S", "days_to_renewal"] == pytest.approx(365.25 - 31)
    assert got.loc["P", "renewal_within_horizon"] == 1.0 and got.loc["R", "renewal_within_horizon"] == 0.0


def test_a_renewal_date_does_not_leak_rows_that_start_after_the_as_of_date():
    rows = [("F", "2024-06-10", "2025-06-10", 10.0, "p", "2025-06-10"),  # its end is after T: not known at T
            ("F", "2025-06-10", None, 10.0, "p", "2026-06-10")]           # starts after T: not visible at T
    got = _features(_world(rows, renewal_dates=True))
    assert got.loc["F", "days_to_renewal"] == 9 and pd.isna(got.loc["F", "billing_term_days"])


# ---------------------------------------------------------------- base line, add-on lines, billing periods

ADDON_COLUMNS = ["plan", "mrr", "addon_lines", "addon_mrr_share", "addons_added", "addons_removed",
                 "billing_term_days", "days_to_renewal"]


def _lines(subscriptions: list[tuple], periods: bool = False, **overrides) -> pd.DataFrame:
    tables = _world([row[:5] for row in subscriptions])
    if periods:
        tables["subscriptions"]["billing_period_months"] = [row[5] for row in subscriptions]
    cfg = load_config(None, {"labels.horizon_days": 90, **overrides})
    with open_frames(tables) as source:
        frame = build_features(source, cfg, [T], with_labels=False, end=T).frame
    return frame.set_index("account_id")[ADDON_COLUMNS]


def test_plan_and_term_come_from_the_base_line_and_mrr_sums_the_lines():
    rows = [
        # the starter base line renews yearly; a costlier add-on runs beside it since February
        ("A", "2024-01-01", "2025-01-01", 10.0, "starter"), ("A", "2025-01-01", None, 10.0, "starter"),
        ("A", "2025-02-10", None, 30.0, "meetings"),
        # an add-on removed in May (within 90 days), another added in April
        ("B", "2024-06-01", None, 50.0, "pro"), ("B", "2024-07-01", "2025-05-01", 5.0, "storage"),
        ("B", "2025-04-01", None, 20.0, "meetings"),
    ]
    got = _lines(rows)
    assert got.loc["A", "plan"] == "starter" and got.loc["A", "mrr"] == 40.0
    assert got.loc["A", "addon_lines"] == 1 and got.loc["A", "addon_mrr_share"] == pytest.approx(0.75)
    assert got.loc["A", "billing_term_days"] == pytest.approx(12 * MONTH)  # the add-on's open line is not read
    assert got.loc["A", "addons_added"] == 0  # added in February: more than 90 days before T
    assert got.loc["B", "plan"] == "pro" and got.loc["B", "mrr"] == 70.0
    assert (got.loc["B", "addons_added"], got.loc["B", "addons_removed"]) == (1, 1)


def test_a_plan_switch_stays_the_base_and_configured_names_decide_same_day_add_ons():
    switch = [("S", "2024-01-01", "2025-02-01", 10.0, "starter"), ("S", "2024-01-20", None, 30.0, "meetings"),
              ("S", "2025-02-01", None, 20.0, "pro")]  # switched from starter to pro, the add-on kept
    got = _lines(switch)
    assert got.loc["S", "plan"] == "pro" and got.loc["S", "addon_lines"] == 1
    same_day = [("D", "2024-01-01", None, 10.0, "starter"), ("D", "2024-01-01", None, 30.0, "meetings")]
    assert _lines(same_day).loc["D", "plan"] == "meetings"  # both from the first period: the costlier one
    named = _lines(same_day, **{"features.subscriptions.base_plans": ["Start*"]})
    assert named.loc["D", "plan"] == "starter" and named.loc["D", "addon_lines"] == 1


def test_billing_period_months_gives_the_term_and_the_renewal():
    rows = [
        # monthly lines, then annual from 2025-04-01: the annual term from the switch on
        ("M", "2025-01-01", "2025-04-01", 10.0, "pro", 1), ("M", "2025-04-01", None, 100.0, "pro", 12),
        # one quarterly line still in its first term: no closed line to infer from
        ("Q", "2025-05-01", None, 10.0, "pro", 3),
    ]
    got = _lines(rows, periods=True)
    assert got.loc["M", "billing_term_days"] == pytest.approx(12 * MONTH)
    assert got.loc["M", "days_to_renewal"] == pytest.approx(12 * MONTH - 61)
    assert got.loc["Q", "billing_term_days"] == pytest.approx(3 * MONTH)
    assert got.loc["Q", "days_to_renewal"] == pytest.approx(3 * MONTH - 31)
