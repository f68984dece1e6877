"""``churn_experiment_subgroups``: the effect of outreach per subgroup, as ``churn impact`` found it.

One row per (experiment, as_of_date, dimension, subgroup), written in the same transaction as
``churn_experiment_results`` (:func:`pipeline.io.experiment_tables.write_results`): a date's rows
of both tables are replaced together or not at all. Also reads what the tests split by that the
assignments do not hold: each account's first risk reason at assignment, from ``churn_scores``.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd

from models.subgroups import Subgroup, as_frame
from pipeline.io.score_tables import Column

SUBGROUP_TABLE = "churn_experiment_subgroups"
SUBGROUP_KEY = "experiment, as_of_date, dimension, subgroup"
#: ``churn_experiment_subgroups``: one row per (experiment, as_of_date, dimension, subgroup), the primary key.
SUBGROUP_COLUMNS = [
    Column("experiment", "text", True, "Experiment name."),
    Column("as_of_date", "date", True, "Outcomes known on this date (as in `churn_experiment_results`)."),
    Column("dimension", "text", True, "`segment`, `tier` (at assignment) or `reason` (first risk reason then)."),
    Column("subgroup", "text", True, "The dimension's value (`(none)`: no value)."),
    Column("n_outreach", "integer", True, "Outreach accounts of the subgroup with a closed outcome window."),
    Column("n_holdout", "integer", True, "Holdout accounts of the subgroup with a closed outcome window."),
    Column("churned_outreach", "integer", True, "Of those, churned within the label horizon."),
    Column("churned_holdout", "integer", True, "Same for the holdout."),
    Column("difference", "double", False, "Churn rate outreach − holdout in the subgroup."),
    Column("difference_low", "double", False, "Lower end of its confidence interval (Newcombe)."),
    Column("difference_high", "double", False, "Upper end."),
    Column("reduction", "double", False, "Relative reduction of churn in the subgroup: 1 − rate ratio."),
    Column("reduction_low", "double", False, "Lower end of its confidence interval (log ratio, adjusted)."),
    Column("reduction_high", "double", False, "Upper end."),
    Column("rest_reduction", "double", False, "Relative reduction in the rest of the experiment."),
    Column("p_interaction", "double", False,
           "Two-sided test that the subgroup's rate ratio differs from the rest's (null: not tested)."),
    Column("p_adjusted", "double", False, "p_interaction after the correction over every subgroup test."),
    Column("correction", "text", True, "`holm` or `bh` (Benjamini–Hochberg): `experiments[].subgroup_correction`."),
    Column("significant", "integer", True, "1 when p_adjusted < alpha: the effect differs from the rest's."),
    Column("note", "text", False, "Why a subgroup was not tested (too few accounts)."),
    Column("computed_at", "timestamp", True, "When `churn impact` ran (UTC)."),
]


def subgroup_rows(experiment: str, as_of: date, subgroups: list[Subgroup], correction: str,
                  computed_at: datetime) -> pd.DataFrame:
    """The ``churn_experiment_subgroups`` rows of one experiment and date."""
    names = [c.name for c in SUBGROUP_COLUMNS]
    if not subgroups:
        return pd.DataFrame(columns=names)
    frame = as_frame(subgroups).rename(columns={"level": "subgroup"})
    frame = frame.assign(experiment=experiment, as_of_date=as_of, correction=correction, computed_at=computed_at,
                         significant=frame["significant"].astype(int), note=frame["note"].replace({"": None}))
    return frame[names].astype(object).where(frame[names].notna(), None)


def write_subgroups(backend, con, rows: pd.DataFrame, keys: pd.DataFrame) -> None:
    """Inside the caller's transaction: replace the subgroup rows of each (experiment, as_of_date) of ``keys``."""
    backend.create(con, SUBGROUP_TABLE, SUBGROUP_COLUMNS, SUBGROUP_KEY)
    for (name, day), _ in keys.groupby(["experiment", "as_of_date"]):
        backend.execute(con, f"DELETE FROM {SUBGROUP_TABLE} WHERE experiment = ? AND as_of_date = ?", [name, day])
    if len(rows):
        backend.insert(con, SUBGROUP_TABLE, rows, SUBGROUP_COLUMNS)


def read_subgroups(store, experiment: str) -> pd.DataFrame:
    """Every stored subgroup row of ``experiment`` (empty frame when none)."""
    with store.backend.reading() as con:
        if not store.backend.has_table(con, SUBGROUP_TABLE):
            return pd.DataFrame(columns=[c.name for c in SUBGROUP_COLUMNS])
        return store.backend.fetch(con, f"SELECT * FROM {SUBGROUP_TABLE} WHERE experiment = ? ORDER BY as_of_date, "
                                        "dimension, subgroup", [experiment])


def first_reasons(store, rows: pd.DataFrame) -> pd.Series:
    """Each row's first risk reason group at assignment (``account_id``, ``assigned_date``) from ``churn_scores``.

    Null where the account had no risk reason, or its scores of that date are gone.
    """
    if rows.empty:
        return pd.Series([], dtype=object)
    table = store.names["scores"]
    days = sorted(set(rows["assigned_date"]))
    marks = ", ".join("?" for _ in days)
    with store.backend.reading() as con:
        if not store.backend.has_table(con, table):
            return pd.Series([None] * len(rows), index=rows.index, dtype=object)
        found = store.backend.fetch(con, f"SELECT account_id, as_of_date, reasons FROM {table} "
                                         f"WHERE as_of_date IN ({marks})", days)
    found["as_of_date"] = pd.to_datetime(found["as_of_date"]).dt.date
    first = {(a, d): _first(r) for a, d, r in found.itertuples(index=False)}
    return pd.Series([first.get((str(a), d)) for a, d in zip(rows["account_id"], rows["assigned_date"])],
                     index=rows.index, dtype=object)


def _first(reasons) -> str | None:
    doc = json.loads(reasons) if isinstance(reasons, str) else reasons
    risk = (doc or {}).get("risk") or []
    return risk[0].get("group") if risk else None
