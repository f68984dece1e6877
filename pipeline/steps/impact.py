"""``churn impact``: did the outreach arm churn less than the holdout?

:func:`run` reads an experiment's assignments from ``churn_experiments``, finds
each account's outcome with the pipeline's own label logic
(:func:`pipeline.engine.labels.labels`: churn within ``labels.horizon_days``
after the assignment date, a return within ``labels.grace_days`` not counted)
over the accounts whose outcome window has closed by the as-of date, compares
the arms (:mod:`models.experiments`), overall and per tier at assignment, tests
whether the effect in a segment, tier or first reason differs from the rest's
(:mod:`models.subgroups`, stored in ``churn_experiment_subgroups`` in the same transaction),
reads compliance from the optional ``cs_activities`` table, and writes the
results to ``churn_experiment_results`` (with the data source and the model
version of the assigning runs; it says when it replaces stored rows) and an
HTML page with its plot (:mod:`pipeline.render.impact_page`).
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import ibis
import pandas as pd

from models.experiments import HOLDOUT, OUTREACH, by_tier, cumulative_churn
from models.subgroups import subgroup_effects, subgroup_verdict
from pipeline.engine.engines import get_engine
from pipeline.engine.labels import data_end, labels
from models.errors import ChurnError, ConfigError
from pipeline.config import Config, Experiment
from pipeline.io.experiment_tables import read_assignments, replaced_lines, result_rows, write_results
from pipeline.io.subgroup_table import first_reasons, subgroup_rows
from pipeline.io.warehouse import Warehouse, utc_now
from pipeline.render.impact_page import Impact, page, plot


def find_experiment(cfg: Config, name: str) -> Experiment:
    """The configured experiment called ``name``.

    Raises
    ------
    ConfigError
        Listing the configured names.
    """
    for e in cfg.experiments:
        if e.name == name:
            return e
    known = ", ".join(e.name for e in cfg.experiments) or "none"
    raise ConfigError(f"--experiment: no experiment '{name}' in experiments: (configured: {known})")


def outcomes(source, assigned: pd.DataFrame, cfg: Config, end: date) -> pd.DataFrame:
    """Each assignment's outcome by the pipeline's labels, as known on ``end``.

    Returns the rows of ``assigned`` with ``churned`` (0/1), ``churn_date``, ``days_to_churn``
    and ``observed`` (the label horizon plus the grace period after assignment closed before ``end``).
    """
    if assigned.empty:
        return assigned.assign(churned=pd.Series(dtype="int64"), churn_date=None, days_to_churn=None,
                               observed=pd.Series(dtype=bool))
    keys = pd.DataFrame({"account_id": assigned["account_id"].astype(str),
                         "as_of": pd.to_datetime(assigned["assigned_date"]).dt.date})
    snapshots = ibis.memtable(keys, schema={"account_id": "string", "as_of": "date"})
    found = labels(source, snapshots, cfg, end).execute()
    found["as_of"] = pd.to_datetime(found["as_of"]).dt.date
    found = found.rename(columns={"as_of": "assigned_date", "label_observed": "observed"})
    out = assigned.merge(found[["account_id", "assigned_date", "churned", "churn_date", "observed"]],
                         on=["account_id", "assigned_date"], how="left", validate="one_to_one")
    churn = pd.to_datetime(out["churn_date"])
    out["days_to_churn"] = (churn - pd.to_datetime(out["assigned_date"])).dt.days
    out["churned"] = out["churned"].fillna(0).astype("int64")
    out["observed"] = out["observed"].fillna(False).astype(bool)
    return out


def compliance(source, rows: pd.DataFrame, horizon: int) -> dict | None:
    """How many accounts of each arm had a CS activity in the horizon after assignment (``None`` without the table)."""
    if not source.has("cs_activities"):
        return None
    out = {"contacted_outreach": 0, "contacted_holdout": 0, "n_outreach": int((rows["arm"] == OUTREACH).sum()),
           "n_holdout": int((rows["arm"] == HOLDOUT).sum())}
    if rows.empty:
        return out
    keys = pd.DataFrame({"account_id": rows["account_id"].astype(str),
                         "assigned": pd.to_datetime(rows["assigned_date"]).dt.date})
    k = ibis.memtable(keys, schema={"account_id": "string", "assigned": "date"})
    act = source.table("cs_activities")
    hit = k.join(act, [k.account_id == act.account_id, act.occurred_at.date() >= k.assigned,
                       act.occurred_at.date() < k.assigned + ibis.interval(days=horizon)])
    contacted = set(hit.select(k.account_id).distinct().execute()["account_id"])
    for arm in (OUTREACH, HOLDOUT):
        out[f"contacted_{arm}"] = int(rows.loc[rows["arm"] == arm, "account_id"].isin(contacted).sum())
    return out


def run(cfg: Config, experiment: str, *, as_of: date | None = None, warehouse: str | None = None,
        out: Path | None = None) -> Impact:
    """Compare the arms of ``experiment`` on ``as_of`` (default: the data end); write results, page and plot.

    Parameters
    ----------
    cfg : pipeline.config.Config
    experiment : str
        A name from ``experiments:``.
    as_of : date, optional
        Only what was known then: assignments before it, outcome windows closed before it.
    warehouse : str, optional
        Overrides ``cfg.warehouse``.
    out : Path, optional
        The HTML page (default ``<training.report_dir>/impact-<experiment>-<as_of>.html``); the plot is
        written beside it as a PNG of the same name.

    Raises
    ------
    ChurnError
        Unknown experiment, no assignment yet, or an as-of date after the data.
    """
    spec = find_experiment(cfg, experiment)
    store = Warehouse.from_config(cfg, warehouse)
    assigned = read_assignments(store, spec.name)
    if assigned.empty:
        raise ChurnError(f"{store.label}: no account is assigned to experiment '{spec.name}' yet: `churn score` "
                         f"assigns them from {spec.start} on")
    with get_engine(cfg.engine).source(cfg) as source:
        end = data_end(source)
        if as_of is not None and as_of > end:
            raise ChurnError(f"--as-of {as_of} is after the data end ({end}) of {source.label}")
        day = as_of or end
        assigned = assigned[pd.to_datetime(assigned["assigned_date"]).dt.date < day].reset_index(drop=True)
        found = outcomes(source, assigned, cfg, day)
        closed = found[found["observed"]].reset_index(drop=True)
        contacts = compliance(source, closed, cfg.labels.horizon_days)
        data_source = source.label
    result = Impact(spec, day, assigned, closed, by_tier(closed, spec.alpha, spec.mrr_resamples),
                    cumulative_churn(closed, cfg.labels.horizon_days), contacts, cfg.labels.horizon_days,
                    cfg.labels.grace_days)
    if "reason" in spec.subgroups:
        closed["reason"] = first_reasons(store, closed)
    result.subgroups = subgroup_effects(closed, list(spec.subgroups), spec.alpha, spec.subgroup_correction,
                                        spec.subgroup_min_accounts)
    result.subgroup_verdict = subgroup_verdict(result.subgroups, spec.subgroup_correction, spec.alpha)
    model, now = model_versions(store, closed if len(closed) else assigned), utc_now()
    replaced = write_results(store, result_rows(spec.name, day, result.results, now, data_source, model),
                             subgroup_rows(spec.name, day, result.subgroups, spec.subgroup_correction, now))
    result.notes = replaced_lines(replaced, data_source, model)
    target = out or Path(cfg.training.report_dir) / f"impact-{spec.name}-{day}.html"
    result.files = write_page(result, target)
    return result


def model_versions(store: Warehouse, rows: pd.DataFrame) -> str | None:
    """The models of the scoring runs that assigned ``rows`` (``run_id``), e.g. ``churn-model v1, v2``.

    ``None`` when none of those runs is recorded in ``score_runs``.
    """
    if rows.empty or "run_id" not in rows:
        return None
    runs = store.runs()
    runs = runs[runs["run_id"].isin(set(rows["run_id"].dropna()))]
    found = runs[["model_name", "model_version"]].dropna(how="all").drop_duplicates()
    if found.empty:
        return None
    parts = []
    for name, part in found.groupby(found["model_name"].fillna("?"), sort=True):
        versions = sorted(part["model_version"].fillna("?").astype(str), key=lambda v: (len(v), v))
        parts.append(f"{name} " + ", ".join(f"v{v}" for v in versions))
    return "; ".join(parts)


def write_page(result: Impact, target: Path) -> list[Path]:
    """The HTML page at ``target`` and its plot beside it (same name, ``.png``); both paths."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    png = target.with_suffix(".png")
    buffer = io.BytesIO()
    plot(result).savefig(buffer, format="png")
    png.write_bytes(buffer.getvalue())
    target.write_text(page(result, buffer.getvalue()), encoding="utf-8")
    return [target, png]


def window_closes(assigned_date: date, horizon: int, grace: int) -> date:
    """The first as-of date on which an assignment's outcome counts (the label is observed)."""
    return assigned_date + timedelta(days=horizon + grace + 1)
