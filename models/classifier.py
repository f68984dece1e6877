"""The churn classifier: a compact LightGBM model with calibrated probabilities and TreeSHAP.

Choices that matter for a churn panel:

* Categorical attributes are LightGBM categoricals, with the training levels
  frozen in the model (unseen levels at scoring time become missing).
* Missing values stay missing: LightGBM learns where "never answered NPS" goes,
  which is not where an NPS of 0 goes.
* Class imbalance is *not* reweighted (no ``is_unbalance``/``scale_pos_weight``):
  reweighting inflates probabilities. The number of trees and the calibration
  are chosen out of time by the trainer (:mod:`models.evaluation`) and passed in.
"""

from __future__ import annotations

from typing import Any, Callable

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models import calibration
from models.drift import aged_references, references
from models.errors import ModelError
from models.treeshap import booster_levels, category_codes, lightgbm_matrix

#: Columns of a feature table that are never features.
NON_FEATURES = ("account_id", "as_of", "churned", "churn_date", "label_observed", "next_churn_date")
#: Kept small on purpose: the nightly scorer runs TreeSHAP on every account. 200 trees x 7 leaves
#: take ~5 s per 100k rows on 2 cores; 15 leaves took three times as long for at most +0.005
#: ROC-AUC on the validation periods of the demo world.
DEFAULT_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "max_depth": 4,
    "min_child_samples": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    # Strong smoothing of categorical levels: on a few thousand snapshots a ten-level attribute
    # otherwise fits noise (chosen on the backtest's validation periods, not its test periods).
    "cat_smooth": 50.0,
    "cat_l2": 20.0,
    "min_data_per_group": 200,
    "max_cat_threshold": 8,
    "max_cat_to_onehot": 8,
    "deterministic": True,
    "force_row_wise": True,
    # One thread: on panels this size a second OpenMP thread gains little and, when the cores are
    # shared with other jobs, spin-waiting made training 10-20x slower (measured).
    "num_threads": 1,
    "verbose": -1,
}
#: Not LightGBM parameters: how many rounds at most, and how patient early stopping is.
DEFAULT_ROUNDS, DEFAULT_PATIENCE = 200, 30


class ChurnModel(BaseEstimator):
    """LightGBM churn classifier returning calibrated P(churn) and exact TreeSHAP contributions.

    Parameters
    ----------
    params : dict, optional
        LightGBM parameters over :data:`DEFAULT_PARAMS`; ``num_boost_round`` and
        ``early_stopping_rounds`` are read from here too.
    seed : int
        Seeds LightGBM (bagging, feature sampling) and the calibration split.
    calibration : {"auto", "isotonic", "sigmoid", "none"}
        How raw scores become probabilities; fitted on ``X_calib`` in :meth:`fit`.

    Attributes
    ----------
    classes_ : ndarray
        ``[0, 1]``: column 1 of :meth:`predict_proba` is P(churn).
    feature_names_, categorical_ : list of str
    categories_ : dict
        Training levels of each categorical feature.
    vocabulary_ : dict
        ``Vocabulary.to_dict()`` of the training build (a :meth:`fit` argument).
    config_version_ : int or None
        The pipeline config version the model was trained under (a :meth:`fit` argument).
    train_until_ : date or None
        Nothing known after this date was used (a :meth:`fit` argument).
    reference_ : dict
        Training distribution of each feature for drift checks (see :func:`models.drift.reference_entry`).
    reference_recent_ : dict
        The same over the snapshots of the training's last months, labelled or not
        (:meth:`set_drift_references`; empty until it is called).
    medians_ : dict
        Training median of each numeric feature: the line between a feature's risky and safe side
        for reasons (see :func:`models.reasons.explain`).
    monotone_ : list of int
        The monotone constraint applied to each feature (see :meth:`fit`).
    screened_out_ : dict
        Features the trainer left out on purpose, with why (set by the trainer; scoring accepts them).
    base_rate_ : float
        Share of the training rows that churned within the horizon (the ``relative`` tier rule's unit).
    booster_ : lightgbm.Booster
    calibrator_ : models.calibration.Calibrator
    best_iteration_ : int
    """

    def __init__(self, params: dict | None = None, seed: int = 42, calibration: str = "auto"):
        self.params = params
        self.seed = seed
        self.calibration = calibration

    # ------------------------------------------------------------------ fitting
    def fit(self, X: pd.DataFrame, y, *, trees: int | None = None, calibrator=None, X_valid=None, y_valid=None,
            X_calib=None, y_calib=None, feature_names=None, categorical=None, vocabulary=None,
            config_version=None, train_until=None, monotone=None) -> "ChurnModel":
        """Train the booster and the calibrator.

        Parameters
        ----------
        X : pandas.DataFrame
            Training rows; non-feature columns (``account_id``, labels...) are ignored.
        y : array-like of 0/1
        trees : int, optional
            Number of trees (default: ``num_boost_round`` of ``params``, else 200).
        calibrator : models.calibration.Calibrator, optional
            An already fitted map from raw score to probability (the trainer fits it on
            out-of-time scores); takes the place of ``X_calib``.
        X_valid, y_valid : optional
            Early stopping set (a later period than ``X``); ``trees`` is then the most.
        X_calib, y_calib : optional
            Held-out period for the calibrator; without it probabilities are the booster's own.
        feature_names, categorical : list of str, optional
            Default: every column but :data:`NON_FEATURES`; non-numeric columns are categorical.
        vocabulary : dict, optional
            ``Vocabulary.to_dict()`` of the feature build, kept so that scoring builds the same columns.
        config_version : int, optional
            Config version of the pipeline that built the features; the scorer refuses another.
        train_until : date, optional
            Nothing known after this date was used.
        monotone : dict of str to int, optional
            Monotone constraint per feature: +1 (risk rises with the value), -1 (falls), 0 (free);
            from each feature definition's ``direction``. Categorical features are always free.
        """
        self.classes_ = np.array([0, 1])
        self.base_rate_ = float(np.mean(np.asarray(y, dtype="float64"))) if len(X) else float("nan")
        self.vocabulary_ = dict(vocabulary or {})
        self.config_version_ = config_version
        self.train_until_ = train_until
        self.set_columns(X, feature_names, categorical, monotone)
        train = self.prepare(X)
        self.reference_ = references(train, self.feature_names_)
        self.reference_recent_: dict[str, dict] = {}
        self.screened_out_: dict[str, str] = getattr(self, "screened_out_", {})
        self.medians_ = {c: float(train[c].median()) for c in self.feature_names_ if c not in self.categorical_}
        self.booster_ = self._train(train, y, X_valid, y_valid, trees)
        self.best_iteration_ = self.booster_.num_trees()
        self.calibrator_ = calibrator or calibration.Calibrator("none")
        if calibrator is None and X_calib is not None and self.calibration != "none":
            self.calibrator_ = calibration.choose(self.raw_score(X_calib), y_calib, self.calibration, self.seed)
        return self

    def set_columns(self, X: pd.DataFrame, feature_names=None, categorical=None, monotone=None) -> "ChurnModel":
        """The feature columns :meth:`fit` trains on and how :meth:`prepare` types them, from the rows ``X``: the
        names (default: every column but :data:`NON_FEATURES`), the categorical ones (default: the non-numeric
        ones) with their levels in ``X``, and the monotone constraints (see :meth:`fit`).

        Rows :meth:`prepare` typed after this call are taken by :meth:`fit` as they are, without a copy, when
        their levels are those of ``X``; :class:`models.hazard.HazardModel` sets the columns from its snapshots and
        trains on their person-period rows with :meth:`fit_matrix`.
        """
        self.feature_names_ = list(feature_names or [c for c in X.columns if c not in NON_FEATURES])
        if categorical is None:
            categorical = [c for c in self.feature_names_ if not pd.api.types.is_numeric_dtype(X[c])]
        self.categorical_ = list(categorical)
        self.categories_ = {c: sorted(X[c].dropna().astype(str).unique()) for c in self.categorical_}
        self.monotone_ = [0 if c in self.categorical_ else int((monotone or {}).get(c, 0)) for c in self.feature_names_]
        return self

    def set_drift_references(self, X: pd.DataFrame, X_recent: pd.DataFrame, ages: list[str] | tuple[str, ...] = (),
                             history: dict[str, int] | None = None, skip: list[str] | tuple[str, ...] = (),
                             weekly: list[str] | tuple[str, ...] = ()) -> "ChurnModel":
        """Record the feature distributions the drift check compares with (:mod:`models.drift`).

        Parameters
        ----------
        X : pandas.DataFrame
            The training snapshots (``reference_``).
        X_recent : pandas.DataFrame
            The latest snapshots known at training, labelled or not, with ``as_of`` (``reference_recent_``).
        ages : sequence of str
            Features that grow by one a day; the first is the account's tenure. The recent reference holds
            them as of ``X_recent``'s last date (:func:`models.drift.aged_references`).
        history : dict, optional
            Feature to the days of history its value needs; compared only among accounts with that tenure.
        skip : sequence of str
            Features the drift check leaves out (measured against all accounts on the same date).
        weekly : sequence of str
            Features that move with the as-of weekday (recency): also referenced per weekday when ``X`` has
            ``as_of`` (:func:`models.drift.references`).
        """
        ages = [c for c in ages if c in self.feature_names_]
        tenure = ages[0] if ages else None
        history = {k: v for k, v in (history or {}).items() if k in self.feature_names_}
        checked = [c for c in self.feature_names_ if c not in set(skip)]
        train = self.prepare(X)[self.feature_names_]
        weekly = [c for c in weekly if c in checked]
        weekday = pd.Series(pd.to_datetime(X["as_of"]).dt.weekday.to_numpy(), index=train.index) \
            if weekly and "as_of" in X else None
        self.reference_ = references(train, checked, train[tenure] if tenure else None, history, weekly, weekday)
        self.reference_recent_ = aged_references(self.prepare(X_recent)[checked], X_recent["as_of"],
                                                 ages, tenure, history, weekly) if len(X_recent) else {}
        return self

    def lightgbm_params(self) -> dict:
        """The LightGBM parameters actually used (defaults, overrides, seed)."""
        params = {**DEFAULT_PARAMS, **(self.params or {}), "seed": self.seed}
        if any(getattr(self, "monotone_", ())):
            params.setdefault("monotone_constraints", self.monotone_)
        params.pop("num_boost_round", None)
        params.pop("early_stopping_rounds", None)
        return params

    def fit_matrix(self, matrix: np.ndarray, y, *, trees: int) -> "ChurnModel":
        """:meth:`fit` (uncalibrated) on rows given as the float matrix LightGBM makes of :meth:`prepare`'s frame
        (categorical columns as their level codes, missing as NaN), with the columns :meth:`set_columns` set.

        The booster is the one :meth:`fit` trains on the frame; LightGBM reads a column-major float64 matrix as it
        is, where it copies a frame whole first (:class:`models.hazard.HazardModel`'s person-period rows: 1.1 GB at
        100 M events). Rows that repeat accounts have no drift references or medians (``reference_``, ``medians_``
        are empty).
        """
        self.classes_ = np.array([0, 1])
        self.base_rate_ = float(np.mean(np.asarray(y, dtype="float64"))) if len(matrix) else float("nan")
        self.vocabulary_, self.config_version_, self.train_until_ = {}, None, None
        self.reference_, self.reference_recent_, self.medians_, self.screened_out_ = {}, {}, {}, {}
        data = lgb.Dataset(matrix, label=np.asarray(y), feature_name=self.feature_names_,
                           categorical_feature=self.categorical_, free_raw_data=False)
        # what LightGBM keeps of a frame's categorical columns, in column order: the booster maps levels by it
        data.pandas_categorical = [self.categories_[c] for c in self.feature_names_ if c in self.categorical_]
        self.booster_ = self._boost(data, None, trees)
        self.best_iteration_ = self.booster_.num_trees()
        self.calibrator_ = calibration.Calibrator("none")
        return self

    def _train(self, X: pd.DataFrame, y, X_valid, y_valid, trees: int | None) -> lgb.Booster:
        data = lgb.Dataset(X, label=np.asarray(y), categorical_feature=self.categorical_, free_raw_data=False)
        return self._boost(data, None if X_valid is None else (X_valid, y_valid), trees)

    def _boost(self, data: lgb.Dataset, valid: tuple | None, trees: int | None) -> lgb.Booster:
        extra = self.params or {}
        rounds = int(trees or extra.get("num_boost_round", DEFAULT_ROUNDS))
        valid_sets: list[lgb.Dataset] = []
        callbacks: list[Callable[..., Any]] = []
        if valid is not None:
            X_valid, y_valid = valid
            valid_sets = [data.create_valid(self.prepare(X_valid), label=np.asarray(y_valid))]
            patience = int(extra.get("early_stopping_rounds", DEFAULT_PATIENCE))
            callbacks = [lgb.early_stopping(patience, first_metric_only=True, verbose=False)]
        booster = lgb.train(self.lightgbm_params(), data, rounds, valid_sets=valid_sets, callbacks=callbacks)
        # Keep only the trees early stopping chose: a smaller model scores and explains faster.
        best = booster.best_iteration or booster.current_iteration()
        return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))

    # --------------------------------------------------------------- prediction
    def prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """The training feature columns of ``X``, in order, typed as in training.

        Raises
        ------
        ModelError
            When feature columns are missing (the message also names unexpected extra columns).
        """
        self._require_features(X)
        if self._prepared(X):  # already typed as in training (a frame this method returned): nothing to redo
            return X.copy(deep=False)
        # The numeric columns go into one column-major block, the categorical ones are inserted at their
        # places: a frame built from interleaved columns would be stacked per run and then re-sorted
        # (two more copies of every value; about 0.2 s for 100,000 scored rows).
        numeric = [c for c in self.feature_names_ if c not in self.categorical_]
        block = np.empty((len(X), len(numeric)), dtype="float64", order="F")
        for i, c in enumerate(numeric):
            block[:, i] = _numbers(X[c])
        prepared = pd.DataFrame(block, index=X.index, columns=numeric, copy=False)
        for at, c in enumerate(self.feature_names_):
            if c in self.categorical_:
                prepared.insert(at, c, self._levels(X[c]))
        return prepared

    def _require_features(self, X: pd.DataFrame) -> None:
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            extra = [c for c in X.columns if c not in self.feature_names_ and c not in NON_FEATURES]
            unknown = f"; it has columns the model does not know: {', '.join(extra)}" if extra else ""
            raise ModelError(
                f"the data lacks {len(missing)} feature column(s) the model was trained on: "
                f"{', '.join(missing)}{unknown}. Build features with the model's vocabulary and a compatible config."
            )

    def _levels(self, column: pd.Series) -> pd.Categorical:
        """A categorical feature's values among its training levels (an unseen level is missing)."""
        values = column.astype("string").astype(object).where(column.notna(), None)
        return pd.Categorical(values, categories=self.categories_[column.name])

    def _prepared(self, X: pd.DataFrame) -> bool:
        """Whether ``X`` holds exactly the training columns, in order, typed as :meth:`prepare` types them."""
        if list(X.columns) != list(self.feature_names_):
            return False
        for c, dtype in zip(X.columns, X.dtypes):
            if c in self.categorical_:
                if not (isinstance(dtype, pd.CategoricalDtype) and not dtype.ordered
                        and list(dtype.categories) == list(self.categories_[c])):
                    return False
            elif dtype != np.float64:
                return False
        return True

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The float matrix the booster reads of ``X`` (:func:`models.treeshap.lightgbm_matrix` of the prepared
        rows), which :meth:`raw_score` and the prediction methods also take in place of the frame.

        Rows not yet prepared are typed straight into the matrix, without the prepared frame in between (one
        100 MB copy less for 100,000 scored rows).
        """
        if self._prepared(X):
            return lightgbm_matrix(X, self.booster_)
        self._require_features(X)
        out = np.empty((len(X), len(self.feature_names_)), order="F")
        levels = booster_levels(self.booster_)
        for j, c in enumerate(self.feature_names_):
            if c in self.categorical_:
                out[:, j] = category_codes(pd.Series(self._levels(X[c]), copy=False), next(levels, None))
            else:
                out[:, j] = _numbers(X[c])
        return out

    def raw_score(self, X, trees: int | None = None) -> np.ndarray:
        """LightGBM log-odds of churn (of the first ``trees`` trees when given).

        ``X`` is a frame of feature rows or its :meth:`matrix`: the booster reads the prepared rows as the float
        matrix it would make of the frame itself; LightGBM's own conversion of a frame copies it twice (100,000
        scored rows: 0.36-0.58 s to predict from the frame, 0.33-0.36 s from the matrix, building it included).
        """
        matrix = X if isinstance(X, np.ndarray) else self.matrix(X)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.feature_names_):
            raise ModelError(f"a matrix of {len(self.feature_names_)} feature columns was expected, "
                             f"not one of shape {matrix.shape}")
        return np.asarray(self.booster_.predict(matrix, raw_score=True, num_iteration=trees))

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): column 1 is P(churn within the horizon); ``X`` as in
        :meth:`raw_score`."""
        churn = self.calibrator_.predict(self.raw_score(X))
        return np.column_stack([1.0 - churn, churn])

    def predict_risk(self, X) -> np.ndarray:
        """Calibrated P(churn within the horizon), 1-D: ``predict_proba(X)[:, 1]``; ``X`` as in :meth:`raw_score`."""
        return self.predict_proba(X)[:, 1]

    def predict(self, X) -> np.ndarray:
        """0/1 at probability 0.5 (scikit-learn's convention; the pipeline ranks by :meth:`predict_risk`)."""
        return (self.predict_risk(X) >= 0.5).astype("int64")

    def contributions(self, X) -> pd.DataFrame:
        """Exact TreeSHAP contribution of each feature to the log-odds, plus ``base_value``.

        Each row sums to :meth:`raw_score` of that row.
        """
        values = self.booster_.predict(self.prepare(X), pred_contrib=True)
        return pd.DataFrame(values, columns=[*self.feature_names_, "base_value"], index=X.index)

    def importance(self, X) -> pd.Series:
        """Global importance: mean absolute contribution of each feature on ``X``, descending."""
        contrib = self.contributions(X).drop(columns="base_value")
        return contrib.abs().mean().sort_values(ascending=False)


def _numbers(column: pd.Series) -> np.ndarray:
    """A numeric feature's values as float64, NaN where missing or not a number."""
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
