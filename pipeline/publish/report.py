"""The static HTML training report: model vs health score on the out-of-time test snapshots.

:func:`write` puts the figures (:mod:`models.plots`), the metric tables and the
page into the report folder, which MLflow stores with the run. The page is the
template ``pipeline/render/templates/train_report.html`` of the one Jinja2
environment (:func:`pipeline.render.jinja.environment`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models.plots import calibration_plot, cohort_plot, gain_chart, importance_plot
from pipeline.publish.result import TrainResult
from pipeline.render.jinja import environment


def figures(result: TrainResult, top_features: int = 6) -> dict[str, Figure]:
    """Every figure of the report, by file stem."""
    pred = result.backtest.predictions
    out = {"calibration": calibration_plot(pred), "gain": gain_chart(pred)} if len(pred) else {}
    return {**out, "importance": importance_plot(result.importance),
            "cohorts": cohort_plot(result.panel, list(result.importance.index[:top_features]))}


#: What :func:`write` puts into the report folder (and MLflow stores under ``report/``).
OUTPUTS = ("train_report.html", "figures", "metrics.csv", "backtest_predictions.parquet", "importance.csv",
           "folds.json", "time_to_churn.csv")


def write(result: TrainResult, out_dir: Path) -> Path:
    """Write figures, tables and ``train_report.html`` into ``out_dir``; return the HTML path."""
    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    for name, fig in figures(result).items():
        fig.savefig(out_dir / "figures" / f"{name}.png", dpi=110)
    table = result.backtest.table()
    table.to_csv(out_dir / "metrics.csv", index=False)
    result.backtest.predictions.to_parquet(out_dir / "backtest_predictions.parquet", index=False)
    result.importance.rename("mean_abs_contribution").to_csv(out_dir / "importance.csv", index_label="feature")
    (out_dir / "folds.json").write_text(json.dumps(fold_summary(result), indent=2))
    curves = getattr(result.model, "curve_metrics_", None)
    (out_dir / "time_to_churn.csv").unlink(missing_ok=True)  # a folder reused by a run without them: no stale file
    if curves is not None:
        curves.to_csv(out_dir / "time_to_churn.csv", index=False)
    path = out_dir / "train_report.html"
    path.write_text(render(result, table), encoding="utf-8")
    return path


def fold_summary(result: TrainResult) -> list[dict]:
    """Dates, sizes and outcome of each fold, for the report and MLflow."""
    return [{
        "fold": f.fold.number, "train": [str(min(f.fold.train_dates)), str(max(f.fold.train_dates))],
        "purge_days": f.fold.window_days,
        "test": [str(min(f.fold.test_dates)), str(max(f.fold.test_dates))],
        "test_rows": len(f.predictions), "trees": f.trees, "calibration": f.calibration,
    } for f in result.backtest.folds]


#: Figures of the report, by file stem, with their headings (in page order).
FIGURE_TITLES = {"calibration": "Calibration", "gain": "Gain and lift", "importance": "Feature importance",
                 "cohorts": "Cohorts"}
#: Figures drawn from out-of-time predictions: absent for an unvalidated model.
OUT_OF_TIME_FIGURES = ("calibration", "gain")
TEMPLATE = "train_report.html"


def _cell(value) -> str:
    """One table cell as text: floats to four decimals, missing values empty."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    return f"{value:.4f}" if isinstance(value, (float, np.floating)) else str(value)


def table_rows(frame: pd.DataFrame) -> dict[str, list]:
    """A frame as the template's table: column names and rows of formatted cells (text, escaped on output).

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    dict
        ``columns`` (list of str) and ``rows`` (list of lists of str).
    """
    return {"columns": [str(c) for c in frame.columns],
            "rows": [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]}


def facts(result: TrainResult) -> dict[str, str]:
    """The run's key facts, listed at the top of the report (data, panel, label, model, fingerprint)."""
    cfg, model = result.cfg, result.model
    return {
        "data": f"data end {result.table.data_end}, trained until {result.train_until}",
        "panel": f"{len(result.panel):,} usable snapshots, {result.panel['as_of'].nunique()} snapshot dates, "
                 f"churn rate {result.panel['churned'].mean():.2%}",
        "label": f"churn within {cfg.labels.horizon_days} days (grace {cfg.labels.grace_days} days)",
        "model": f"{len(model.feature_names_)} features, {model.best_iteration_} trees, "
                 f"{model.calibrator_.method} calibration, seed {cfg.training.seed}",
        "data fingerprint": str(result.fingerprint),
        "validation": (f"{len(result.backtest.folds)} out-of-time fold(s); "
                       f"{result.recipe.evidence if result.recipe else 'recipe not recorded'}"
                       if result.backtest.folds else
                       "UNVALIDATED: no out-of-time test block fits this history (promoted only with --promote)"),
    }


def page(facts: dict[str, str], metrics: pd.DataFrame, folds: pd.DataFrame, decision=None,
         version: str | None = None, figures: dict[str, str] | None = None,
         time_to_churn: pd.DataFrame | None = None) -> str:
    """Fill the report template: the HTML page from already computed parts.

    Parameters
    ----------
    facts : dict of str to str
        Key facts of the run, by name (see :func:`facts`).
    metrics : pandas.DataFrame
        The backtest metrics table.
    folds : pandas.DataFrame
        One row per fold (see :func:`fold_summary`).
    decision : pipeline.publish.registry.Decision, optional
        The promotion gate's decision; shown with ``version`` when given.
    version : str, optional
        The registered model version.
    figures : dict, optional
        The figures to show, by file stem (default: all of :data:`FIGURE_TITLES`).
    time_to_churn : pandas.DataFrame, optional
        The time-to-churn model's out-of-time measures (``ChurnModel.curve_metrics_``); shown when given.

    Returns
    -------
    str
        The page; every value is inserted as text (HTML-escaped by the template).
    """
    return environment().get_template(TEMPLATE).render(
        facts=facts, decision=decision, version=str(version), metrics=table_rows(metrics),
        folds=table_rows(folds), figures=FIGURE_TITLES if figures is None else figures,
        time_to_churn=None if time_to_churn is None else table_rows(time_to_churn))


def render(result: TrainResult, table: pd.DataFrame) -> str:
    """The report as one HTML page (figures referenced from ``figures/``).

    Parameters
    ----------
    result : pipeline.steps.train.TrainResult
        The training run; ``decision`` and ``version`` are shown when the promotion gate ran.
    table : pandas.DataFrame
        The backtest metrics (``result.backtest.table()``).

    Returns
    -------
    str
        The page (see :func:`page`).
    """
    folds = pd.DataFrame(fold_summary(result))  # date spans (lists) are shown as their text
    shown = {k: v for k, v in FIGURE_TITLES.items() if result.backtest.folds or k not in OUT_OF_TIME_FIGURES}
    return page(facts(result), table, folds, result.decision, result.version, shown,
                getattr(result.model, "curve_metrics_", None))
