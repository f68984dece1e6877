"""Tests mirroring ``models/calibration.py``: each calibrator, its fallback on too little data, and ``auto``."""

from __future__ import annotations

import numpy as np
import pytest

from models import calibration
from models.calibration import METHODS, MIN_POSITIVES, MIN_ROWS


def overconfident(n: int, seed: int = 0):
    """Raw log-odds three times too steep (and shifted) for outcomes drawn from the true log-odds."""
    rng = np.random.default_rng(seed)
    true = rng.normal(-1.5, 1.0, n)
    y = (rng.random(n) < calibration.sigmoid(true)).astype(int)
    return 3 * true + 2, y


@pytest.mark.parametrize("method", METHODS)
def test_every_method_maps_to_a_nondecreasing_probability(method):
    raw, y = overconfident(2000)
    cal = calibration.fit(method, raw, y)
    assert cal.method == method
    grid = np.linspace(raw.min() - 20, raw.max() + 20, 401)  # beyond the fitted range as well
    p = cal.predict(grid)
    assert p.shape == grid.shape
    assert np.all((p >= 0) & (p <= 1))
    assert np.all(np.diff(p) >= 0)


def test_none_keeps_the_boosters_own_probabilities():
    raw, y = overconfident(500)
    np.testing.assert_allclose(calibration.fit("none", raw, y).predict(raw), calibration.sigmoid(raw))
    np.testing.assert_allclose(calibration.Calibrator().predict(raw), calibration.sigmoid(raw))


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_a_fitted_calibrator_matches_the_observed_rate_on_its_data(method):
    raw, y = overconfident(3000, seed=1)
    fitted = calibration.fit(method, raw, y).predict(raw)
    assert fitted.mean() == pytest.approx(y.mean(), abs=1e-3)
    assert abs(calibration.sigmoid(raw).mean() - y.mean()) > 0.02  # the raw scores were off


def outcomes(rows: int, positives: int) -> np.ndarray:
    return np.r_[np.ones(positives, dtype=int), np.zeros(rows - positives, dtype=int)]


@pytest.mark.parametrize("rows, positives", [
    (MIN_ROWS * 3, 0),  # one class: all negative
    (MIN_ROWS * 3, MIN_ROWS * 3),  # one class: all positive
    (MIN_ROWS - 1, MIN_ROWS // 2),  # too few rows
    (MIN_ROWS * 3, MIN_POSITIVES - 1),  # too few positives
    (MIN_ROWS * 3, MIN_ROWS * 3 - MIN_POSITIVES + 1),  # too few negatives
])
@pytest.mark.parametrize("method", ["sigmoid", "isotonic", "auto"])
def test_too_little_signal_falls_back_to_none(method, rows, positives):
    y = outcomes(rows, positives)
    raw = np.linspace(-3, 3, rows)
    cal = calibration.choose(raw, y, method)
    assert cal.method == "none"
    np.testing.assert_allclose(cal.predict(raw), calibration.sigmoid(raw))


def test_the_thresholds_themselves_are_enough():
    y = outcomes(MIN_ROWS, MIN_POSITIVES)
    assert calibration.fit("isotonic", np.linspace(-3, 3, MIN_ROWS), y).method == "isotonic"


def test_isotonic_helper_fits_whatever_the_sample_size():
    score, y = np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 1, 0, 1])
    assert calibration.fit("isotonic", score, y).method == "none"  # the guarded path refuses
    iso = calibration.isotonic(score, y)
    assert iso.method == "isotonic"
    p = iso.predict(np.array([-1.0, 0.1, 0.35, 0.4, 0.8, 2.0]))
    assert np.all(np.diff(p) > 0) and 0 < p[0] < p[-1] < 1  # flat beyond the outer blocks but for the tie-break


def test_auto_scores_every_candidate_and_keeps_the_best():
    raw, y = overconfident(2000, seed=2)
    chosen = calibration.choose(raw, y, "auto", seed=3)
    assert set(chosen.scores) == set(METHODS)
    assert chosen.scores[chosen.method] == min(chosen.scores.values())
    assert calibration.choose(raw, y, "auto", seed=3).scores == chosen.scores  # same seed, same split
    # "none" fits nothing, so its cross-validated Brier score is the plain one
    assert chosen.scores["none"] == pytest.approx(np.mean((calibration.sigmoid(raw) - y) ** 2))


@pytest.mark.parametrize("method", ["platt", "AUTO"])
def test_an_unknown_method_is_refused_by_name(method):
    with pytest.raises(ValueError, match=repr(method)):
        calibration.choose([0.0, 1.0], [0, 1], method)


def drifting(periods: list[float], n: int = 3000, seed: int = 0):
    """Per period: honest raw log-odds, and outcomes whose churn rate shifts by ``shift`` on the logit scale."""
    rng = np.random.default_rng(seed)
    raws, labels = [], []
    for shift in periods:
        true = rng.normal(-2.5, 1.0, n)
        raws.append(true)
        labels.append((rng.random(n) < calibration.sigmoid(true + shift)).astype(int))
    return raws, labels


def test_forward_brier_scores_each_period_with_the_map_fitted_on_the_periods_before_it():
    raws, labels = drifting([1.0, 0.0, 0.0])
    by_hand = []
    for k in (1, 2):
        past = calibration.fit("sigmoid", np.concatenate(raws[:k]), np.concatenate(labels[:k]))
        by_hand.append(np.sum((past.predict(raws[k]) - labels[k]) ** 2))
    assert calibration.forward_brier("sigmoid", raws, labels) == pytest.approx(sum(by_hand) / 6000)
    assert np.isnan(calibration.forward_brier("sigmoid", raws[:1], labels[:1]))  # nothing before the first


def test_auto_forward_keeps_the_boosters_probabilities_when_a_past_base_rate_would_mislead():
    # a first period with a churn rate far above the later ones (a season, a cohort): a map fitted on the
    # pooled periods looks best within them, but fitted on the past it overshoots the next period
    raws, labels = drifting([1.5, 0.0, 0.0], seed=4)
    within = calibration.choose(np.concatenate(raws), np.concatenate(labels), "auto", seed=0)
    forward = calibration.choose_forward(raws, labels, "auto", seed=0)
    assert within.method != "none"
    assert forward.method == "none"
    assert forward.scores["none"] == min(forward.scores.values())


def test_auto_forward_calibrates_when_the_scores_are_off_in_every_period():
    raws, labels = drifting([0.0, 0.0, 0.0], seed=5)
    steep = [3 * r + 4 for r in raws]  # consistently overconfident: every period agrees
    forward = calibration.choose_forward(steep, labels, "auto", seed=0)
    assert forward.method in ("sigmoid", "isotonic")
    assert forward.scores[forward.method] < forward.scores["none"]
    pooled = np.concatenate(steep)
    assert forward.predict(pooled).mean() == pytest.approx(np.concatenate(labels).mean(), abs=2e-3)  # refitted on all


def test_choose_forward_with_one_period_or_a_fixed_method_is_choose_on_the_pooled_rows():
    raw, y = overconfident(2000, seed=6)
    one = calibration.choose_forward([raw], [y], "auto", seed=3)
    assert one.method == calibration.choose(raw, y, "auto", seed=3).method
    assert one.scores == calibration.choose(raw, y, "auto", seed=3).scores
    fixed = calibration.choose_forward([raw[:1000], raw[1000:]], [y[:1000], y[1000:]], "isotonic")
    assert fixed.method == "isotonic"
    np.testing.assert_allclose(fixed.predict(raw), calibration.fit("isotonic", raw, y).predict(raw))


# ----------------------------------------------------------- centred isotonic regression
def _world(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    raw = rng.normal(-2, 1.5, n)
    return raw, (rng.random(n) < 1 / (1 + np.exp(-raw))).astype(int)


def test_isotonic_never_reads_0_or_1_and_keeps_the_booster_order():
    from models.calibration import fit

    raw, y = _world()
    raw = np.r_[raw, [8.0] * 15, [-9.0] * 500]  # a block of certain churners and one of certain stayers
    y = np.r_[y, [1] * 15, [0] * 500]
    p = fit("isotonic", raw, y).predict(raw)
    assert 0 < p.min() and p.max() < 1
    assert p[raw == 8.0].max() < 0.999  # 15 of 15 is evidence, not certainty
    order = np.argsort(raw, kind="stable")
    distinct = np.diff(raw[order]) > 0
    assert (np.diff(p[order])[distinct] > 0).all()  # strictly increasing: no ties, the booster's order


def test_isotonic_calibrates_as_well_as_the_step_function():
    from sklearn.isotonic import IsotonicRegression

    from models.calibration import fit

    raw, y = _world(seed=1)
    test_raw, test_y = _world(seed=2)
    step = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, y).predict(test_raw)
    centred = fit("isotonic", raw, y).predict(test_raw)
    assert np.mean((centred - test_y) ** 2) <= np.mean((step - test_y) ** 2) + 1e-4


def test_a_model_saved_with_the_step_function_still_predicts():
    from sklearn.isotonic import IsotonicRegression

    from models.calibration import Calibrator

    raw, y = _world(n=2000)
    old = Calibrator("isotonic", {}, IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, y))
    assert old.predict(raw).shape == raw.shape
