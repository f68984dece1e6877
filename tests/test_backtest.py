"""Out-of-time backtest: folds never see the test period, --train-until, metrics, reproducibility."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from models import evaluation
from models.health_score import HealthScore
from pipeline.steps import train
from pipeline.config import load_config
from pipeline.errors import ModelError

#: Small enough for CI, long enough for two out-of-time folds with the default 90 + 30 day label window.
WORLD = {"accounts": 1000, "days": 540, "seed": 11}
TRAINING = {"training.folds": 2, "training.fold_months": 2, "training.validation_months": 2}
_BUILT: dict = {}


def train_config(data, tmp, **overrides):
    """The pipeline config of these tests: temporary report dir and tracking store, never the repo's."""
    return load_config(None, {
        "data": str(data), **TRAINING, "training.report_dir": str(tmp / "reports"),
        "tracking.uri": f"sqlite:///{tmp / 'mlflow.db'}", **overrides,
    })


def build_demo(factory) -> dict:
    """Generate the test world and its snapshot panel once per session (shared with test_registry)."""
    if not _BUILT:
        from pipeline.synthetic import generate_world

        folder = factory.mktemp("train_world") / "world"
        generate_world(folder, **WORLD)
        cfg = train_config(folder, factory.mktemp("unused"))
        table, _ = train.build_panel(cfg, None, lambda msg: None)
        _BUILT.update(folder=folder, table=table)
    return _BUILT


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return build_demo(tmp_path_factory)


WINDOW = 120


def monthly(first: str, n: int) -> list[date]:
    return [d.date() for d in pd.date_range(first, periods=n, freq="MS")]


# ------------------------------------------------------------------------ folds
def test_folds_are_rolling_origin_with_closed_label_windows():
    dates = monthly("2024-04-01", 18)
    folds = evaluation.make_folds(dates, folds=3, fold_months=3, validation_months=3, window_days=WINDOW)
    assert [f.test_start for f in folds] == [date(2025, 1, 1), date(2025, 4, 1), date(2025, 7, 1)]
    assert folds[-1].test_dates == monthly("2025-07-01", 3)
    for f in folds:
        assert max(f.train_dates) + timedelta(days=WINDOW) < f.test_start
        assert max(f.fit_dates) < min(f.valid_dates) and len(f.valid_dates) == 3
        assert all(f.test_start <= d < f.test_end for d in f.test_dates)
    assert folds[0].train_dates == monthly("2024-04-01", 6)


def test_too_short_history_is_a_clear_error():
    with pytest.raises(ModelError, match="not enough history"):
        evaluation.make_folds(monthly("2024-04-01", 5), folds=1, fold_months=1, validation_months=1,
                              window_days=WINDOW)


def test_backtest_never_trains_on_a_snapshot_whose_label_window_ends_after_the_test_cutoff(demo, tmp_path):
    cfg = train_config(demo["folder"], tmp_path)
    panel = train.usable(demo["table"].frame, demo["table"].data_end, WINDOW)
    folds = evaluation.make_folds(panel["as_of"], folds=2, fold_months=2, validation_months=2, window_days=WINDOW)
    fitter, seen = train.make_fitter(cfg, demo["table"]), []

    def spy(fit_rows, valid_rows):
        seen.append(pd.concat([fit_rows, valid_rows]))
        return fitter(fit_rows, valid_rows)

    result = evaluation.backtest(panel, folds, spy, HealthScore.from_config(), top_k=20)
    assert len(seen) == len(result.folds) == 2
    for used, fold_result in zip(seen, result.folds):
        start = fold_result.fold.test_start
        label_end = pd.to_datetime(used["as_of"]) + pd.Timedelta(days=WINDOW)
        assert (label_end < pd.Timestamp(start)).all(), "trained on a label window ending after the cutoff"
        assert used["label_observed"].all()
        assert (pd.to_datetime(used["churn_date"].dropna()) < pd.Timestamp(start)).all()
        tested = fold_result.predictions["as_of"]
        assert (tested >= start).all() and (tested < fold_result.fold.test_end).all()
        assert max(fold_result.train_as_of) + timedelta(days=WINDOW) < start


def test_train_until_uses_only_what_was_known_then(demo, tmp_path):
    cfg = train_config(demo["folder"], tmp_path)
    until = date(2025, 3, 15)
    result = train.run(cfg, train_until=until, track=False)
    assert result.train_until == until and result.table.data_end == until
    assert (pd.to_datetime(result.panel["as_of"]) + pd.Timedelta(days=WINDOW) < pd.Timestamp(until)).all()
    # a snapshot usable on that date has the same features and label as in the full data
    full = demo["table"].frame.set_index(["account_id", "as_of"])
    past = result.panel.set_index(["account_id", "as_of"])
    columns = [*result.table.feature_names, "churned"]
    pd.testing.assert_frame_equal(past[columns], full.loc[past.index, columns], check_dtype=False)
    assert result.report.is_file()


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
    runs = [train.run(train_config(demo["folder"], tmp_path / str(i)), table=demo["table"], track=False)
            for i in range(2)]
    pd.testing.assert_frame_equal(runs[0].backtest.table(), runs[1].backtest.table())
    panel = runs[0].panel
    np.testing.assert_array_equal(runs[0].model.predict_proba(panel), runs[1].model.predict_proba(panel))
    assert runs[0].fingerprint == runs[1].fingerprint
    model, health = runs[0].backtest.pooled()["model"], runs[0].backtest.pooled()["health"]
    assert model["roc_auc"] > health["roc_auc"] > 0.5
