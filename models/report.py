"""Plots and the static HTML training report: model vs health score on the out-of-time test snapshots.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state), so
the notebook can show the same figures the report saves. The page itself is the
autoescaped Jinja2 template ``models/templates/train_report.html`` (package
data): every value from the data, the config or the registry is inserted as
text, never as markup.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models import evaluation

SCORERS = {"model": ("model_probability", "model_probability", "LightGBM model"),
           "health": ("health_risk", "health_probability", "health score")}
COLORS = {"model": "#1f5fa8", "health": "#d0731d"}


def calibration_plot(pred: pd.DataFrame, bins: int = evaluation.ECE_BINS) -> Figure:
    """Reliability diagram: mean predicted vs observed churn rate in equal-count bins."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    top = 0.0
    for key, (_, prob, label) in SCORERS.items():
        t = evaluation.calibration_table(pred["churned"], pred[prob], bins)
        ece = evaluation.ece(pred["churned"], pred[prob], bins)
        ax.plot(t["predicted"], t["observed"], "o-", color=COLORS[key], label=f"{label} (ECE {ece:.3f})")
        top = max(top, t["predicted"].max(), t["observed"].max())
    ax.plot([0, top], [0, top], ":", color="grey", label="perfect calibration")
    ax.set(xlabel="predicted churn probability", ylabel="observed churn rate",
           title="Calibration on the test snapshots")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def gain_chart(pred: pd.DataFrame) -> Figure:
    """Cumulative gain of churners and of churned MRR when working accounts from the riskiest down."""
    fig = Figure(figsize=(10, 4.5))
    ax_gain, ax_lift = fig.subplots(1, 2)
    churned_mrr = pred["churned"] * pred["mrr"].fillna(0) if "mrr" in pred else None
    for key, (score, _, label) in SCORERS.items():
        g = evaluation.gain_curve(pred["churned"], pred[score])
        ax_gain.plot(g["contacted"], g["captured"], color=COLORS[key], label=f"{label}: churners")
        if churned_mrr is not None:
            r = evaluation.gain_curve(churned_mrr, pred[score])
            ax_gain.plot(r["contacted"], r["captured"], "--", color=COLORS[key], label=f"{label}: churned MRR")
        lift = (g["captured"] / g["contacted"]).where(g["contacted"] >= 0.05)
        ax_lift.plot(g["contacted"], lift, color=COLORS[key], label=label)
    ax_gain.plot([0, 1], [0, 1], ":", color="grey", label="random")
    ax_gain.set(xlabel="share of accounts contacted (riskiest first)", ylabel="share captured", title="Gain")
    ax_lift.axhline(1, ls=":", color="grey")
    ax_lift.set(xlabel="share of accounts contacted", ylabel="lift over random", title="Lift")
    ax_gain.legend(fontsize=8)
    ax_lift.legend(fontsize=8)
    fig.tight_layout()
    return fig


def importance_plot(importance: pd.Series, top: int = 20) -> Figure:
    """Global importance: mean |contribution| (log-odds) of the top features."""
    head = importance.head(top)[::-1]
    fig = Figure(figsize=(7, 0.3 * len(head) + 1.2))
    ax = fig.subplots()
    ax.barh(head.index, head.to_numpy(), color=COLORS["model"])
    ax.set(xlabel="mean |contribution| to the log-odds", title="Global feature importance")
    fig.tight_layout()
    return fig


def edge_labels(rights: list[float]) -> list[str]:
    """``≤x`` per bin's upper edge, with as few significant digits (3 at least) as keep them distinct."""
    for digits in range(3, 18):
        labels = [f"≤{r:.{digits}g}" for r in rights]
        if len(set(labels)) == len(labels):
            return labels
    return [f"≤{r!r}" for r in rights]


def cohorts(panel: pd.DataFrame, feature: str, bins: int = 10) -> pd.DataFrame:
    """Churn rate per decile (numeric) or level (categorical) of ``feature``; missing is its own cohort."""
    values = panel[feature]
    if pd.api.types.is_numeric_dtype(values):
        groups = pd.qcut(values, bins, duplicates="drop")
        labels = edge_labels([iv.right for iv in groups.cat.categories])
        groups = groups.cat.rename_categories(labels).astype(object)
    else:
        groups = values.astype(object)
    groups = groups.where(values.notna(), "missing")
    out = panel.groupby(groups, sort=False, dropna=False)["churned"].agg(churn_rate="mean", rows="size")
    if not pd.api.types.is_numeric_dtype(values):
        out = out.sort_values("rows", ascending=False).head(bins)
    else:
        order = [lab for lab in labels if lab in out.index] + (["missing"] if "missing" in out.index else [])
        out = out.loc[order]
    return out.reset_index(names="cohort")


def cohort_plot(panel: pd.DataFrame, features: list[str]) -> Figure:
    """Churn rate by decile of each of ``features`` (small multiples)."""
    cols = 3
    rows = max(1, -(-len(features) // cols))
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    base = panel["churned"].mean()
    for ax, feature in zip(axes, features):
        t = cohorts(panel, feature)
        ax.bar(range(len(t)), t["churn_rate"], color=COLORS["model"])
        ax.axhline(base, ls=":", color="grey")
        ax.set_xticks(range(len(t)), t["cohort"], rotation=60, fontsize=7, ha="right")
        ax.set_title(feature, fontsize=9)
    for ax in axes[len(features):]:
        ax.set_visible(False)
    fig.suptitle("Churn rate by decile of the top features (dotted: overall rate)")
    fig.tight_layout()
    return fig


def figures(result, top_features: int = 6) -> dict[str, Figure]:
    """Every figure of the report, by file stem."""
    pred = result.backtest.predictions
    out = {"calibration": calibration_plot(pred), "gain": gain_chart(pred)} if len(pred) else {}
    return {**out, "importance": importance_plot(result.importance),
            "cohorts": cohort_plot(result.panel, list(result.importance.index[:top_features]))}


#: What :func:`write` puts into the report folder (and MLflow stores under ``report/``).
OUTPUTS = ("train_report.html", "figures", "metrics.csv", "backtest_predictions.parquet", "importance.csv",
           "folds.json")


def write(result, out_dir: Path) -> Path:
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
    path = out_dir / "train_report.html"
    path.write_text(render(result, table), encoding="utf-8")
    return path


def fold_summary(result) -> list[dict]:
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


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the report: templates from ``models/templates``, HTML autoescaped.

    The loader looks beside this module (``__name__``), not along the ``models`` package's search path:
    with ``tests/`` but not the repository on ``sys.path``, ``models`` resolves to the namespace package
    ``tests/models`` (no templates there).
    """
    return jinja2.Environment(loader=jinja2.PackageLoader(__name__, "templates"),
                              autoescape=jinja2.select_autoescape(), trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined)


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


def facts(result) -> dict[str, str]:
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
        "validation": (f"{len(result.backtest.folds)} out-of-time fold(s); {result.recipe.evidence}"
                       if result.backtest.folds else
                       "UNVALIDATED: no out-of-time test block fits this history (promoted only with --promote)"),
    }


def page(facts: dict[str, str], metrics: pd.DataFrame, folds: pd.DataFrame, decision=None,
         version: str | None = None, figures: dict[str, str] | None = None) -> str:
    """Fill the report template: the HTML page from already computed parts.

    Parameters
    ----------
    facts : dict of str to str
        Key facts of the run, by name (see :func:`facts`).
    metrics : pandas.DataFrame
        The backtest metrics table.
    folds : pandas.DataFrame
        One row per fold (see :func:`fold_summary`).
    decision : models.registry.Decision, optional
        The promotion gate's decision; shown with ``version`` when given.
    version : str, optional
        The registered model version.
    figures : dict, optional
        The figures to show, by file stem (default: all of :data:`FIGURE_TITLES`).

    Returns
    -------
    str
        The page; every value is inserted as text (HTML-escaped by the template).
    """
    return environment().get_template(TEMPLATE).render(
        facts=facts, decision=decision, version=str(version), metrics=table_rows(metrics),
        folds=table_rows(folds), figures=FIGURE_TITLES if figures is None else figures)


def render(result, table: pd.DataFrame) -> str:
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
    return page(facts(result), table, folds, result.decision, result.version, shown)
