"""The score tables' columns, declared types and meanings: ``churn_scores`` and ``score_runs``.

:mod:`pipeline.io.warehouse` creates and writes the tables from these declarations;
the README's column table is rendered from them (:func:`schema_markdown`).
"""

from __future__ import annotations

from typing import NamedTuple


class Column(NamedTuple):
    """A declared column: name, logical type (see :data:`TYPES`), NOT NULL, and what it means."""

    name: str
    type: str
    required: bool
    meaning: str


#: Days of the time-to-churn curve written as ``churn_probability_<days>d``.
CURVE_DAYS = (30, 60, 90, 180)
#: ``churn_scores``: one row per (as_of_date, account_id), the primary key.
SCORE_COLUMNS = [
    Column("as_of_date", "date", True, "Scored as of this date (features see only data before it)."),
    Column("account_id", "text", True, "Account key from `accounts`."),
    Column("account_name", "text", False, "Display name from `accounts.name`."),
    Column("csm", "text", False, "Owner from `accounts.csm` (null: unassigned)."),
    Column("segment", "text", False, "From `accounts.segment`."),
    Column("churn_probability", "double", True, "Calibrated probability of churning within the label horizon."),
    *[Column(f"churn_probability_{d}d", "double", False,
             f"Probability of churning within {d} days, from the time-to-churn curve (non-decreasing in the "
             "days; null: the model has no curve).") for d in CURVE_DAYS],
    Column("expected_churn_window", "integer", False,
           "Days at the end of the first curve period (30, 60, ...) whose churn probability passes one half "
           "(null: none within the curve, or no curve)."),
    Column("risk_rank", "integer", True, "1 = most at risk on this date (ties: higher revenue at risk first)."),
    Column("risk_tier", "text", True, "`high` / `medium` / `low` by `scoring.tiers`."),
    Column("mrr", "double", False, "Monthly recurring revenue on the as-of date."),
    Column("revenue_at_risk", "double", False,
           "churn_probability × mrr × months in the horizon (`labels.horizon_days` / 30.44)."),
    Column("health_score", "double", False, "The hand-tuned health score, 0-100 (higher = healthier)."),
    Column("reasons", "json", False, "Top reasons: `risk`, `protective`, `context` lists, `base_value`, `other`."),
    Column("reason_summary", "text", False, "The risk reasons' sentences in one line, for a CSM."),
    Column("probability_change", "double", False,
           "churn_probability minus the account's probability on its latest earlier as-of date (null: none)."),
    Column("change_reasons", "text", False,
           "Why the probability moved since that date: the reason groups whose contributions moved it most, "
           "in sentences with where their values came from (null: no earlier run, or a move under "
           "`scoring.change_min_points`)."),
    Column("contributions", "json", False,
           "Every reason group's contribution to the log-odds with its leading feature, that feature's value and "
           "the group in words (`{\"nps\": [0.31, \"nps_last\", 4.0, \"NPS\"]}`), kept so that the next run can "
           "say why the score moved."),
    Column("model_name", "text", False, "Registered model name."),
    Column("model_version", "text", False, "Registered model version that scored."),
    Column("run_id", "text", True, "The `score_runs` row of the run that wrote this row."),
    Column("scored_at", "timestamp", True, "When the run started (UTC)."),
    # issue 22 (whom to call): added in place (ALTER TABLE ADD COLUMN) to tables made before
    Column("uplift", "double", False,
           "Estimated reduction of churn_probability if the account is contacted, from the validated uplift model "
           "(`churn train-uplift`); null without one."),
    Column("expected_saved_mrr", "double", False,
           "MRR a call is expected to keep: uplift × mrr with a validated uplift model, else churn_probability × mrr."),
    # issue 23 (time to churn): added in place too
    Column("renewal_date", "date", False,
           "The account's next renewal: the as-of date + `days_to_renewal` (the running base line's `renewal_date`, "
           "else the end of its billing term); null when the term is unknown or that feature is not built."),
]
#: ``score_runs``: one row per run, run_id the primary key.
RUN_COLUMNS = [
    Column("run_id", "text", True, "Unique id of the run."),
    Column("as_of_date", "date", False, "The date scored (null if the run failed before knowing it)."),
    Column("status", "text", True, "`succeeded` or `failed`."),
    Column("row_count", "integer", True, "Rows written to `churn_scores` (0 when failed)."),
    Column("model_name", "text", False, "Registered model name."),
    Column("model_version", "text", False, "Registered model version."),
    Column("model_uri", "text", False, "The URI asked for, e.g. `models:/churn-model@champion`."),
    Column("source", "text", False, "The data source (password masked)."),
    Column("started_at", "timestamp", True, "Start of the run (UTC)."),
    Column("finished_at", "timestamp", False, "End of the run (UTC), just before the commit."),
    Column("seconds", "double", False, "finished_at - started_at."),
    Column("timings", "json", False, "Seconds per step: model (load, on its own thread while the data is opened and "
           "checked, so it overlaps them), features, predict (probabilities), drift, curves (time to churn), reasons "
           "(the reason documents, built in rank order, and what is left of TreeSHAP, which starts with predict on "
           "a thread of its own), write. On the Spark engine `spark` (features, probabilities and reasons on the "
           "executors) takes the place of features and predict."),
    Column("drift", "json", False, "PSI of every feature vs the training data, largest first; `null` for a feature "
           "not checked (too few training accounts had the history it needs)."),
    Column("warnings", "text", False, "Drift warnings, one per line."),
    Column("error", "text", False, "Why a failed run failed."),
    Column("tier_rule", "text", False, "Which rule made the risk tiers, in words (`scoring.tiers`)."),
    # issue 23 (time to churn): added in place (ALTER TABLE ADD COLUMN) to tables made before
    Column("churn_probability_model", "text", False,
           "Which model served `churn_probability`: `classifier`, or `hazard` (the time-to-churn curve at the "
           "label horizon, when it beat the classifier out of time); null: a run from before it was recorded."),
]



KEYS = {"scores": "as_of_date, account_id", "runs": "run_id"}
TYPES = {
    "duckdb": {"text": "VARCHAR", "date": "DATE", "double": "DOUBLE", "integer": "INTEGER",
               "json": "JSON", "timestamp": "TIMESTAMP"},
    "postgres": {"text": "TEXT", "date": "DATE", "double": "DOUBLE PRECISION", "integer": "INTEGER",
                 "json": "JSONB", "timestamp": "TIMESTAMP"},
}


def schema_markdown(tables=None) -> str:
    """Markdown tables of declared tables with their types (for the README); default: both score tables.

    ``tables`` is a sequence of ``(title, columns)`` pairs.
    """
    out = []
    for title, columns in tables or (("churn_scores", SCORE_COLUMNS), ("score_runs", RUN_COLUMNS)):
        out += [f"`{title}`", "", "| column | DuckDB | PostgreSQL | meaning |", "|---|---|---|---|"]
        for c in columns:
            null = "" if c.required else ", null"
            out.append(f"| `{c.name}` | {TYPES['duckdb'][c.type]}{null} | {TYPES['postgres'][c.type]}{null} | {c.meaning} |")
        out.append("")
    return "\n".join(out).rstrip()
