"""The interval of "MRR kept per 100 contacted": a seeded permutation interval that holds on skewed revenue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.experiments import HOLDOUT, OUTREACH, arms, compare
from models.revenue_intervals import (lost_mrr, mrr_interval_bootstrap, mrr_interval_normal,
                                      mrr_interval_permutation)


def lost(n, churners, big=()):
    """Churned MRR per account of an arm: ``churners`` small accounts (100) and the ``big`` ones, 0 for the rest."""
    values = np.zeros(n)
    values[:churners] = 100.0
    values[churners:churners + len(big)] = big
    return values


def test_on_well_behaved_data_it_agrees_with_the_normal_interval():
    rng = np.random.default_rng(4)
    outreach, holdout = rng.normal(50, 10, 4000), rng.normal(52, 10, 1000)
    permutation, normal = mrr_interval_permutation(outreach, holdout), mrr_interval_normal(outreach, holdout)
    assert permutation == pytest.approx(normal, rel=0.03)
    point = 100 * (holdout.mean() - outreach.mean())
    assert permutation[0] < point < permutation[1]


def test_it_is_seeded_by_the_data_and_degenerate_arms_give_plain_answers():
    outreach, holdout = lost(400, 60, big=(20_000, 15_000)), lost(100, 15)
    first = mrr_interval_permutation(outreach, holdout, resamples=999)
    assert first == mrr_interval_permutation(outreach.copy(), holdout.copy(), resamples=999)
    assert first != mrr_interval_permutation(outreach, lost(100, 16), resamples=999)
    assert mrr_interval_permutation(lost(50, 0), lost(10, 0)) == (0.0, 0.0)
    assert mrr_interval_bootstrap(lost(50, 0), lost(10, 0)) == (0.0, 0.0)
    assert mrr_interval_permutation(lost(50, 5), lost(1, 1)) == mrr_interval_normal(lost(50, 5), lost(1, 1))


def test_a_few_large_churned_accounts_in_one_arm_do_not_make_a_false_finding():
    """The issue's case: large accounts churned in the outreach arm, none in the small holdout."""
    outreach, holdout = lost(500, 60, big=(40_000, 30_000, 25_000, 20_000, 20_000)), lost(100, 14)
    normal = mrr_interval_normal(outreach, holdout)
    assert normal[1] < 0  # the normal interval calls it a loss ...
    low, high = mrr_interval_permutation(outreach, holdout)
    assert low < 0 < high  # ... the re-drawn arms show such a split is what chance does


def test_on_a_re_drawn_a_a_split_of_skewed_revenue_it_covers_zero_as_often_as_it_says():
    rng = np.random.default_rng(11)
    n = 400
    churned = rng.random(n) < 0.2
    rows = pd.DataFrame({"account_id": [f"A{i:04d}" for i in range(n)], "churned": churned.astype(int),
                         "mrr": np.round(rng.lognormal(7, 1.6, n))})
    covered = {"normal": 0, "permutation": 0}
    draws = 120
    for k in range(draws):
        arm = arms(f"aa-{k}", rows["account_id"], 0.2)
        lost_o, lost_h = lost_mrr(rows[arm == OUTREACH]), lost_mrr(rows[arm == HOLDOUT])
        for name, interval in (("normal", mrr_interval_normal(lost_o, lost_h)),
                               ("permutation", mrr_interval_permutation(lost_o, lost_h, resamples=999))):
            covered[name] += interval[0] <= 0 <= interval[1]
    assert covered["permutation"] >= 0.92 * draws, covered
    assert covered["permutation"] > covered["normal"], covered


def test_compare_reports_the_permutation_interval():
    outreach, holdout = lost(400, 60, big=(20_000,)), lost(100, 15)
    frame = lambda v: pd.DataFrame({"churned": (v > 0).astype(int), "mrr": np.where(v > 0, v, 50.0)})  # noqa: E731
    c = compare(frame(outreach), frame(holdout), resamples=999)
    assert c.mrr_retained_per_100 == pytest.approx(100 * (holdout.mean() - outreach.mean()))
    assert c.mrr_retained_ci == mrr_interval_permutation(outreach, holdout, resamples=999)
