"""Capacity marks and the plain words of a call list (models/call_list.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.call_list import SENTENCES, call_reasons, capacity_rule, within_capacity

CSM = pd.Series(["Ann", "Ben", "Ann", None, "Ann", "Ben", "Ben"])
ALL = np.ones(len(CSM), dtype=bool)


def test_no_capacity_marks_nothing():
    assert within_capacity(CSM, ALL) is None and capacity_rule() is None


def test_the_team_capacity_marks_the_first_rows_in_list_order():
    assert within_capacity(CSM, ALL, weekly_calls=3).tolist() == [True, True, True, False, False, False, False]
    assert capacity_rule(15) == "15 calls a week: the first 15 are marked"


def test_a_holdout_row_takes_no_call_and_the_next_one_gets_it():
    callable_ = np.array([True, False, True, True, True, True, True])
    assert within_capacity(CSM, callable_, weekly_calls=3).tolist() == [True, False, True, True, False, False, False]


def test_per_csm_capacity_marks_each_csms_first_rows_and_no_unassigned_row():
    assert within_capacity(CSM, ALL, calls_per_csm=2).tolist() == [True, True, True, False, False, True, False]
    assert capacity_rule(calls_per_csm=5) == "5 calls a week per CSM: each CSM's first 5 are marked"


def test_both_capacities_must_hold():
    assert within_capacity(CSM, ALL, weekly_calls=3, calls_per_csm=2).tolist() == [
        True, True, True, False, False, False, False]
    assert capacity_rule(10, 2).endswith("up to 10 for the team")


def test_call_reasons_say_why_an_account_is_high_or_low():
    tier = pd.Series(["high", "high", "medium", "high", "low", "high"])
    p = pd.Series([0.5, 0.5, 0.2, 0.4, 0.02, 0.3])
    uplift = pd.Series([0.3, 0.01, 0.04, -0.05, 0.01, 0.1])
    got = call_reasons(tier, p, uplift, usually=0.5, hardly=0.1, order="churn probability")
    assert got.tolist() == [SENTENCES["usually"], SENTENCES["whatever"], SENTENCES["sometimes"], SENTENCES["backfire"],
                            SENTENCES["unlikely"], SENTENCES["sometimes"]]
    assert got[0] == "likely to leave, and accounts like it usually stay when called"
    assert got[1] == "likely to leave whatever we do" and got[4] == "unlikely to leave"


def test_the_thresholds_come_from_the_arguments():
    tier, p, uplift = pd.Series(["high"]), pd.Series([0.5]), pd.Series([0.2])  # a call removes 40 % of the churn
    assert call_reasons(tier, p, uplift, usually=0.5, hardly=0.1, order="x")[0] == SENTENCES["sometimes"]
    assert call_reasons(tier, p, uplift, usually=0.4, hardly=0.1, order="x")[0] == SENTENCES["usually"]
    assert call_reasons(tier, p, uplift, usually=0.9, hardly=0.45, order="x")[0] == SENTENCES["whatever"]


def test_without_an_uplift_the_words_say_what_orders_the_list():
    got = call_reasons(pd.Series(["high", "low"]), pd.Series([0.5, 0.01]), pd.Series([None, None], dtype=float),
                       usually=0.5, hardly=0.1, order="churn probability × MRR")
    assert got.tolist() == ["likely to leave (no validated uplift model yet: listed by churn probability × MRR)",
                            "unlikely to leave"]
    assert call_reasons(pd.Series(["high"]), pd.Series([0.5]), None, usually=0.5, hardly=0.1,
                        order="churn probability")[0].endswith("listed by churn probability)")


def test_a_holdout_row_takes_none_of_its_csms_calls():
    callable_ = np.array([False, True, True, True, True, True, True])
    assert within_capacity(CSM, callable_, calls_per_csm=1).tolist() == [False, True, True, False, False, False, False]
