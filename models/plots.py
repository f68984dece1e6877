"""Plots of a backtest: calibration, gain and lift, importance, cohorts of churn by feature decile.

Pure functions from prediction or panel frames to :class:`matplotlib.figure.Figure` objects (no pyplot
state, no files), so the notebook shows the same figures the training report saves
(:mod:`pipeline.publish.report`).
"""

from __future__ import annotations

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
