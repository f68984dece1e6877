"""Drift check: PSI of today's features against the training reference stored with the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.drift import check, reference_entry, references


@pytest.fixture(scope="module")
def training():
    rng = np.random.default_rng(0)
    n = 5000
    return pd.DataFrame({
        "events_30d": rng.poisson(40, n).astype(float),
        "nps_last": np.where(rng.random(n) < 0.4, rng.integers(0, 11, n), np.nan),
        "segment": pd.Categorical(rng.choice(["SMB", "Mid-Market", "Enterprise"], n, p=[0.6, 0.3, 0.1])),
    })


def reference(frame):
    return {c: reference_entry(frame[c]) for c in frame.columns}


def test_same_distribution_does_not_warn(training):
    rng = np.random.default_rng(1)
    today = training.sample(1500, random_state=1).reset_index(drop=True)
    today["events_30d"] = rng.poisson(40, len(today)).astype(float)
    report = check(reference(training), today, threshold=0.25)
    assert set(report.psi) == set(training.columns)
    assert max(report.psi.values()) < 0.05
    assert report.drifted == {} and report.warning is None


def test_shifted_numeric_feature_is_named(training):
    today = training.copy()
    today["events_30d"] = today["events_30d"] * 0.3  # usage collapsed, e.g. a broken event feed
    report = check(reference(training), today, threshold=0.25)
    assert list(report.drifted) == ["events_30d"]
    assert report.psi["events_30d"] > 1.0
    assert "events_30d" in report.warning and "1 of 3 features" in report.warning


def test_missing_values_and_unseen_levels_count_as_drift(training):
    today = training.copy()
    today["nps_last"] = np.nan  # survey export stopped
    today["segment"] = pd.Categorical(np.where(np.arange(len(today)) % 2, "Startup", "SMB"))
    report = check(reference(training), today, threshold=0.25)
    assert set(report.drifted) == {"nps_last", "segment"}
    assert report.to_dict()["nps_last"] == pytest.approx(report.psi["nps_last"], abs=1e-4)


def test_warning_lists_the_worst_first_and_counts_the_rest():
    ref = {f"f{i}": reference_entry(pd.Series(np.arange(100.0))) for i in range(8)}
    today = pd.DataFrame({f"f{i}": np.arange(100.0) + 10 * i for i in range(8)})
    report = check(ref, today, threshold=0.1)
    names = list(report.drifted)
    assert names[0] == "f7" and len(names) == 7  # f0 is unchanged
    assert "and 2 more" in report.warning


def test_features_without_reference_are_skipped(training):
    report = check({}, training, threshold=0.25)
    assert report.psi == {} and report.warning is None


def test_a_feature_that_grows_with_the_calendar_is_silent_a_shift_in_the_data_is_not():
    # tenure on a young customer base: 100 accounts sign up every month for a year, none leaves
    rng = np.random.default_rng(3)
    signed = np.repeat(np.arange(13), 100) * 30 + rng.uniform(0, 30, 1300)

    def month(k):
        tenure = 30 * k - signed[signed <= 30 * k]
        return pd.DataFrame({"tenure_days": tenure, "logins": rng.poisson(20, tenure.size).astype(float)})

    history = pd.concat([month(k) for k in range(1, 12)])
    recent = pd.concat([month(k) for k in (9, 10, 11)])
    whole, last = references(history, ["tenure_days", "logins"]), references(recent, ["tenure_days", "logins"])
    today = month(12)
    assert check(whole, today, 0.25).drifted.keys() == {"tenure_days"}  # the whole history alone: fires every run
    assert check(whole, today, 0.25, recent=last).warning is None
    broken = today.assign(logins=today["logins"] / 2)  # half of the events lost in a load
    assert list(check(whole, broken, 0.25, recent=last).drifted) == ["logins"]


def test_tenure_of_a_base_that_only_grows_older_is_compared_with_its_reference_aged_to_today():
    # fight-churn-like: every account signed up in the first month, none leaves; five months of history
    from datetime import date, timedelta

    from models.drift import aged_references

    rng = np.random.default_rng(4)
    signed = rng.uniform(0, 30, 1000)
    start = date(2020, 1, 1)

    def month(k):
        return pd.DataFrame({"tenure_days": 30 * k - signed, "logins": rng.poisson(20, signed.size).astype(float),
                             "as_of": start + timedelta(days=30 * k)})

    history = pd.concat([month(k) for k in range(1, 6)])
    recent = pd.concat([month(k) for k in (3, 4, 5)])
    whole = references(history, ["tenure_days", "logins"])
    young = references(recent, ["tenure_days", "logins"])
    aged = aged_references(recent[["tenure_days", "logins"]], recent["as_of"], ["tenure_days"])
    assert aged["tenure_days"]["aged_to"] == str(start + timedelta(days=150))
    today, day = month(7), start + timedelta(days=210)
    assert "tenure_days" in check(whole, today, 0.25, recent=young).drifted  # both references are younger
    assert check(whole, today, 0.25, recent=aged, as_of=day).warning is None
    assert "tenure_days" in check(whole, today, 0.25, recent=aged).drifted  # no date: nothing to age by
    broken = today.assign(tenure_days=today["tenure_days"] + 90)  # e.g. created_at shifted by a re-import
    assert "tenure_days" in check(whole, broken, 0.25, recent=aged, as_of=day).drifted


def test_a_window_that_fills_as_a_young_base_ages_is_compared_only_among_accounts_old_enough():
    # a 90-day count on a base of accounts 10-130 days old in training and 40-160 days old today
    rng = np.random.default_rng(6)

    def base(oldest):
        tenure = rng.uniform(oldest - 120, oldest, 3000)
        per_day = rng.gamma(16.0, 0.125, tenure.size)
        return pd.DataFrame({"tenure_days": tenure, "events_90d": per_day * np.minimum(tenure, 90)})

    training, today = base(130), base(160)
    plain = references(training, ["events_90d"])
    full = references(training, ["events_90d"], training["tenure_days"], {"events_90d": 90})
    assert full["events_90d"]["history_days"] == 90 and full["events_90d"]["tenure"] == "tenure_days"
    assert "events_90d" in check(plain, today, 0.25).drifted  # the windows filled: "drift" on every run
    assert check(full, today, 0.25).warning is None
    broken = today.assign(events_90d=today["events_90d"] / 2)  # half of the events lost in a load
    assert "events_90d" in check(full, broken, 0.25).drifted


def test_a_feature_no_training_account_was_old_enough_for_is_left_unchecked_and_said():
    training = pd.DataFrame({"tenure_days": np.linspace(1, 150, 500), "changes_365d": np.arange(500) % 5})
    refs = references(training, ["changes_365d"], training["tenure_days"], {"changes_365d": 365})
    assert refs["changes_365d"] == {"unchecked": 0, "history_days": 365, "tenure": "tenure_days"}
    report = check(refs, training.assign(changes_365d=50), 0.25)
    assert report.warning is None and report.unchecked == {"changes_365d": 365}
    assert "changes_365d (365 days)" in report.note and report.to_dict() == {"changes_365d": None}


def test_accounts_that_signed_up_after_training_are_no_tenure_drift_a_shifted_created_at_is():
    # a growing base: 100 accounts sign up every week; trained on week 20, scored every week up to week 40
    from datetime import date, timedelta

    from models.drift import aged_references

    rng = np.random.default_rng(8)
    signed = np.repeat(np.arange(41), 100) * 7 + rng.uniform(0, 7, 4100)
    start = date(2020, 1, 6)

    def week(k):
        tenure = 7 * k - signed[signed <= 7 * k]
        return pd.DataFrame({"tenure_days": tenure, "as_of": start + timedelta(days=7 * k)})

    history = pd.concat([week(k) for k in range(4, 21)])
    recent = pd.concat([week(k) for k in range(8, 21)])
    whole = references(history, ["tenure_days"])
    aged = aged_references(recent[["tenure_days"]], recent["as_of"], ["tenure_days"])
    for k in range(21, 41):
        today, day = week(k), start + timedelta(days=7 * k)
        assert check(whole, today, 0.25, recent=aged, as_of=day).warning is None, k
    broken = today.assign(tenure_days=today["tenure_days"] + 60)  # created_at moved by a re-import
    assert "tenure_days" in check(whole, broken, 0.25, recent=aged, as_of=day).drifted
    early = today.assign(tenure_days=today["tenure_days"] - 60)  # the other way: many read as new signups
    assert "tenure_days" in check(whole, early, 0.25, recent=aged, as_of=day).drifted


def test_recency_on_a_monday_is_compared_with_training_mondays_a_real_lapse_still_drifts():
    # monthly snapshots mix weekdays; on a Monday the weekend adds two days to every recent account's recency
    from datetime import date

    from models.drift import aged_references

    rng = np.random.default_rng(9)
    days = pd.date_range("2024-01-01", periods=18, freq="MS").date  # 1st of each month: 3 Mondays among them

    def snapshot(day, n=800):
        weekend = {0: 2, 6: 1}.get(day.weekday(), 0)  # Monday: Sat and Sun idle; Sunday: Sat idle
        return pd.DataFrame({"days_since_last_activity": rng.geometric(0.6, n) + weekend, "as_of": day})

    history = pd.concat([snapshot(d) for d in days], ignore_index=True)
    recent = pd.concat([snapshot(d) for d in days[-3:]], ignore_index=True)
    monday = date(2025, 9, 1)
    today = snapshot(monday)
    weekday = pd.Series(pd.to_datetime(history["as_of"]).dt.weekday.to_numpy())
    plain = references(history, ["days_since_last_activity"])
    plain_recent = aged_references(recent[["days_since_last_activity"]], recent["as_of"], [])
    assert "days_since_last_activity" in check(plain, today, 0.25, plain_recent, monday).drifted

    whole = references(history, ["days_since_last_activity"], weekly=["days_since_last_activity"], weekday=weekday)
    aged = aged_references(recent[["days_since_last_activity"]], recent["as_of"], [],
                           weekly=["days_since_last_activity"])
    assert set(whole["days_since_last_activity"]["by_weekday"]) >= {"0"}
    assert check(whole, today, 0.25, aged, monday).warning is None
    lapsed = today.assign(days_since_last_activity=today["days_since_last_activity"] + 7)  # a week without events
    assert "days_since_last_activity" in check(whole, lapsed, 0.25, aged, monday).drifted
    tuesday = date(2025, 9, 2)  # a weekday training never had: the mix of every weekday, as before
    assert check(whole, snapshot(tuesday), 0.25, aged, tuesday).warning is None


def test_array_and_level_counts_give_the_pandas_shares():
    """The NumPy paths (a float column as an array, edges counted by comparison, categories counted per code) give
    exactly the shares of the plain pandas reading: ties on the edges, NaN, infinities and unused levels."""
    from models.drift import _bin_shares, distribution

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.integers(0, 6, 997).astype(float), [np.nan, np.inf, -np.inf]])
    edges = [0.0, 1.0, 2.5, 5.0]
    present = values[~np.isnan(values)]
    by_search = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1) / len(values)
    assert _bin_shares(present, edges, len(values)) == by_search.tolist()
    assert _bin_shares(np.array([]), [], 1) == [0.0] and _bin_shares(present, [], len(present)) == [1.0]
    entry = {"edges": edges, "shares": [], "missing": 0.0}
    assert distribution(values, entry) == distribution(pd.Series(values), entry)
    levels = pd.Categorical(["a", None, "b", "a", "zz"], categories=["a", "b", "unused", "zz"])
    entry = {"levels": {"a": 0.5, "b": 0.3, "unused": 0.2}, "missing": 0.0}
    counted = distribution(pd.Series(levels), entry)
    assert counted == distribution(pd.Series(levels.astype(object)), entry)
    assert counted["levels"] == {"a": 0.4, "b": 0.2, "unused": 0.0, "__other__": 0.2}


def test_nullable_float_columns_are_compared_like_plain_floats(training):
    """A nullable ``Float64`` column (pd.NA for missing) gives the PSI of the same values as float64 with NaN."""
    today = training.sample(1500, random_state=2).reset_index(drop=True)
    nullable = today.astype({"events_30d": "Float64", "nps_last": "Float64"})
    assert nullable["nps_last"].isna().any()
    ref = reference(training)
    assert check(ref, nullable, threshold=0.25).psi == check(ref, today, threshold=0.25).psi
