"""``churn train-uplift``: learn from an experiment's arms whom a call keeps.

:func:`experiment_frame` joins an experiment's assignments to the account's
features as of its assignment date and its outcome by the pipeline's own label
logic (churn within ``labels.horizon_days``, a return within the grace period
not counted), keeping only outcomes whose window closed before the training date:
an outcome not yet known then is never used. :func:`run` chooses the learner out
of time (:func:`models.uplift.select`), refits it on every usable row and, with
``track``, logs and registers it in MLflow with its validated flag
(:mod:`pipeline.publish.uplift`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Callable

import numpy as np
import pandas as pd

from models import folds as folds_
from models.experiments import OUTREACH
from models.uplift import LEARNERS, Selection, TooFewAccounts, UpliftModel, select
from models.uplift_baseline import BASE_RISK, as_of_risk
from pipeline.config import Config
from pipeline.engine.engines import get_engine
from pipeline.engine.featurize import build_features
from pipeline.engine.labels import data_end, snapshot_dates

Progress = Callable[[str], None]
#: Fewest accounts per arm, in the training and in the test cohorts, before an uplift is learned.
MIN_PER_ARM = 50


@dataclass
class UpliftResult:
    """What ``churn train-uplift`` did: the rows used, the choice, the model (``None`` when nothing was learned)."""

    experiment: str
    until: date | None
    n_assigned: int
    n_closed: int
    selection: Selection | None
    model: UpliftModel | None
    message: str
    features: list[str] = field(default_factory=list)
    registered: str | None = None

    @property
    def validated(self) -> bool:
        return bool(self.selection and self.selection.validated)


@dataclass
class ExperimentData:
    """An experiment's usable rows (:func:`experiment_data`) and what their feature columns are."""

    frame: pd.DataFrame
    features: list[str]
    categorical: list[str]
    groups: dict[str, str]  # feature name -> its family (the reason groups of the ``rr`` learner)


def experiment_frame(cfg: Config, assigned: pd.DataFrame, until: date | None = None,
                     progress: Progress = lambda msg: None) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``(frame, features, categorical)`` of :func:`experiment_data`."""
    data = experiment_data(cfg, assigned, until, progress)
    return data.frame, data.features, data.categorical


def experiment_data(cfg: Config, assigned: pd.DataFrame, until: date | None = None,
                    progress: Progress = lambda msg: None) -> ExperimentData:
    """Assignments with features as of their date and closed outcomes, as known on ``until``.

    Parameters
    ----------
    cfg : pipeline.config.Config
    assigned : pandas.DataFrame
        ``account_id``, ``arm``, ``assigned_date`` (``churn_experiments`` rows, or a generated world's).
    until : date, optional
        Known until this date (default and cap: the data end).

    Returns
    -------
    ExperimentData
        ``frame``: one row per assignment whose outcome window closed before ``until``: ``account_id``,
        ``assigned_date``, ``treated`` (outreach arm), ``churned``, the feature columns and
        ``base_risk``: the churn probability of a churn model of every account as of the assignment date
        (:func:`models.uplift_baseline.as_of_risk`: refitted on each snapshot date on the labels closed
        before it), also listed as a feature.
    """
    window = folds_.label_window_days(cfg.labels)
    with get_engine(cfg.engine).source(cfg) as source:
        end = data_end(source)
        known = min(until or end, end)
        rows = assigned.assign(assigned_date=pd.to_datetime(assigned["assigned_date"]).dt.date)
        rows = rows[folds_.closed_before(rows["assigned_date"], known, window)]
        if rows.empty:
            return ExperimentData(rows.assign(treated=[], churned=[]), [], [], {})
        dates = sorted(rows["assigned_date"].unique())
        progress(f"features and outcomes of {len(rows):,} assignments on {len(dates)} dates (known until {known})")
        table = build_features(source, cfg, dates, with_labels=True, end=known)
        refits = [d for d in snapshot_dates(source, cfg, end=known) if d <= max(dates)]
        progress(f"churn model of every account as of each assignment date ({len(refits)} refits)")
        book = (build_features(source, cfg, refits, vocab=table.vocabulary, with_labels=True, end=known).frame
                if refits else table.frame.iloc[:0])
    panel = table.frame.assign(as_of=pd.to_datetime(table.frame["as_of"]).dt.date)
    frame = rows[["account_id", "arm", "assigned_date"]].astype({"account_id": str}).merge(
        panel, left_on=["account_id", "assigned_date"], right_on=["account_id", "as_of"], how="inner")
    frame = frame[frame["label_observed"].astype(bool)].reset_index(drop=True)
    frame["treated"] = (frame["arm"] == OUTREACH).astype(int)
    frame["churned"] = frame["churned"].astype(int)
    frame[BASE_RISK] = as_of_risk(book, frame, table.feature_names, table.categorical, window, refits,
                                  cfg.training.seed)
    groups = {f.name: f.family for f in table.features} | {BASE_RISK: BASE_RISK}
    return ExperimentData(frame, [*table.feature_names, BASE_RISK], table.categorical, groups)


def fit(frame: pd.DataFrame, features: list[str], categorical: list[str], window_days: int, seed: int = 0,
        learners: tuple = LEARNERS, min_per_arm: int = MIN_PER_ARM, true_uplift: np.ndarray | None = None,
        groups: dict | None = None) -> tuple[Selection | None, UpliftModel | None, str]:
    """Choose out of time and refit on every row; ``(None, None, message)`` when the experiment is too small."""
    try:
        chosen = select(frame, features, categorical, window_days, learners, min_per_arm, seed, true_uplift, groups)
    except TooFewAccounts as err:
        return None, None, f"no uplift model: {err}; `uplift` stays null"
    assert chosen.chosen is not None
    model = UpliftModel(chosen.chosen, seed, groups=groups or {}).fit(frame, features, categorical)
    return chosen, model, chosen.reason


def run(cfg: Config, experiment: str, assigned: pd.DataFrame, *, until: date | None = None,
        progress: Progress = lambda msg: None, track: bool = True, min_per_arm: int = MIN_PER_ARM) -> UpliftResult:
    """Learn the uplift of ``experiment`` from ``assigned``; log and register it with ``track``."""
    data = experiment_data(cfg, assigned, until, progress)
    window = folds_.label_window_days(cfg.labels)
    selection, model, message = fit(data.frame, data.features, data.categorical, window, seed=cfg.training.seed,
                                    min_per_arm=min_per_arm, groups=data.groups)
    result = UpliftResult(experiment, until, len(assigned), len(data.frame), selection, model, message, data.features)
    if track and model is not None:
        from pipeline.publish import uplift as publish

        result.registered = publish.log(cfg, result)
    return result


def train_experiment(cfg: Config, experiment: str, *, until: date | None = None, warehouse: str | None = None,
                     progress: Progress = lambda msg: None, track: bool = True) -> UpliftResult:
    """``churn train-uplift``: the assignments of ``experiment`` from ``churn_experiments``, then :func:`run`."""
    from pipeline.io.experiment_tables import read_assignments
    from pipeline.io.warehouse import Warehouse
    from pipeline.steps.impact import find_experiment

    spec = find_experiment(cfg, experiment)
    assigned = read_assignments(Warehouse.from_config(cfg, warehouse), spec.name)
    if assigned.empty:
        return UpliftResult(spec.name, until, 0, 0, None, None,
                            f"no uplift model: no account is assigned to experiment '{spec.name}' yet; "
                            "`uplift` stays null")
    return run(cfg, spec.name, assigned, until=until, progress=progress, track=track)


def summary(result: UpliftResult) -> str:
    """What ``churn train-uplift`` prints."""
    lines = [f"experiment {result.experiment}: {result.n_assigned:,} assigned, {result.n_closed:,} with a closed "
             "outcome window"]
    sel = result.selection
    if sel is not None:
        lines.append(f"out of time (training: {sel.n_train['outreach']} outreach / {sel.n_train['holdout']} holdout; "
                     f"test from {sel.test_from}: {sel.n_test['outreach']} / {sel.n_test['holdout']})")
        lines.append("learner  Qini training (cross-fitted, chooses)  Qini test (out of time)")
        lines += [f"  {name:<6} {sel.inner[name]:+.4f}{'':28} {value:+.4f}" if name in sel.inner
                  else f"  {name:<6} {'-':>7}{'':28} {value:+.4f}" for name, value in sel.qini.items()]
    lines.append(result.message)
    if result.registered:
        lines.append(f"registered {result.registered} ({'validated: champion' if result.validated else 'not validated: challenger'})")
    return "\n".join(lines) + "\n"
