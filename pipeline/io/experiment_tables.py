"""The experiment tables: ``churn_experiments`` (who is in which arm) and ``churn_experiment_results``.

Assignments are written by the scoring run, inside its transaction
(:meth:`pipeline.io.warehouse.Warehouse.write` calls :func:`assigner`'s function),
so a run that is killed or fails leaves both the scores and the assignments as
they were. They are idempotent like the scores: an account keeps the assignment
of the first date it entered the population; re-scoring that date replaces its
rows with the same arms (the arm is a hash of experiment and account,
:func:`models.experiments.arms`), and scoring an earlier date moves an account's
entry to that date. ``churn impact`` writes one results row per experiment,
as-of date and scope (all accounts, each tier), replacing that date's rows; each row
records the data source and the model version(s) it came from, and the rows replaced
are returned so the command can say so.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from models.experiments import HOLDOUT, Comparison, assignments, in_population
from pipeline.io.score_tables import Column
from pipeline.io.subgroup_table import write_subgroups

TABLE, RESULTS_TABLE = "churn_experiments", "churn_experiment_results"

#: ``churn_experiments``: one row per (experiment, account_id), the primary key.
EXPERIMENT_COLUMNS = [
    Column("experiment", "text", True, "Experiment name (`experiments[].name`)."),
    Column("account_id", "text", True, "Account key from `accounts`."),
    Column("arm", "text", True, "`outreach` (on the risk list) or `holdout` (kept off it)."),
    Column("assigned_date", "date", True, "As-of date of the run in which the account entered the population."),
    Column("probability", "double", True, "churn_probability at assignment."),
    Column("tier", "text", True, "risk_tier at assignment."),
    Column("mrr", "double", False, "MRR at assignment."),
    Column("segment", "text", False, "Segment at assignment."),
    Column("run_id", "text", True, "The `score_runs` row of the run that assigned it."),
    Column("assigned_at", "timestamp", True, "When that run started (UTC)."),
]
#: ``churn_experiment_results``: one row per (experiment, as_of_date, scope), the primary key.
RESULT_COLUMNS = [
    Column("experiment", "text", True, "Experiment name."),
    Column("as_of_date", "date", True, "Outcomes known on this date: windows closed before it count."),
    Column("scope", "text", True, "`all`, or `tier:<tier>` (tier at assignment)."),
    Column("n_outreach", "integer", True, "Outreach accounts with a closed outcome window."),
    Column("n_holdout", "integer", True, "Holdout accounts with a closed outcome window."),
    Column("churned_outreach", "integer", True, "Of those, churned within the label horizon after assignment."),
    Column("churned_holdout", "integer", True, "Same for the holdout."),
    Column("rate_outreach", "double", False, "Churn rate of the outreach arm."),
    Column("rate_holdout", "double", False, "Churn rate of the holdout arm."),
    Column("difference", "double", False, "rate_outreach - rate_holdout."),
    Column("difference_low", "double", False, "Lower end of its confidence interval (Newcombe)."),
    Column("difference_high", "double", False, "Upper end."),
    Column("reduction", "double", False, "Relative reduction of churn: 1 - rate_outreach / rate_holdout."),
    Column("reduction_low", "double", False, "Lower end of its confidence interval (log ratio, adjusted)."),
    Column("reduction_high", "double", False, "Upper end."),
    Column("p_value", "double", False, "Two-sided score test of equal churn rates."),
    Column("mde_points", "double", False, "Smallest drop of the churn rate detectable with 80 % power."),
    Column("mrr_retained_per_100", "double", False, "MRR kept per 100 outreach accounts vs the holdout."),
    Column("significant", "integer", True, "1 when p_value < alpha."),
    Column("verdict", "text", True, "The sentence `churn impact` prints."),
    Column("computed_at", "timestamp", True, "When `churn impact` ran (UTC)."),
    Column("p_holm", "double", False, "Tier rows: p_value after Holm's correction over the tiers (null for `all`)."),
    Column("mrr_retained_low", "double", False,
           "Lower end of its confidence interval (permutation test of the Welch statistic, inverted)."),
    Column("mrr_retained_high", "double", False, "Upper end."),
    Column("data_source", "text", False, "The data source the outcomes were read from (password masked)."),
    Column("model_version", "text", False, "Model(s) of the scoring runs that assigned the accounts compared."),
]
KEYS = {TABLE: "experiment, account_id", RESULTS_TABLE: "experiment, as_of_date, scope"}


def _create(backend, con, table: str, columns: list) -> None:
    """Create ``table`` if absent, adding the nullable columns of a later version in place."""
    backend.create(con, table, columns, KEYS[table])


def assigner(experiments, as_of: date, assigned: list):
    """The ``also`` callback of :meth:`Warehouse.write` that assigns the accounts entering ``experiments``.

    Parameters
    ----------
    experiments : list of pipeline.config.Experiment
        Those not active on ``as_of`` are skipped.
    as_of : date
    assigned : list
        Receives the frame of the rows written (for the run's summary).
    """
    running = [e for e in experiments if e.active_on(as_of)]

    def write(backend, con, scores: pd.DataFrame) -> None:
        if not running:
            return
        _create(backend, con, TABLE, EXPERIMENT_COLUMNS)
        for e in running:
            rows = _assign(backend, con, scores, as_of, e)
            assigned.append(rows)

    return write


def _assign(backend, con, scores: pd.DataFrame, as_of: date, experiment) -> pd.DataFrame:
    """Write the accounts entering ``experiment`` on ``as_of`` (inside the run's transaction).

    Returns the rows written, with ``already_assigned``: ``True`` for an account an earlier run
    of the same date had assigned (re-written with the same arm). ``attrs["assigned_before"]``
    counts the accounts of the population assigned on an earlier date (not written again);
    ``attrs["experiment"]`` names the experiment (also when no row is written).
    """
    existing = backend.fetch(con, f"SELECT account_id, assigned_date FROM {TABLE} WHERE experiment = ?",
                             [experiment.name])
    dates = pd.to_datetime(existing["assigned_date"]).dt.date
    rerun = set(existing.loc[(dates == as_of).to_numpy(), "account_id"])
    backend.execute(con, f"DELETE FROM {TABLE} WHERE experiment = ? AND assigned_date = ?", [experiment.name, as_of])
    earlier = set(existing.loc[(dates < as_of).to_numpy(), "account_id"])
    rows = assignments(scores, experiment.name, experiment.holdout_share, earlier, **experiment.population())
    later = existing.loc[(dates > as_of).to_numpy() & existing["account_id"].isin(rows["account_id"]).to_numpy(),
                         "account_id"].tolist()
    for start in range(0, len(later), 1000):  # they entered earlier than they were known to: move them
        chunk = later[start:start + 1000]
        backend.execute(con, f"DELETE FROM {TABLE} WHERE experiment = ? AND account_id IN "
                             f"({', '.join('?' for _ in chunk)})", [experiment.name, *chunk])
    rows["assigned_at"] = scores["scored_at"].iloc[0] if len(scores) else None
    if len(rows):
        backend.insert(con, TABLE, rows[[c.name for c in EXPERIMENT_COLUMNS]], EXPERIMENT_COLUMNS)
    rows["already_assigned"] = rows["account_id"].isin(rerun).to_numpy(dtype=bool)
    population = scores.loc[in_population(scores, **experiment.population()), "account_id"]
    rows.attrs.update(experiment=experiment.name, assigned_before=int(population.astype(str).isin(earlier).sum()))
    return rows


def entry_line(rows: pd.DataFrame) -> str:
    """What a scoring run says of one experiment: accounts entered now, and those already assigned.

    Examples
    --------
    ``experiment q1: 12 accounts entered (9 outreach, 3 holdout); 660 already assigned``
    """
    new = rows[~rows["already_assigned"].to_numpy(dtype=bool)]
    held = int((new["arm"] == HOLDOUT).sum())
    already = int(rows["already_assigned"].sum()) + int(rows.attrs.get("assigned_before", 0))
    name = rows.attrs.get("experiment") or rows["experiment"].iloc[0]
    return (f"experiment {name}: {len(new):,} accounts entered ({len(new) - held:,} outreach, {held:,} holdout); "
            f"{already:,} already assigned")


def _read(store, sql: str, params: list, table: str) -> pd.DataFrame | None:
    with store.backend.reading() as con:
        if not store.backend.has_table(con, table):
            return None
        return store.backend.fetch(con, sql, params)


def read_assignments(store, experiment: str) -> pd.DataFrame:
    """Every assignment of ``experiment`` (empty frame with the columns when there is none)."""
    frame = _read(store, f"SELECT * FROM {TABLE} WHERE experiment = ? ORDER BY assigned_date, account_id",
                  [experiment], TABLE)
    if frame is None:
        return pd.DataFrame(columns=[c.name for c in EXPERIMENT_COLUMNS])
    frame["assigned_date"] = pd.to_datetime(frame["assigned_date"]).dt.date
    return frame


def holdout_accounts(store, experiments, day: date) -> pd.DataFrame:
    """``account_id``, ``experiment``, ``show`` of accounts held out on ``day`` by the experiments active then."""
    running = {e.name: e.show_holdout for e in experiments if e.active_on(day)}
    if not running:
        return pd.DataFrame(columns=["account_id", "experiment", "show"])
    marks = ", ".join("?" for _ in running)
    frame = _read(store, f"SELECT account_id, experiment FROM {TABLE} WHERE arm = ? AND assigned_date <= ? "
                         f"AND experiment IN ({marks}) ORDER BY experiment, account_id",
                  [HOLDOUT, day, *running], TABLE)
    if frame is None:
        return pd.DataFrame(columns=["account_id", "experiment", "show"])
    frame["show"] = frame["experiment"].map(running).astype(bool)
    return frame.drop_duplicates("account_id")


def write_results(store, rows: pd.DataFrame, subgroups: pd.DataFrame | None = None) -> pd.DataFrame:
    """Replace the results rows of each (experiment, as_of_date) in ``rows``, in one transaction.

    ``subgroups`` (:func:`pipeline.io.subgroup_table.subgroup_rows`) replace that date's rows of
    ``churn_experiment_subgroups`` in the same transaction.

    Returns
    -------
    pandas.DataFrame
        The rows replaced (``scope``, ``computed_at``, ``data_source``, ``model_version``; empty when none),
        so that the caller can say what it overwrote.
    """
    replaced = []
    with store.backend.transaction() as con:
        store.backend.lock(con, RESULTS_TABLE)
        _create(store.backend, con, RESULTS_TABLE, RESULT_COLUMNS)
        for (name, day), _ in rows.groupby(["experiment", "as_of_date"]):
            where = f"FROM {RESULTS_TABLE} WHERE experiment = ? AND as_of_date = ?"
            replaced.append(store.backend.fetch(
                con, f"SELECT experiment, as_of_date, scope, computed_at, data_source, model_version {where} "
                     "ORDER BY scope", [name, day]))
            store.backend.execute(con, f"DELETE {where}", [name, day])
        store.backend.insert(con, RESULTS_TABLE, rows[[c.name for c in RESULT_COLUMNS]], RESULT_COLUMNS)
        if subgroups is not None:
            write_subgroups(store.backend, con, subgroups, rows)
    return pd.concat(replaced, ignore_index=True) if replaced else pd.DataFrame()


def read_results(store, experiment: str) -> pd.DataFrame:
    """Every stored results row of ``experiment``, by date and scope (empty frame when none)."""
    frame = _read(store, f"SELECT * FROM {RESULTS_TABLE} WHERE experiment = ? ORDER BY as_of_date, scope",
                  [experiment], RESULTS_TABLE)
    return pd.DataFrame(columns=[c.name for c in RESULT_COLUMNS]) if frame is None else frame


def result_rows(experiment: str, as_of: date, results: dict[str, Comparison], computed_at: datetime,
                data_source: str | None = None, model_version: str | None = None) -> pd.DataFrame:
    """The ``churn_experiment_results`` rows of one experiment and date: one per scope (``all``, then tiers)."""
    rows = []
    for scope, c in results.items():
        d, r, m = c.difference_ci or (None, None), c.reduction_ci or (None, None), c
        k = c.mrr_retained_ci or (None, None)
        rows.append({
            "experiment": experiment, "as_of_date": as_of,
            "scope": "all" if scope == "all" else f"tier:{scope}",
            "n_outreach": m.n_outreach, "n_holdout": m.n_holdout, "churned_outreach": m.churned_outreach,
            "churned_holdout": m.churned_holdout, "rate_outreach": m.rate_outreach, "rate_holdout": m.rate_holdout,
            "difference": m.difference, "difference_low": d[0], "difference_high": d[1], "reduction": m.reduction,
            "reduction_low": r[0], "reduction_high": r[1], "p_value": m.p_value, "mde_points": m.mde_points,
            "mrr_retained_per_100": m.mrr_retained_per_100, "significant": int(m.significant),
            "verdict": m.verdict, "computed_at": computed_at, "p_holm": m.p_holm, "mrr_retained_low": k[0],
            "mrr_retained_high": k[1], "data_source": data_source, "model_version": model_version,
        })
    frame = pd.DataFrame(rows)
    return frame[[c.name for c in RESULT_COLUMNS]].astype(object).where(frame.notna(), None)


def replaced_lines(replaced: pd.DataFrame, data_source: str | None, model_version: str | None) -> list[str]:
    """What ``churn impact`` says of the stored rows it replaced: when they were computed, from which data.

    One line per (experiment, date) replaced; it says so plainly when the data source or the model differ.
    """
    lines = []
    for (name, day), part in replaced.groupby(["experiment", "as_of_date"]) if len(replaced) else []:
        first = part.iloc[0]
        source, model = first["data_source"], first["model_version"]
        source, model = (None if pd.isna(source) else source), (None if pd.isna(model) else model)
        differ = [what for what, old, new in (("data source", source, data_source), ("model", model, model_version))
                  if old != new]
        line = (f"replaced the stored results of {name} on {pd.Timestamp(day).date()} "
                f"({len(part)} rows computed at {pd.Timestamp(first['computed_at']):%Y-%m-%d %H:%M} UTC from "
                f"{source or 'an unrecorded data source'}, model {model or 'unrecorded'})")
        if differ:
            line += f": they came from a different {' and '.join(differ)}"
        lines.append(line)
    return lines
