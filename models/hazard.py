"""Time-to-churn curves: a discrete-time hazard model on person-period rows.

For every snapshot (account, T) of the panel the next days are cut into periods
of ``period_days`` (30 by default), up to ``periods`` of them (6: 180 days). A
snapshot contributes one *person-period* row per period it has fully observed,
with target 1 in the period where it churned (and no row after that) and 0
before. Observed means the churn status of every day of the period is final in
the data known at ``end``: a churn on day E counts once the grace period after
it has passed (E + grace < end), the same convention as the classifier's
``label_observed``. Snapshots whose window has not closed yet (censored) still
contribute the periods they saw, which a fixed-horizon classifier must drop.

A LightGBM booster (:class:`models.classifier.ChurnModel`, uncalibrated) learns
the hazard ``h_k(x) = P(churn in period k | no churn before k, x)`` from the
features plus the period number. The curve ``F_k = 1 - prod_{j<=k} (1 - h_j)``
is non-decreasing and within [0, 1] by construction.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from models.errors import ModelError
from models.treeshap import lightgbm_matrix

if TYPE_CHECKING:  # LightGBM is imported where a booster is built: `churn score` reads the curve helpers
    import lightgbm as lgb  # (anchor, check_curves...) while its model loads on another thread

#: The feature the booster sees beside the account's features: which period (1, 2, ...) the row is about.
PERIOD = "period"
#: With the contract's renewal timing among the features: days from the period's first day to the account's next
#: renewal on or after it (so "the renewal falls in this period" is one split, not an interaction with the period).
RENEWAL_IN_PERIOD = "days_to_renewal_from_period"
#: The renewal-timing features it is computed from (the next renewal, the term that repeats it).
RENEWAL, TERM = "days_to_renewal", "billing_term_days"


def observed_days(as_of, end: date, grace_days: int, max_days: int) -> np.ndarray:
    """Days after each snapshot whose churn status is final in the data known at ``end``, at most ``max_days``.

    Day d after T is final when T + d + grace < end (a return within the grace period would have
    been seen); negative for snapshots at or after ``end`` minus the grace period, clipped to 0.
    """
    as_of = pd.to_datetime(pd.Series(as_of)).to_numpy()
    days = (np.datetime64(end) - as_of).astype("timedelta64[D]").astype("int64") - grace_days - 1
    return np.clip(days, 0, max_days)


def event_days(as_of, next_churn_date) -> np.ndarray:
    """Days from each snapshot to its next churn (NaN: none known)."""
    start = pd.to_datetime(pd.Series(list(as_of)))
    churn = pd.to_datetime(pd.Series(list(next_churn_date)))
    return (churn - start).dt.days.to_numpy(dtype="float64", na_value=np.nan)


def person_periods(frame: pd.DataFrame, end: date, grace_days: int, period_days: int, periods: int) -> pd.DataFrame:
    """One row per (snapshot, observed period): ``row`` (position in ``frame``), ``period`` (1-based), ``event``.

    Only what is known at ``end`` is used: a churn whose grace period ends on or after ``end``
    is not an event (its periods are not observed), and neither is any later one.

    A churn counts only when its whole period is observed; one in a period cut short by ``end`` is censored at
    the last whole period, like a snapshot without churn. Counting it would keep the churners' part of a period
    whose survivors are dropped, and the hazard learned for the last periods a short history reaches would be
    biased towards 1 (all events).
    """
    seen = observed_days(frame["as_of"], end, grace_days, period_days * periods)
    until = event_days(frame["as_of"], frame["next_churn_date"])
    period_of_churn = np.ceil(np.nan_to_num(until, nan=np.inf) / period_days)
    churned = ~np.isnan(until) & (period_of_churn * period_days <= seen)
    last = np.where(churned, period_of_churn, seen // period_days).astype("int64")
    last = np.clip(last, 0, periods)
    row = np.repeat(np.arange(len(frame)), last)
    period = np.arange(len(row)) - np.repeat(np.cumsum(last) - last, last) + 1
    event = (churned[row] & (period == last[row])).astype("int64")
    return pd.DataFrame({"row": row, PERIOD: period, "event": event})


def durations(frame: pd.DataFrame, end: date, grace_days: int, max_days: int) -> tuple[np.ndarray, np.ndarray]:
    """(days observed until churn or censoring, 1 if churned) of each snapshot, as known at ``end``."""
    seen = observed_days(frame["as_of"], end, grace_days, max_days)
    until = event_days(frame["as_of"], frame["next_churn_date"])
    churned = ~np.isnan(until) & (until <= seen)
    return np.where(churned, until, seen).astype("float64"), churned.astype("int64")


def curve_from_hazards(hazards: np.ndarray) -> np.ndarray:
    """Cumulative churn probability at the end of each period from per-period hazards (rows x periods)."""
    h = np.clip(np.asarray(hazards, dtype="float64"), 0.0, 1.0)
    return 1.0 - np.cumprod(1.0 - h, axis=1)


def check_curves(curves: np.ndarray) -> None:
    """Refuse curves that decrease or leave [0, 1] (every row).

    Raises
    ------
    ModelError
        Naming how many rows break the rule.
    """
    c = np.asarray(curves, dtype="float64")
    bad = ~np.isfinite(c).all(axis=1) | (c < 0).any(axis=1) | (c > 1).any(axis=1)
    if c.shape[1] > 1:
        bad |= (np.diff(c, axis=1) < 0).any(axis=1)
    if bad.any():
        raise ModelError(f"{int(bad.sum())} of {len(c)} time-to-churn curves decrease or leave [0, 1]")


def window_of(curves: np.ndarray, period_days: int, threshold: float = 0.5) -> np.ndarray:
    """Days at the end of the first period whose cumulative probability passes ``threshold`` (NaN: none)."""
    c = np.asarray(curves, dtype="float64")
    passed = c > threshold
    first = passed.argmax(axis=1)
    return np.where(passed.any(axis=1), (first + 1) * period_days, np.nan)


def split_trees(booster: lgb.Booster, feature: str | list[str]) -> tuple[lgb.Booster | None, lgb.Booster | None]:
    """``booster``'s trees as two boosters, those that never split on ``feature`` (or any of a list) and those that
    do (``None``: no such tree); their raw scores add up to ``booster``'s (a booster's raw score is the sum of its
    trees').

    Built from LightGBM's own model text: the header, the chosen ``Tree=`` blocks renumbered, the rest.
    """
    import lightgbm as lgb

    text = booster.model_to_string()
    start, end = text.index("\nTree=0\n") + 1, text.index("end of trees")
    header = re.sub(r"^tree_sizes=.*\n", "", text[:start], flags=re.M)  # optional: trees are then read in order
    blocks = re.split(r"^Tree=\d+\n", text[start:end], flags=re.M)[1:]
    names = booster.feature_name()
    indices = {str(names.index(f)) for f in ([feature] if isinstance(feature, str) else feature)}

    def reads(block: str) -> bool:
        found = re.search(r"^split_feature=(.*)$", block, flags=re.M)
        return found is not None and not indices.isdisjoint(found.group(1).split())

    def joined(chosen: list[str]) -> lgb.Booster | None:
        if not chosen:
            return None
        trees = "".join(f"Tree={i}\n{block}" for i, block in enumerate(chosen))
        return lgb.Booster(model_str=header + trees + text[end:])

    return joined([b for b in blocks if not reads(b)]), joined([b for b in blocks if reads(b)])


def renewal_timing(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(days to the next renewal, billing term in days) of each row as floats (NaN: unknown)."""
    def numbers(column: str) -> np.ndarray:
        if column not in frame:
            return np.full(len(frame), np.nan)
        return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)

    return numbers(RENEWAL), numbers(TERM)


def renewal_from(timing: tuple[np.ndarray, np.ndarray], start_day) -> np.ndarray:
    """Days from ``start_day`` (a number, or one per row) after the as-of date to each row's next renewal on or
    after it (NaN: unknown); ``timing`` is the rows' :func:`renewal_timing`.

    A renewal before ``start_day`` is followed by the next ones a billing term apart; without a known term the
    value stays negative (the renewal was before the period).
    """
    to_renewal, term = timing
    days = to_renewal - start_day
    repeats = (days < 0) & (term > 0)
    return np.where(repeats, np.mod(days, np.where(repeats, term, 1.0)), days)


class HazardModel:
    """Discrete-time hazard model: per-period churn hazards from a LightGBM booster on person-period rows.

    Parameters
    ----------
    period_days, periods : int
        The curve's periods: ``periods`` steps of ``period_days`` days.
    params : dict, optional
        LightGBM parameters over the classifier's defaults.
    seed : int

    Attributes
    ----------
    model_ : models.classifier.ChurnModel
        The booster on person-period rows (features plus :data:`PERIOD`), uncalibrated.
    feature_names_ : list of str
        The account features (without :data:`PERIOD`).
    rows_, events_ : int
        Person-period rows and events it was trained on.
    """

    def __init__(self, period_days: int = 30, periods: int = 6, params: dict | None = None, seed: int = 42):
        self.period_days = period_days
        self.periods = periods
        self.params = params
        self.seed = seed

    @property
    def days(self) -> list[int]:
        """Days at the end of each period (30, 60, ...)."""
        return [self.period_days * (k + 1) for k in range(self.periods)]

    def fit(self, frame: pd.DataFrame, end: date, grace_days: int, *, trees: int = 200, feature_names=None,
            categorical=None, monotone: dict | None = None) -> "HazardModel":
        """Train on every snapshot of ``frame`` (with ``as_of`` and ``next_churn_date``) as known at ``end``.

        Raises
        ------
        ModelError
            When no period has been observed or no churn happened in one.
        """
        expanded = person_periods(frame, end, grace_days, self.period_days, self.periods)
        if expanded.empty or not 0 < expanded["event"].sum() < len(expanded):
            raise ModelError("the time-to-churn model needs observed periods with and without churn; "
                             f"the data known at {end} has {len(expanded)} period rows, "
                             f"{int(expanded['event'].sum())} with churn")
        names = list(feature_names or [c for c in frame.columns if c not in ("account_id", "as_of", "churned",
                                                                               "churn_date", "label_observed",
                                                                               "next_churn_date")])
        self.feature_names_ = names
        self.per_period_ = [PERIOD, *([RENEWAL_IN_PERIOD] if RENEWAL in names else [])]
        from models.classifier import ChurnModel

        # The snapshots are typed and made the float matrix LightGBM reads before they are repeated per period, so
        # the person-period rows exist once: a frame of them, typed, then copied by LightGBM, held three copies
        # (5.3 GB when training at 100 M events). Their levels are those of the snapshots with an observed period,
        # as the rows' own would be.
        row, period = expanded["row"].to_numpy(), expanded[PERIOD].to_numpy().astype("float64")
        columns = [*names, *self.per_period_]
        features = frame[names].assign(**{c: 0.0 for c in self.per_period_})
        model = ChurnModel(params=self.params, seed=self.seed, calibration="none").set_columns(
            features.iloc[np.unique(row)], columns, categorical, monotone)
        timing = renewal_timing(features)  # the term only when it is a feature, as the rows had it
        snapshots = lightgbm_matrix(model.prepare(features))
        del features  # only the snapshots' matrix is held beside the rows'
        matrix = np.empty((len(row), len(columns)), order="F")  # column-major, as LightGBM gets a frame's
        for j in range(len(columns)):
            np.take(snapshots[:, j], row, out=matrix[:, j])
        del snapshots
        matrix[:, columns.index(PERIOD)] = period
        if RENEWAL in names:
            matrix[:, columns.index(RENEWAL_IN_PERIOD)] = renewal_from((timing[0][row], timing[1][row]),
                                                                       (period - 1) * self.period_days)
        self.model_ = model.fit_matrix(matrix, expanded["event"].to_numpy(), trees=trees)
        self.rows_, self.events_ = len(expanded), int(expanded["event"].sum())
        return self

    def hazards(self, X: pd.DataFrame) -> np.ndarray:
        """P(churn in period k | none before), shape (rows, periods).

        The rows are prepared and turned into one float matrix once; each period only rewrites its
        :data:`PERIOD` column before the booster reads it (no copy of the frame per period), and only the
        trees that split on the period (or the renewal's place in it) are read once per period
        (:func:`split_trees`).
        """
        per_period = getattr(self, "per_period_", [PERIOD])  # models saved before the renewal column
        renewal = RENEWAL_IN_PERIOD in per_period
        matrix = self.model_.matrix(X.assign(**{PERIOD: 1.0}, **({RENEWAL_IN_PERIOD: 0.0} if renewal else {})))
        column = self.model_.feature_names_.index(PERIOD)
        if renewal:
            timing, renewal_column = renewal_timing(X), self.model_.feature_names_.index(RENEWAL_IN_PERIOD)
        fixed, by_period = split_trees(self.model_.booster_, per_period)
        raw = np.zeros((len(X), self.periods))
        if fixed is not None:  # trees that never read the period: the same for every period, read once
            raw += np.asarray(fixed.predict(matrix, raw_score=True))[:, None]
        for k in range(self.periods):
            if by_period is not None:
                matrix[:, column] = float(k + 1)
                if renewal:
                    matrix[:, renewal_column] = renewal_from(timing, k * self.period_days)
                raw[:, k] += by_period.predict(matrix, raw_score=True)
        return 1.0 / (1.0 + np.exp(-raw))

    def predict_curve(self, X: pd.DataFrame) -> np.ndarray:
        """Cumulative P(churn within 30, 60, ... days), shape (rows, periods): non-decreasing, in [0, 1]."""
        curves = curve_from_hazards(self.hazards(X))
        check_curves(curves)
        return curves

    def at(self, curves: np.ndarray, days: int) -> np.ndarray:
        """The curve at ``days``, linear between period ends (0 at day 0)."""
        grid = np.array([0, *self.days], dtype="float64")
        c = np.column_stack([np.zeros(len(curves)), curves])
        k = int(np.clip(np.searchsorted(grid, days), 1, len(grid) - 1))
        w = (min(days, grid[-1]) - grid[k - 1]) / (grid[k] - grid[k - 1])
        return c[:, k - 1] + w * (c[:, k] - c[:, k - 1])


def anchor(points: np.ndarray, days, at_horizon: np.ndarray, probability: np.ndarray, horizon_days: int) -> np.ndarray:
    """Curve values at ``days`` (rows x days) moved so that the curve at ``horizon_days`` is ``probability``.

    The classifier's probability of churn within the horizon sets the curve's level there, the hazard model
    its shape: before the horizon ``F(d) * p / F(h)`` (the share of the horizon's risk that lands by day d),
    after it ``1 - (1 - p) * S(d) / S(h)`` (the hazard model's survival beyond the horizon). Both maps rise
    with ``F``, meet at ``p`` on the horizon, and stay within [0, 1], so a non-decreasing curve stays one.
    """
    f_h = np.clip(np.asarray(at_horizon, dtype="float64"), 1e-9, 1 - 1e-9)[:, None]
    p = np.clip(np.asarray(probability, dtype="float64"), 0.0, 1.0)[:, None]
    values = np.asarray(points, dtype="float64")
    before = values * p / f_h
    after = 1.0 - (1.0 - p) * (1.0 - values) / (1.0 - f_h)
    return np.clip(np.where(np.asarray(days)[None, :] <= horizon_days, before, after), 0.0, 1.0)


def renewal_decides(window, renewal_days, period_days: int) -> np.ndarray:
    """Whether the renewal falls in the period where the curve passes one half (the likely moment to leave).

    ``window`` is ``expected_churn_window`` (days at the end of that period, NaN: none), ``renewal_days`` the days
    from the as-of date to the renewal (NaN: unknown). The period is ``(window - period_days, window]``; the first
    one includes day 0 (a renewal today).
    """
    w = np.asarray(window, dtype="float64")
    r = np.asarray(renewal_days, dtype="float64")
    start = np.where(w <= period_days, -np.inf, w - period_days)
    with np.errstate(invalid="ignore"):
        return (r > start) & (r <= w)
