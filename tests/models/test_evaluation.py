"""Out-of-time backtest: folds never see the test period, --train-until, metrics, reproducibility."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from models import evaluation
from models.folds import make_folds
from models.health_score import HealthScore
from pipeline.steps import train
from training_fixtures import WINDOW, train_config

def test_backtest_never_trains_on_a_snapshot_whose_label_window_ends_after_the_test_cutoff(demo, tmp_path):
    cfg = train_config(demo["folder"], tmp_path)
    panel = train.usable(demo["table"].frame, demo["table"].data_end, WINDOW)
    folds = make_folds(panel["as_of"], folds=2, test_days=62, window_days=WINDOW, min_train_dates=3)
    fitter, seen = train.make_fitter(cfg, demo["table"]), []

    def spy(rows, trees, *rest):
        seen.append(rows)
        return fitter(rows, trees, *rest)

    result, recipe = evaluation.backtest(panel, folds, spy, HealthScore.from_config(), top_k=20, grid=[20, 40],
                                         default_trees=40)
    assert len(seen) == len(result.folds) == 2
    for used, fold_result in zip(seen, result.folds):
        start = fold_result.fold.test_start
        label_end = pd.to_datetime(used["as_of"]) + pd.Timedelta(days=WINDOW)
        assert (label_end < pd.Timestamp(start)).all(), "trained on a label window ending after the cutoff"
        assert used["label_observed"].all()
        assert (pd.to_datetime(used["churn_date"].dropna()) < pd.Timestamp(start)).all()
        assert set(fold_result.predictions["as_of"]) == set(fold_result.fold.test_dates)
        assert max(fold_result.train_as_of) + timedelta(days=WINDOW) < start
    assert recipe.trees in (20, 40)


def test_each_fold_is_reported_with_choices_made_on_earlier_folds_only():
    aucs = [{50: 0.70, 100: 0.72}, {50: 0.75, 100: 0.71}]
    assert evaluation.choose_trees([], default=100) == 100  # the first fold: nothing earlier to choose on
    assert evaluation.choose_trees(aucs[:1], default=50) == 100
    assert evaluation.choose_trees(aucs, default=50) == 50  # mean 0.725 vs 0.715
    assert evaluation.choose_trees([{50: 0.7, 100: 0.7}], default=100) == 50  # ties: fewer trees


# ---------------------------------------------------------------------- metrics
def test_top_weights_share_ties_fractionally():
    np.testing.assert_allclose(evaluation.top_weights([5, 3, 3, 3, 1], 2), [1, 1 / 3, 1 / 3, 1 / 3, 0])
    np.testing.assert_allclose(evaluation.top_weights([1, 2, 3], 2), [0, 1, 1])
    assert evaluation.top_weights([1, 2], 0).sum() == 0


def test_metrics_by_hand():
    frame = pd.DataFrame({
        "as_of": [date(2025, 1, 1)] * 10 + [date(2025, 2, 1)] * 10,
        "churned": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0] * 2,
        "score": list(np.arange(10, 0, -1)) + list(np.arange(1, 11)),
        "mrr": [100.0] * 20,
    })
    frame["p"] = frame["score"] / 20
    m = evaluation.metrics(frame, "score", "p", top_k=2)
    # snapshot 1 ranks its churner first, snapshot 2 last
    assert m["top_decile_lift"] == pytest.approx(0.5 / 0.1)
    assert m["precision_at_2"] == pytest.approx(1 / 4) and m["recall_at_2"] == pytest.approx(1 / 2)
    assert m["churned_mrr_top_decile"] == pytest.approx(0.5)
    assert m["roc_auc"] == pytest.approx(0.5)


def test_ece_is_zero_for_perfect_calibration_and_large_when_off():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.3, 200_000)
    y = rng.random(200_000) < p
    assert evaluation.ece(y, p) < 0.005
    assert evaluation.ece(y, p * 2) > 0.1


# ------------------------------------------------------------------ reproducible
def test_two_runs_with_one_seed_give_identical_metrics(demo, tmp_path):
    """Also: the model beats the health score out of time on this world."""
    runs = [train.run(train_config(demo["folder"], tmp_path / str(i)), table=demo["table"], track=False)
            for i in range(2)]
    pd.testing.assert_frame_equal(runs[0].backtest.table(), runs[1].backtest.table())
    panel = runs[0].panel
    np.testing.assert_array_equal(runs[0].model.predict_proba(panel), runs[1].model.predict_proba(panel))
    assert runs[0].fingerprint == runs[1].fingerprint
    model, health = runs[0].backtest.pooled()["model"], runs[0].backtest.pooled()["health"]
    assert model["roc_auc"] > health["roc_auc"] > 0.5


def test_screen_measures_each_many_level_attribute_out_of_time():
    from models.classifier import ChurnModel

    rng = np.random.default_rng(5)
    accounts, dates = 600, [date(2024, 1, 1) + timedelta(days=30 * k) for k in range(10)]
    noise = rng.integers(0, 50, accounts).astype(str)
    state = rng.integers(0, 12, accounts)
    rows = []
    for k, day in enumerate(dates):
        usage = rng.gamma(2.0, 10.0, accounts)
        logit = -2.5 - 0.05 * usage + 1.5 * (state < 3)
        rows.append(pd.DataFrame({"account_id": np.arange(accounts).astype(str), "as_of": day, "usage": usage,
                                  "noise": noise, "state": state.astype(str),
                                  "churned": rng.random(accounts) < 1 / (1 + np.exp(-logit))}))
    panel = pd.concat(rows, ignore_index=True)
    folds = make_folds(panel["as_of"], folds=3, test_days=31, window_days=31, min_train_dates=3)

    def fit_without(drop):
        names = [c for c in ("usage", "noise", "state") if c not in drop]

        def fit(rows, trees, calibrator=None, train_until=None):
            return ChurnModel(seed=1).fit(rows, rows["churned"], trees=trees, feature_names=names,
                                          categorical=[c for c in ("noise", "state") if c in names])
        return fit

    found = evaluation.screen(panel, evaluation.fold_splits(panel, folds), fit_without, ["noise", "state"], trees=100)
    assert found["noise"]["with"] == found["state"]["with"]  # one run with every feature
    assert abs(found["noise"]["with"] - found["noise"]["without"]) < 0.01  # noise: no gain to keep it for
    assert found["state"]["with"] > found["state"]["without"] + 0.02

