"""Uplift of outreach without I/O: who is kept by a call, learned from a holdout experiment.

The data are an experiment's assignments (arm, assignment date, the account's
features as of that date) and their outcomes (churned within the label horizon
after assignment), one row per account. Being in the ``outreach`` arm is the
treatment (intention to treat: whether a CSM actually reached the account is
not used). The *uplift* of an account is the churn probability in the holdout
arm minus the one in the outreach arm: positive = a call keeps it.

* :class:`UpliftModel` fits one of the learners on LightGBM:

  - ``risk``: the churn probability without a call alone (``mu0``), the ranking
    of the churn model; the baseline every learner must beat;
  - ``t``: T-learner, ``mu0 - mu1`` from one classifier per arm;
  - ``x``: X-learner (Künzel et al. 2019): the arms' imputed effects regressed on
    the features, blended by the (known, constant) share of the outreach arm;
  - ``dr``: doubly robust (DR-learner, Kennedy 2020): the AIPW pseudo-outcome with
    the known assignment share and cross-fitted ``mu0``, ``mu1``, regressed on the features;
  - ``rr``: risk × relative effect (:mod:`models.uplift_relative`): one churn model on both
    arms, and a call's relative reduction of churn by *why* the account is at risk (the
    reason groups' shares of its risk), shrunk toward one pooled effect.

* :func:`qini_coefficient` and :func:`oracle_qini` measure a ranking: the first on
  observed outcomes of both arms, the second against a known true uplift (generated worlds).
* :func:`select` chooses the learner on the earlier assignment cohorts only (cross-fitted
  over runs of cohorts), measures it on the later ones, and the chosen learner is refitted on every row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import lightgbm as lgb
import numpy as np
import pandas as pd

from models import uplift_relative as relative
from models.errors import ModelError
from models.qini import (_bootstrap, bootstrap_low, gain_curve, oracle_qini,  # noqa: F401 (re-exported)
                         qini_coefficient, qini_curve)

LEARNERS = ("risk", "t", "x", "dr", "rr")
#: Most structure (fewest free parts) first: the order of preference between learners the data cannot tell apart.
SIMPLEST_FIRST = ("rr", "t", "x", "dr")
#: Small trees, strong regularisation: experiments hold hundreds to a few thousand accounts. One thread:
#: on a thousand rows, thread start-up dominates (measured 0.7 s against 17 s on a busy 2-core machine).
PARAMS = {"n_estimators": 200, "learning_rate": 0.03, "num_leaves": 7, "min_child_samples": 40,
          "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "reg_lambda": 5.0,
          "min_split_gain": 0.0, "verbose": -1, "n_jobs": 1}


class TooFewAccounts(ModelError):
    """An experiment too small (or with too few closed outcomes) to learn an uplift from."""


def _matrix(frame: pd.DataFrame, features: list[str], categories: dict[str, list]) -> pd.DataFrame:
    x = frame[features].copy()
    for name, levels in categories.items():
        x[name] = pd.Categorical(x[name].astype("string"), categories=levels)
    return x


def _classifier(seed: int, params: dict) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(**{**PARAMS, **params, "random_state": seed})


def _regressor(seed: int, params: dict) -> lgb.LGBMRegressor:
    return lgb.LGBMRegressor(**{**PARAMS, **params, "random_state": seed})


def _prob(model: lgb.LGBMClassifier | None, x: pd.DataFrame, fallback: float) -> np.ndarray:
    if model is None:
        return np.full(len(x), fallback)
    return model.predict_proba(x)[:, 1]


def _fit_classifier(x: pd.DataFrame, y: np.ndarray, seed: int, params: dict) -> lgb.LGBMClassifier | None:
    """A classifier of ``y``; ``None`` when ``y`` has one value only (the rate is then the prediction)."""
    if np.unique(y).size < 2:
        return None
    return _classifier(seed, params).fit(x, y)


@dataclass
class UpliftModel:
    """One uplift learner on LightGBM.

    Parameters
    ----------
    learner : str
        One of :data:`LEARNERS`.
    seed : int
    params : dict
        LightGBM parameters on top of :data:`PARAMS`.
    groups : dict
        ``rr`` only: feature name -> reason group (e.g. the feature's family); a feature not named is its
        own group. See :mod:`models.uplift_relative`.
    """

    learner: str = "t"
    seed: int = 0
    params: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    features_: list[str] = field(default_factory=list)
    categories_: dict = field(default_factory=dict)
    share_: float = 0.5
    models_: dict = field(default_factory=dict)
    rates_: tuple = (0.0, 0.0)

    def fit(self, frame: pd.DataFrame, features: list[str], categorical: list[str] | None = None) -> "UpliftModel":
        """Fit on ``frame`` (``features``, ``treated`` 0/1 = outreach arm, ``churned`` 0/1)."""
        if self.learner not in LEARNERS:
            raise ModelError(f"unknown uplift learner '{self.learner}'; known: {', '.join(LEARNERS)}")
        t = frame["treated"].to_numpy(dtype=int)
        y = frame["churned"].to_numpy(dtype=float)
        if t.sum() == 0 or t.sum() == t.size:
            raise TooFewAccounts("an uplift needs accounts of both arms")
        self.features_ = list(features)
        self.categories_ = {c: sorted(frame[c].dropna().astype(str).unique()) for c in categorical or []}
        x = _matrix(frame, self.features_, self.categories_)
        self.share_ = float(t.mean())
        self.rates_ = (float(y[t == 0].mean()), float(y[t == 1].mean()))
        p = self.params
        if self.learner == "risk":
            self.models_ = {"mu0": _fit_classifier(x[t == 0], y[t == 0], self.seed, p)}
            return self
        if self.learner == "rr":
            self.models_ = relative.fit(x, t, y, self.seed, {**PARAMS, **p}, groups=self.groups)
            return self
        if self.learner in ("t", "x"):
            mu0 = _fit_classifier(x[t == 0], y[t == 0], self.seed, p)
            mu1 = _fit_classifier(x[t == 1], y[t == 1], self.seed + 1, p)
            self.models_ = {"mu0": mu0, "mu1": mu1}
            if self.learner == "x":
                # imputed reduction of churn: without a call minus with one
                d1 = _prob(mu0, x[t == 1], self.rates_[0]) - y[t == 1]
                d0 = y[t == 0] - _prob(mu1, x[t == 0], self.rates_[1])
                self.models_["tau1"] = _regressor(self.seed + 2, p).fit(x[t == 1], d1)
                self.models_["tau0"] = _regressor(self.seed + 3, p).fit(x[t == 0], d0)
            return self
        # doubly robust: cross-fitted outcome models, known assignment share
        mu0_hat, mu1_hat = np.empty(len(y)), np.empty(len(y))
        folds = np.random.default_rng(self.seed).integers(0, 2, len(y))
        for k in (0, 1):
            fit, out = folds != k, folds == k
            m0 = _fit_classifier(x[fit & (t == 0)], y[fit & (t == 0)], self.seed, p)
            m1 = _fit_classifier(x[fit & (t == 1)], y[fit & (t == 1)], self.seed + 1, p)
            mu0_hat[out] = _prob(m0, x[out], self.rates_[0])
            mu1_hat[out] = _prob(m1, x[out], self.rates_[1])
        e = self.share_
        effect = mu1_hat - mu0_hat + t * (y - mu1_hat) / e - (1 - t) * (y - mu0_hat) / (1 - e)
        self.models_ = {"tau": _regressor(self.seed + 2, p).fit(x, -effect)}
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Estimated reduction of the churn probability if contacted (``risk``: the churn probability itself)."""
        if not self.models_:
            raise ModelError("the uplift model is not fitted")
        x = _matrix(frame, self.features_, self.categories_)
        m = self.models_
        if self.learner == "risk":
            return _prob(m["mu0"], x, self.rates_[0])
        if self.learner == "rr":
            return relative.predict(self.models_, x)
        if self.learner == "t":
            return _prob(m["mu0"], x, self.rates_[0]) - _prob(m["mu1"], x, self.rates_[1])
        if self.learner == "x":
            return self.share_ * m["tau0"].predict(x) + (1 - self.share_) * m["tau1"].predict(x)
        return m["tau"].predict(x)


# ------------------------------------------------------------------ out-of-time choice
@dataclass
class Selection:
    """The learners compared out of time and the one chosen.

    Attributes
    ----------
    test_from : date
        First assignment date of the test cohorts; training rows' windows closed before it.
    n_train, n_test : dict
        Accounts per arm (``outreach``, ``holdout``) in each part.
    qini : dict
        Out-of-time Qini coefficient of each learner.
    qini_low : float
        Lower end of the chosen learner's 90 % bootstrap interval of the Qini coefficient.
    chosen : str
        The learner with the best cross-fitted Qini on the training cohorts (``inner``).
    validated : bool
        The chosen learner beats chance out of time (``qini_low > 0``) and the ranking by churn
        probability (the ``risk`` baseline's Qini coefficient), when that was compared.
    reason : str
        Why it is (not) validated, in words.
    test_scores : dict
        Each learner's scores of the test rows.
    inner : dict
        Cross-fitted Qini coefficient of each candidate on the training cohorts (:func:`inner_qini`).
    """

    test_from: date | None
    n_train: dict
    n_test: dict
    qini: dict
    qini_low: float | None
    chosen: str | None
    validated: bool
    reason: str
    test_scores: dict = field(default_factory=dict)
    inner: dict = field(default_factory=dict)


def _arms(frame: pd.DataFrame) -> dict:
    t = frame["treated"].to_numpy(dtype=int)
    return {"outreach": int(t.sum()), "holdout": int((1 - t).sum())}


def split_out_of_time(frame: pd.DataFrame, window_days: int, test_share: float = 0.35) -> tuple[date, np.ndarray, np.ndarray]:
    """Train and test rows by assignment date: the latest cohorts (about ``test_share`` of the rows) test.

    Training rows are those whose outcome window (``window_days``) closed before the first test date,
    so no training outcome was unknown when the test cohort was assigned.
    """
    dates = pd.to_datetime(frame["assigned_date"])
    cohorts = np.sort(dates.unique())
    counts = dates.value_counts().reindex(cohorts).to_numpy()
    tail = np.cumsum(counts[::-1])[::-1] / counts.sum()
    start_at = int(np.flatnonzero(tail <= test_share)[0]) if (tail <= test_share).any() else len(cohorts) - 1
    test_from = pd.Timestamp(cohorts[max(start_at, 1)])
    test = (dates >= test_from).to_numpy()
    train = (dates + pd.Timedelta(days=window_days) < test_from).to_numpy()
    return test_from.date(), train, test


def time_blocks(frame: pd.DataFrame, folds: int) -> np.ndarray:
    """Fold number of each row: ``folds`` runs of consecutive assignment dates with about as many rows each."""
    dates = pd.to_datetime(frame["assigned_date"])
    cohorts = np.sort(dates.unique())
    share = np.cumsum(dates.value_counts().reindex(cohorts).to_numpy()) / len(dates)
    block = np.minimum((np.r_[0.0, share[:-1]] * folds).astype(int), folds - 1)
    return pd.Series(block, index=cohorts).reindex(dates).to_numpy()


def inner_qini(frame: pd.DataFrame, features: list[str], categorical: list[str], learner: str, seed: int = 0,
               folds: int = 4, groups: dict | None = None) -> tuple[float, float]:
    """Cross-fitted Qini coefficient of ``learner`` on training rows only, and its bootstrap standard error.

    The rows are cut into ``folds`` runs of consecutive assignment cohorts; each run is scored by the
    learner fitted on the other runs, and the Qini coefficient is taken over all the out-of-fold scores
    (a run whose complement holds one arm only is left unscored; ``nan`` when no run could be scored).
    """
    block = time_blocks(frame, folds)
    scores, scored = np.zeros(len(frame)), np.zeros(len(frame), bool)
    for k in range(folds):
        out = block == k
        rows = frame[~out].reset_index(drop=True)
        # a cohort larger than a run fills more than one; the other runs may then hold one arm only
        if not out.any() or rows["treated"].nunique() < 2:
            continue
        model = UpliftModel(learner, seed, groups=groups or {}).fit(rows, features, categorical)
        scores[out], scored[out] = model.predict(frame[out].reset_index(drop=True)), True
    if not scored.any():
        return float("nan"), float("nan")
    s, t, y = scores[scored], frame["treated"].to_numpy()[scored], frame["churned"].to_numpy()[scored]
    return qini_coefficient(s, t, y), float(np.std(_bootstrap(s, t, y, seed=seed)))


def one_se_choice(inner: dict[str, tuple[float, float]], order: list[str]) -> str:
    """The first learner of ``order`` (simplest first) whose Qini is within one standard error of the best's.

    The cross-fitted Qini of a few hundred accounts is noisy; between learners it cannot tell apart,
    the one with the most structure (fewest free parts) is preferred (the one-standard-error rule).
    """
    valid = {n: v for n, v in inner.items() if not np.isnan(v[0])}
    if not valid:
        return order[0]
    best = max(valid, key=lambda n: valid[n][0])
    bar = valid[best][0] - valid[best][1]
    return next(n for n in order if n in valid and valid[n][0] >= bar)


def select(frame: pd.DataFrame, features: list[str], categorical: list[str], window_days: int,
           learners: tuple = LEARNERS, min_per_arm: int = 50, seed: int = 0,
           true_uplift: np.ndarray | None = None, groups: dict | None = None, inner_folds: int = 4) -> Selection:
    """Choose among ``learners`` on the training cohorts, then measure every learner on the later test cohorts.

    The choice is made on the training rows only: the cross-fitted Qini coefficient of each learner
    (:func:`inner_qini`) and the one-standard-error rule (:func:`one_se_choice`, :data:`SIMPLEST_FIRST`),
    so the test cohorts' figures are not optimistic for the chosen learner; the test cohorts then decide
    whether it is validated.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per assigned account with a closed outcome: ``assigned_date``, ``treated``, ``churned``, features.
    window_days : int
        Label horizon plus grace: a training outcome must be final before the test cohorts start.
    min_per_arm : int
        Fewer accounts of an arm in the training or the test part: nothing is chosen (``TooFewAccounts``).
    true_uplift : ndarray, optional
        The generator's true uplift of each row (benchmarks): adds ``true uplift`` scores for the test rows.
    groups : dict, optional
        Feature name -> reason group, for the ``rr`` learner.

    Raises
    ------
    TooFewAccounts
        With the counts, when an arm of either part is below ``min_per_arm``.
    """
    if frame.empty:
        raise TooFewAccounts("no assigned account has a closed outcome window yet")
    test_from, train, test = split_out_of_time(frame, window_days)
    n_train, n_test = _arms(frame[train]), _arms(frame[test])
    short = [f"{part} {arm}: {n}" for part, counts in (("training", n_train), ("test", n_test))
             for arm, n in counts.items() if n < min_per_arm]
    if short:
        raise TooFewAccounts(f"too few accounts with a closed outcome to learn an uplift out of time (at least "
                             f"{min_per_arm} per arm and part; {', '.join(short)})")
    fit_rows, test_rows = frame[train].reset_index(drop=True), frame[test].reset_index(drop=True)
    candidates = [n for n in SIMPLEST_FIRST if n in learners and n != "risk"] or list(learners)
    inner_se = {n: inner_qini(fit_rows, features, categorical, n, seed, inner_folds, groups) for n in candidates}
    inner = {n: v[0] for n, v in inner_se.items()}
    chosen = one_se_choice(inner_se, candidates)
    qini, scores = {}, {}
    for name in learners:
        model = UpliftModel(name, seed, groups=groups or {}).fit(fit_rows, features, categorical)
        scores[name] = model.predict(test_rows)
        qini[name] = qini_coefficient(scores[name], test_rows["treated"], test_rows["churned"])
    if true_uplift is not None:
        scores["true uplift"] = np.asarray(true_uplift)[test]
        qini["true uplift"] = qini_coefficient(scores["true uplift"], test_rows["treated"], test_rows["churned"])
    low = bootstrap_low(scores[chosen], test_rows["treated"], test_rows["churned"], seed=seed)
    validated = low > 0 and ("risk" not in qini or qini[chosen] > qini["risk"])
    reason = (f"learner '{chosen}' (cross-fitted Qini on the training cohorts {inner[chosen]:.4f} ± "
              f"{inner_se[chosen][1]:.4f}, within one standard error of the best, the most structured such): "
              f"out-of-time Qini coefficient {qini[chosen]:.4f} (90 % bootstrap low {low:.4f}) "
              f"on {n_test['outreach']} outreach and {n_test['holdout']} holdout accounts assigned from {test_from}; "
              + ("validated: better than chance and than the churn probability's order" if validated else
                 "not validated: not better than chance or than ranking by churn probability"
                 + (f" ({qini['risk']:.4f})" if "risk" in qini else "")))
    return Selection(test_from, n_train, n_test, qini, low, chosen, validated, reason, scores, inner)
