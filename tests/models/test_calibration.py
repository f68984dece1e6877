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
    assert np.all(np.diff(p) >= 0) and p[0] == 0 and p[-1] == 1  # clipped outside the fitted range


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
