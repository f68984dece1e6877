# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Churn exploration: cohorts, and the health score vs the model
#
# Which signals separate the accounts that churn from those that stay, how well the
# hand-tuned health score ranks them, and how much a model trained on the same
# features adds, on snapshots it never saw.
#
# Kept as a plain-text script (jupytext percent format) and executed in CI on a small
# generated world. Open it in Jupyter with `jupytext --to notebook notebooks/exploration.py`
# or run it as a script. Settings come from the environment:
#
# * `CHURN_DATA`: data source (default `data/warehouse.duckdb`, made by `make data`);
# * `CHURN_TRUTH`: the generator's truth file, for the ceiling (default `data/world/_truth/truth.parquet`;
#   only synthetic worlds have one);
# * `CHURN_BACKTEST`: test predictions of the last `churn train` (default `reports/backtest_predictions.parquet`);
# * `CHURN_FOLD_MONTHS`, `CHURN_VALIDATION_MONTHS`: length of the test and validation periods (default 3).

# %%
# %matplotlib inline
import os
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

if not Path("configs").is_dir() and Path("../configs").is_dir():
    os.chdir("..")  # opened from notebooks/: run from the repository root

from models import evaluation, folds, plots
from models.health_score import HealthScore
from pipeline.steps import train
from pipeline.config import load_config

DATA = os.environ.get("CHURN_DATA", "data/warehouse.duckdb")
TRUTH = Path(os.environ.get("CHURN_TRUTH", "data/world/_truth/truth.parquet"))
TEST_DAYS = int(os.environ.get("CHURN_TEST_DAYS", 91))
MIN_TRAIN_DATES = int(os.environ.get("CHURN_MIN_TRAIN_DATES", 3))
cfg = load_config(None, {"data": DATA, "training.test_days": TEST_DAYS})

# %% [markdown]
# ## The snapshot panel
# One row per active account and month; a label is usable once its window
# (horizon + grace) has closed.

# %%
table, until = train.build_panel(cfg, None, print)
panel = train.usable(table.frame, until, folds.label_window_days(cfg.labels))
by_month = panel.groupby("as_of").agg(accounts=("churned", "size"), churn_rate=("churned", "mean"))
print(f"{len(panel):,} usable snapshots, overall churn rate {panel['churned'].mean():.1%}")
by_month

# %%
panel.groupby("segment")["churned"].agg(churn_rate="mean", snapshots="size") if "segment" in panel else None

# %% [markdown]
# ## Cohorts: churn rate by decile of each signal
# Missing values are their own cohort: an account that never answered NPS is not a
# detractor.

# %%
signals = [c for c in ["days_since_last_activity", "active_users_trend", "events_trend", "open_urgent_tickets",
                       "overdue_open_milestones", "nps_last", "days_to_renewal", "mrr"] if c in panel]
plots.cohort_plot(panel, signals)

# %%
plots.cohorts(panel, signals[0])

# %% [markdown]
# ## The health score
# Churn rate by health-score band: a useful score has a steep staircase.

# %%
health = HealthScore.from_config(cfg.training.health_score)
scored = panel.assign(health_score=health.score(panel))
bands = pd.cut(scored["health_score"], [0, 40, 60, 80, 100], include_lowest=True)
scored.groupby(bands, observed=True)["churned"].agg(churn_rate="mean", snapshots="size")

# %% [markdown]
# ## Health score vs model, out of time
# The latest fold of the backtest `churn train` runs: the model trains on snapshots whose
# label window closed before the test period (the purge gap) and is compared with the
# health score on the test snapshots.

# %%
latest = folds.make_folds(panel["as_of"], folds=1, test_days=TEST_DAYS, min_train_dates=MIN_TRAIN_DATES,
                          window_days=folds.label_window_days(cfg.labels))
grid, default = train.tree_grid(cfg.training)
result, recipe = evaluation.backtest(panel, latest, train.make_fitter(cfg, table), health, cfg.training.top_k,
                                     grid=grid, default_trees=default, progress=print)
pred = result.predictions
pd.DataFrame({"model": result.latest.model, "health score": result.latest.health})

# %%
plots.gain_chart(pred)

# %%
plots.calibration_plot(pred)

# %% [markdown]
# ## Where the two disagree
# Accounts in the model's top decile that the health score calls healthy, and the reverse.

# %%
model_top = pred["model_probability"] >= pred["model_probability"].quantile(0.9)
health_top = pred["health_risk"] >= pred["health_risk"].quantile(0.9)
quadrants = pd.crosstab(model_top.rename("model top decile"), health_top.rename("health top decile"),
                        values=pred["churned"], aggfunc="mean")
quadrants

# %% [markdown]
# ## The ceiling (synthetic worlds only)
# The generator knows each account's true churn probability; its ROC-AUC on the same
# test snapshots is the best any model could do. Computed for this notebook's fold and,
# when `make train` has left its backtest predictions (`CHURN_BACKTEST`), for every
# test snapshot of that run: the figure the README reports.

# %%
def versus_ceiling(pred: pd.DataFrame, truth: pd.DataFrame) -> pd.Series | None:
    """ROC-AUC of the truth, the model and the health score on the test rows (None if they do not match)."""
    joined = pred.merge(truth, on=["account_id", "as_of"], how="inner")
    if len(joined) < len(pred):
        return None
    auc = {name: roc_auc_score(joined["churned"], joined[column]) for name, column in
           [("ceiling", "true_churn_prob"), ("model", "model_probability"), ("health score", "health_risk")]}
    return pd.Series({**auc, "model / ceiling": auc["model"] / auc["ceiling"], "test rows": len(joined)})


BACKTEST = Path(os.environ.get("CHURN_BACKTEST", Path(cfg.training.report_dir) / "backtest_predictions.parquet"))
if TRUTH.is_file():
    truth = pd.read_parquet(TRUTH)
    truth["as_of"] = pd.to_datetime(truth["as_of_date"]).dt.date
    truth = truth[["account_id", "as_of", "true_churn_prob"]]
    runs = {"this notebook's fold": pred}
    if BACKTEST.is_file():
        runs["all folds of the last `churn train`"] = pd.read_parquet(BACKTEST)
    table = pd.DataFrame({name: versus_ceiling(p, truth) for name, p in runs.items()}).dropna(axis=1)
    print("ROC-AUC: ceiling vs model vs health score on the same test snapshots")
    print(table.round(4).to_string())
else:
    print(f"no truth file at {TRUTH}: not a synthetic world")
