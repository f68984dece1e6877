"""The discrete-time hazard model: person-period rows as known at a date, curves, and their checks."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from models.errors import ModelError
from models.hazard import (HazardModel, check_curves, curve_from_hazards, durations, observed_days, person_periods,
                           window_of)

END = date(2025, 1, 1)


def snaps(rows):
    return pd.DataFrame(rows, columns=["as_of", "next_churn_date"]).assign(
        as_of=lambda f: pd.to_datetime(f["as_of"]).dt.date,
        next_churn_date=lambda f: pd.to_datetime(f["next_churn_date"]).dt.date)


def test_observed_days_stop_a_grace_period_before_the_data_end():
    days = observed_days([date(2024, 1, 1), date(2024, 11, 1), date(2024, 12, 15)], END, 30, 180)
    assert list(days) == [180, (END - date(2024, 11, 1)).days - 31, 0]


def test_person_periods_stop_at_the_churn_and_keep_censored_periods():
    frame = snaps([
        ("2024-01-01", "2024-03-15"),   # churns on day 74: periods 1, 2, 3 with the event in 3
        ("2024-01-01", None),           # never churns, fully observed: 6 periods of 0
        ("2024-09-01", None),           # censored: (END - grace) - as_of - 1 = 91 days -> 3 whole periods
    ])
    pp = person_periods(frame, END, 30, 30, 6)
    assert pp.groupby("row")["period"].apply(list).to_dict() == {0: [1, 2, 3], 1: [1, 2, 3, 4, 5, 6], 2: [1, 2, 3]}
    assert pp.loc[pp["event"] == 1, ["row", "period"]].values.tolist() == [[0, 3]]


def test_a_churn_in_a_period_cut_short_by_the_end_is_censored_like_a_survivor():
    # 2024-09-01 observes 91 days (3 whole periods). A churn on day 80 is in period 3 (whole): an event. A churn
    # on day 91 is final too, but in period 4, of which 1 day is seen: counting it while the survivors of that
    # period are dropped would make period 4 all events (the short-history bias towards a hazard of 1).
    frame = snaps([("2024-09-01", "2024-11-20"), ("2024-09-01", "2024-12-01"), ("2024-09-01", None)])
    pp = person_periods(frame, END, 30, 30, 6)
    assert pp.groupby("row")["period"].max().tolist() == [3, 3, 3]
    assert pp.loc[pp["event"] == 1, ["row", "period"]].values.tolist() == [[0, 3]]


def test_a_churn_not_yet_final_at_the_end_is_no_event_and_leaks_nothing():
    # The churn on 2024-12-20 is in the data, but its grace period runs past END: as known at END it is not
    # final, so the row must look exactly like one without it (only periods observed before then, all 0).
    leaky = snaps([("2024-09-01", "2024-12-20")])
    clean = snaps([("2024-09-01", None)])
    pd.testing.assert_frame_equal(person_periods(leaky, END, 30, 30, 6), person_periods(clean, END, 30, 30, 6))
    assert durations(leaky, END, 30, 180)[1].tolist() == [0]
    # ... and a snapshot after END contributes nothing at all
    assert person_periods(snaps([("2025-02-01", "2025-03-01")]), END, 30, 30, 6).empty


def test_curves_are_non_decreasing_and_within_bounds():
    rng = np.random.default_rng(0)
    curves = curve_from_hazards(rng.uniform(0, 1, size=(500, 6)))
    check_curves(curves)
    assert (np.diff(curves, axis=1) >= 0).all() and (curves >= 0).all() and (curves <= 1).all()
    with pytest.raises(ModelError, match="1 of 2"):
        check_curves(np.array([[0.1, 0.2], [0.3, 0.2]]))
    assert window_of(np.array([[0.1, 0.6, 0.7], [0.1, 0.2, 0.3]]), 30).tolist()[0] == 60
    assert np.isnan(window_of(np.array([[0.1, 0.2, 0.3]]), 30)[0])


def world(n=3000, seed=1):
    """Accounts whose risk x sets a constant monthly hazard; monthly snapshots in 2023-2024."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        x = rng.normal()
        start = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 600)))
        life = rng.exponential(30 / (0.02 + 0.25 / (1 + np.exp(-2 * x))))
        churn = start + pd.Timedelta(days=int(life) + 1)
        for as_of in pd.date_range(start, min(churn, pd.Timestamp(END)), freq="MS"):
            if as_of < churn:
                rows.append((f"a{i}", as_of.date(), churn.date(), x, rng.normal()))
    frame = pd.DataFrame(rows, columns=["account_id", "as_of", "churn", "x", "noise"])
    frame["next_churn_date"] = np.where(pd.to_datetime(frame["churn"]) <= pd.to_datetime(frame["as_of"]) +
                                        pd.Timedelta(days=180), frame["churn"], None)
    return frame.drop(columns="churn")


def test_the_hazard_model_ranks_by_the_true_risk_and_its_curves_hold():
    frame = world()
    train = frame[pd.to_datetime(frame["as_of"]) < pd.Timestamp("2024-06-01")]
    model = HazardModel(period_days=30, periods=6).fit(train, date(2024, 6, 1), 30, trees=60,
                                                       feature_names=["x", "noise"])
    assert model.rows_ > len(train) and model.events_ > 0
    test = frame[pd.to_datetime(frame["as_of"]) == pd.Timestamp("2024-06-01")]
    curves = model.predict_curve(test)
    assert curves.shape == (len(test), 6)
    assert pd.Series(curves[:, 0]).corr(test["x"].reset_index(drop=True), method="spearman") > 0.8
    assert np.allclose(model.at(curves, 90), curves[:, 2]) and np.allclose(model.at(curves, 45),
                                                                          (curves[:, 0] + curves[:, 1]) / 2)


def test_the_renewal_decides_only_inside_the_period_where_the_curve_passes_one_half():
    from models.hazard import renewal_decides

    window = [30, 90, 90, 90, np.nan, 30, 180]
    renewal = [0, 61, 60, 90, 20, np.nan, 151]
    assert renewal_decides(window, renewal, 30).tolist() == [True, True, False, True, False, False, True]


def test_hazards_read_the_rows_as_lightgbm_reads_the_frame_categoricals_included():
    frame = world(n=800).assign(plan=lambda f: np.where(f["x"] > 0, "pro", np.where(f["noise"] > 0, "basic", None)))
    model = HazardModel(period_days=30, periods=3).fit(frame, END, 30, trees=20, feature_names=["x", "noise", "plan"],
                                                       categorical=["plan"])
    test = frame.head(300).assign(plan=lambda f: f["plan"].where(f.index % 7 > 0, "unseen"))
    prepared = model.model_.prepare(test.assign(period=1.0))
    expected = np.column_stack([model.model_.booster_.predict(prepared.assign(period=float(k + 1)), raw_score=True)
                                for k in range(3)])
    assert np.allclose(model.hazards(test), 1 / (1 + np.exp(-expected)))


def test_the_trees_split_by_the_period_add_up_to_the_booster():
    from models.hazard import split_trees
    from models.treeshap import lightgbm_matrix

    frame = world(n=800)
    model = HazardModel(period_days=30, periods=4).fit(frame, END, 30, trees=40, feature_names=["x", "noise"])
    fixed, by_period = split_trees(model.model_.booster_, "period")
    assert fixed is not None and by_period is not None
    assert fixed.num_trees() + by_period.num_trees() == model.model_.booster_.num_trees()
    matrix = lightgbm_matrix(model.model_.prepare(frame.head(200).assign(period=2.0)))
    whole = model.model_.booster_.predict(matrix, raw_score=True)
    assert np.allclose(fixed.predict(matrix, raw_score=True) + by_period.predict(matrix, raw_score=True), whole)


def test_the_next_renewal_from_a_periods_first_day_repeats_by_the_term():
    from models.hazard import renewal_from, renewal_timing

    frame = pd.DataFrame({"days_to_renewal": [10.0, 10.0, 10.0, np.nan, 200.0],
                          "billing_term_days": [30.0, 365.0, np.nan, 30.0, 365.0]})
    # from day 30: 10 days to renewal then every 30 -> 10; yearly -> 345; unknown term stays -20; unknown renewal NaN
    assert np.allclose(renewal_from(renewal_timing(frame), 30.0), [10.0, 345.0, -20.0, np.nan, 170.0], equal_nan=True)
    assert np.allclose(renewal_from(renewal_timing(frame), np.array([0.0, 0.0, 0.0, 0.0, 60.0])), [10, 10, 10, np.nan, 140],
                       equal_nan=True)


def renewal_world(n=2000, seed=3):
    """Accounts that may leave only at their renewals (a monthly or yearly term); x sets how likely."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        x, term = rng.normal(), float(rng.choice([30, 365]))
        first = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, int(term))))
        renewals = pd.date_range(first, "2026-06-01", freq=pd.Timedelta(days=term))
        leaves = rng.uniform(size=len(renewals)) < 0.3 / (1 + np.exp(-2 * x)) * (term / 365) ** 0.3
        churn = renewals[leaves][0] if leaves.any() else None
        for as_of in pd.date_range("2023-01-01", min(churn or pd.Timestamp(END), pd.Timestamp(END)), freq="MS"):
            if churn is None or as_of < churn:
                nxt = renewals[renewals > as_of]
                rows.append((f"a{i}", as_of.date(), churn, x, float((nxt[0] - as_of).days), term))
    frame = pd.DataFrame(rows, columns=["account_id", "as_of", "churn", "x", "days_to_renewal", "billing_term_days"])
    frame["next_churn_date"] = [c.date() if c is not None and c <= a + pd.Timedelta(days=180) else None
                                for c, a in zip(frame["churn"], pd.to_datetime(frame["as_of"]))]
    return frame.drop(columns="churn")


def test_with_the_renewal_timing_the_booster_reads_where_the_renewal_falls_in_each_period():
    from models.hazard import RENEWAL_IN_PERIOD, renewal_from, renewal_timing

    frame = renewal_world()
    names = ["x", "days_to_renewal", "billing_term_days"]
    model = HazardModel(period_days=30, periods=4).fit(frame, END, 30, trees=40, feature_names=names)
    assert model.model_.booster_.feature_name() == [*names, "period", RENEWAL_IN_PERIOD]
    test = frame.tail(400)
    raw = np.column_stack([model.model_.booster_.predict(model.model_.prepare(test.assign(
        period=float(k + 1), **{RENEWAL_IN_PERIOD: renewal_from(renewal_timing(test), 30.0 * k)})), raw_score=True) for k in range(4)])
    assert np.allclose(model.hazards(test), 1 / (1 + np.exp(-raw)))
    # a yearly account renewing in 100 days cannot leave in the first 30: its first-period hazard is lower than
    # that of the same account renewing in 10 days
    one = test.head(1).assign(x=1.0, billing_term_days=365.0)
    soon, later = (model.hazards(one.assign(days_to_renewal=d))[0, 0] for d in (10.0, 100.0))
    assert soon > 2 * later


def test_a_model_saved_before_the_renewal_column_reads_the_period_alone():
    frame = world(n=600)
    model = HazardModel(period_days=30, periods=3).fit(frame, END, 30, trees=20, feature_names=["x", "noise"])
    before = model.hazards(frame.head(100))
    del model.per_period_  # what unpickling a model of an earlier version gives
    assert np.array_equal(model.hazards(frame.head(100)), before)


def peak_memory(fn):
    """``fn()`` and the most memory Python and NumPy held at once during the call (tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_booster_is_the_one_fitted_on_the_person_period_rows_built_plainly():
    """The snapshots are typed, as LightGBM reads them, before they are repeated per period (one copy of the rows,
    not three): the booster and its levels are those of the plain construction, a level seen only in a snapshot
    with no observed period included (it is no level of the rows)."""
    from models.classifier import ChurnModel
    from models.hazard import PERIOD, RENEWAL_IN_PERIOD, renewal_from, renewal_timing

    frame = renewal_world(n=600).assign(plan=lambda f: np.where(f["x"] > 0, "pro", np.where(f.index % 3, "basic", None)))
    frame.loc[frame.index[-1], "plan"] = "only_unobserved"  # the last snapshot, at the end: no period observed
    names = ["x", "days_to_renewal", "billing_term_days", "plan"]
    def hazard():
        return HazardModel(period_days=30, periods=4).fit(frame, END, 30, trees=30, feature_names=names,
                                                          categorical=["plan"])

    def plainly():
        expanded = person_periods(frame, END, 30, 30, 4)
        rows = frame.iloc[expanded["row"].to_numpy()][names].reset_index(drop=True)
        rows[PERIOD] = expanded[PERIOD].to_numpy().astype("float64")
        rows[RENEWAL_IN_PERIOD] = renewal_from(renewal_timing(rows), (rows[PERIOD].to_numpy() - 1) * 30)
        return ChurnModel(calibration="none").fit(rows, expanded["event"].to_numpy(), trees=30, categorical=["plan"],
                                                  feature_names=[*names, PERIOD, RENEWAL_IN_PERIOD])

    (model, held), (plain, held_plainly) = peak_memory(hazard), peak_memory(plainly)
    expanded = person_periods(frame, END, 30, 30, 4)
    assert frame.index[-1] not in set(expanded["row"])
    assert held < held_plainly - len(expanded) * (len(names) + 2) * 8  # a copy of the rows fewer, at least
    assert model.model_.categories_ == plain.categories_ == {"plan": ["basic", "pro"]}
    assert model.model_.booster_.model_to_string() == plain.booster_.model_to_string()
    assert model.model_.medians_ == model.model_.reference_ == {}  # rows repeating accounts: nothing to compare with
