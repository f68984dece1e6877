"""The score tables: the one place that writes and reads ``churn_scores`` and ``score_runs``.

A warehouse is an embedded DuckDB file (the default, ``data/warehouse.duckdb``)
or a PostgreSQL database given by URL. Both get the same tables with declared
types (:mod:`pipeline.io.score_tables`). A scoring run is one
transaction: create the tables if absent, read each account's previous
probability, delete the as-of date's rows, bulk-insert the new ones, recompute
the change of each account's next later row (a backfill or a re-score in the
middle changes what that row moved from), insert the run's ``score_runs`` row, commit. A crash or kill before the commit leaves the
previous contents as they were. Concurrent runs serialise: DuckDB allows one
writing process per file (a second one waits for the file lock), PostgreSQL
runs take a transaction-scoped advisory lock named after the table.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import partial

import numpy as np
import pandas as pd

from models.errors import ChurnError
from models.score_moves import MIN_POINTS, MoveTeller, moves
from pipeline.io.score_tables import KEYS, RUN_COLUMNS, SCORE_COLUMNS
from pipeline.pause_points import pause_point
from pipeline.io.sql_backends import DuckDBBackend, PostgresBackend
from pipeline.io.urls import duckdb_path, is_postgres, mask_url
from pipeline.config import Config

#: ``churn_scores`` JSON columns written as given: the scorer's documents (:mod:`models.reason_documents`) are
#: valid JSON by construction, so the DuckDB write does not parse 100,000 of them again.
DOCUMENTS = ("reasons", "contributions")

#: ``application_name`` of the warehouse's PostgreSQL connections (writing runs, readers).


def utc_now() -> datetime:
    """The current time, naive UTC (how the score tables store timestamps)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class Run:
    """One scoring run, as recorded in ``score_runs`` (timestamps naive UTC)."""

    run_id: str
    as_of: date | None
    started_at: datetime
    model_name: str | None = None
    model_version: str | None = None
    model_uri: str | None = None
    source: str | None = None
    status: str = "running"
    rows: int = 0
    finished_at: datetime | None = None
    timings: dict[str, float] = field(default_factory=dict)
    drift: dict[str, float | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    tier_rule: str | None = None
    #: ``classifier`` or ``hazard``: which model served ``churn_probability``.
    churn_probability_model: str | None = None

    def record(self) -> pd.DataFrame:
        """The run as a one-row frame in :data:`RUN_COLUMNS` order."""
        seconds = (self.finished_at - self.started_at).total_seconds() if self.finished_at else None
        row = {
            "run_id": self.run_id, "as_of_date": self.as_of, "status": self.status, "row_count": self.rows,
            "model_name": self.model_name, "model_version": self.model_version, "model_uri": self.model_uri,
            "source": self.source, "started_at": self.started_at, "finished_at": self.finished_at,
            "seconds": seconds, "timings": json.dumps({k: round(v, 3) for k, v in self.timings.items()}),
            "drift": json.dumps(self.drift), "warnings": "\n".join(self.warnings) or None,
            "error": self.error, "tier_rule": self.tier_rule,
            "churn_probability_model": self.churn_probability_model,
        }
        return pd.DataFrame([row])


class Warehouse:
    """The score tables in a DuckDB file or a PostgreSQL database.

    Parameters
    ----------
    url : str or Path
        DuckDB file path (created on first write) or PostgreSQL URL.
    table, runs_table : str
        Plain SQL names (validated by the config).
    lock_timeout : float
        Seconds a run waits for another writer before giving up.
    change_min_points : float
        Smallest move (probability points) that gets ``change_reasons`` (``scoring.change_min_points``).
    """

    def __init__(self, url, table: str = "churn_scores", runs_table: str = "score_runs",
                 lock_timeout: float = 600.0, change_min_points: float = MIN_POINTS):
        self.url = str(url)
        self.change_min_points = change_min_points
        self.names = {"scores": table, "runs": runs_table}
        postgres = is_postgres(self.url)
        self.backend = (PostgresBackend if postgres else DuckDBBackend)(self.url if postgres else duckdb_path(self.url), lock_timeout)

    @classmethod
    def from_config(cls, cfg: Config, url: str | None = None) -> Warehouse:
        """The warehouse of ``cfg`` (``warehouse`` and the ``scoring`` section), or at ``url``."""
        s = cfg.scoring
        return cls(url or cfg.warehouse, s.table, s.runs_table, s.lock_timeout_seconds, s.change_min_points)

    @property
    def label(self) -> str:
        """The location as it may be printed (password masked)."""
        return mask_url(self.url)

    # ------------------------------------------------------------------ writing
    def write(self, scores: pd.DataFrame, run: Run, also=None, features=None) -> pd.DataFrame:
        """Replace the rows of ``run.as_of`` with ``scores`` and record ``run``, in one transaction.

        ``probability_change`` and ``change_reasons`` are filled here, inside the transaction, from each
        account's latest earlier as-of date in the table; those of each account's next later row are
        recomputed against the rows just written, so the change of every run is against the previous
        date present whatever order the dates were scored in. ``features`` (the run's
        ``features.base.Feature`` list) tell the reasons in sentences. ``run`` gets its ``write`` timing
        and ``finished_at`` just before its row is inserted. ``also(backend, con, scores)``,
        when given, writes more tables in the same transaction (experiment assignments,
        :mod:`pipeline.io.experiment_tables`). ``reasons`` and ``contributions`` (:data:`DOCUMENTS`) must be
        valid JSON text, as :mod:`models.reason_documents` writes it. Returns the rows as written.
        """
        if run.as_of is None:
            raise ValueError("a run writes scores of one as-of date: run.as_of is not set")
        # nullable columns the caller did not fill (rows from a model without a time-to-churn curve) are null
        scores = scores.assign(**{c.name: None for c in SCORE_COLUMNS if not c.required and c.name not in scores})
        started = time.perf_counter()
        with self.backend.transaction() as con:
            self._prepare(con)
            pause_point("write_began")
            named = {f.name: f for f in features or ()}
            scores = self._with_change(con, scores, run.as_of, named)
            # a later version's nullable columns (e.g. uplift) the caller does not fill are written null
            scores = scores.assign(**{c.name: None for c in SCORE_COLUMNS if c.name not in scores and not c.required})
            self.backend.execute(con, f"DELETE FROM {self.names['scores']} WHERE as_of_date = ?", [run.as_of])
            pause_point("scores_deleted")
            self.backend.insert(con, self.names["scores"], scores[[c.name for c in SCORE_COLUMNS]], SCORE_COLUMNS,
                                valid_json=DOCUMENTS)
            self._rechange_next(con, run.as_of, named)
            pause_point("scores_inserted")
            if also is not None:
                also(self.backend, con, scores)
            pause_point("others_written")
            run.timings["write"], run.finished_at = time.perf_counter() - started, utc_now()
            self.backend.insert(con, self.names["runs"], run.record(), RUN_COLUMNS)
            pause_point("run_recorded")
        return scores

    def record_failure(self, run: Run, wait: float = 10.0) -> bool:
        """Record a failed run in its own transaction; ``False`` if even that is impossible.

        Waits at most ``wait`` seconds for another writer: the failure may be that
        the lock timeout already ran out once.
        """
        timeout, self.backend.lock_timeout = self.backend.lock_timeout, min(self.backend.lock_timeout, wait)
        try:
            with self.backend.transaction() as con:
                self._prepare(con)
                self.backend.insert(con, self.names["runs"], run.record(), RUN_COLUMNS)
        except Exception:  # the failure being recorded may be the warehouse itself
            return False
        finally:
            self.backend.lock_timeout = timeout
        return True

    def _prepare(self, con) -> None:
        """Serialise with other writers, then create the tables if absent and check their columns."""
        self.backend.lock(con, self.names["scores"])
        for kind, columns in (("scores", SCORE_COLUMNS), ("runs", RUN_COLUMNS)):
            name = self.names[kind]
            self.backend.create(con, name, columns, KEYS[kind])

    def _with_change(self, con, scores: pd.DataFrame, as_of: date, features: dict) -> pd.DataFrame:
        """``scores`` with ``probability_change`` and ``change_reasons`` against each account's latest row
        before ``as_of``."""
        # aligned by account, not merged: a merge would copy every column, kilobytes of JSON a row
        earlier = self._latest_before(con, as_of, "churn_probability").reindex(scores["account_id"].to_numpy())
        out = scores.drop(columns=["probability_change", "change_reasons"], errors="ignore")
        if "contributions" not in out:  # rows from an older scorer
            out["contributions"] = None
        out["probability_change"] = out["churn_probability"].to_numpy() - earlier.to_numpy(dtype="float64")
        floor = self.change_min_points
        moved = [i for i, change in enumerate(out["probability_change"].tolist()) if moves(change, floor)]
        # only the moved accounts' earlier documents are read: a night's run would otherwise read every account's
        # (100,000 accounts: 250 MB of JSON, 0.5 s on DuckDB) to explain the few that moved
        ids = [str(out["account_id"].iat[i]) for i in moved]
        earlier_docs = self._latest_before(con, as_of, "contributions", ids) if moved else {}
        befores = {i: before for i, account in zip(moved, ids) if (before := _parsed(earlier_docs.get(account))) is not None}
        at = np.fromiter(befores, dtype=np.int64, count=len(befores))
        change_reasons = np.full(len(out), None, dtype=object)
        # the current rows' JSON is parsed only where there is a move to explain, read item by item: the documents
        # may be Arrow text in chunks, which a take (``iloc``) would first copy whole (0.2 s per column at 100,000 rows)
        nows, reasons = out["contributions"].array, out["reasons"].array
        tell = MoveTeller(features, floor)
        change_reasons[at] = [tell(change, _parsed(nows[i]), before, partial(_parsed, reasons[i]))
                              for i, change, before in zip(at, out["probability_change"].to_numpy()[at], befores.values())]
        out["change_reasons"] = change_reasons
        return out

    def _latest_before(self, con, as_of: date, column: str, accounts: list[str] | None = None) -> pd.Series:
        """``column`` of each account's latest row before ``as_of``, by account id (only ``accounts``, if given)."""
        table = self.names["scores"]
        among = "" if accounts is None else " AND account_id = ANY(?)"
        rows = self.backend.fetch(con, (
            f"SELECT s.account_id, s.{column} AS value FROM {table} s JOIN ("
            f"SELECT account_id, MAX(as_of_date) AS d FROM {table} WHERE as_of_date < ?{among} GROUP BY account_id"
            ") p ON s.account_id = p.account_id AND s.as_of_date = p.d"), [as_of] + ([] if accounts is None else [accounts]))
        return rows.set_index("account_id")["value"]

    def _rechange_next(self, con, as_of: date, features: dict) -> None:
        """Recompute the change of each account's first row after ``as_of`` against the table as it now is.

        Those rows, and only those, compared with an account's row of ``as_of`` (or with an earlier one, for an
        account that row no longer holds); an account absent from the dates in between compares with ``as_of``
        too, so the next row is per account, not the next date.
        """
        table = self.names["scores"]
        rows = self.backend.fetch(con, (
            f"SELECT s.account_id, s.as_of_date, s.churn_probability, s.contributions, s.reasons FROM {table} s JOIN ("
            f"SELECT account_id, MIN(as_of_date) AS d FROM {table} WHERE as_of_date > ? GROUP BY account_id"
            ") n ON s.account_id = n.account_id AND s.as_of_date = n.d"), [as_of])
        if rows.empty:
            return
        rows["as_of_date"] = pd.to_datetime(rows["as_of_date"]).dt.date
        changed = pd.concat([self._with_change(con, part, day, features) for day, part in rows.groupby("as_of_date")])
        names = ("as_of_date", "account_id", "probability_change", "change_reasons")
        self.backend.update(con, table, changed[list(names)], ["as_of_date", "account_id"],
                            [c for c in SCORE_COLUMNS if c.name in names])

    # ------------------------------------------------------------------ reading
    def latest_as_of(self) -> date | None:
        """The latest as-of date with scores, ``None`` if there are none."""
        frame = self._read(f"SELECT MAX(as_of_date) AS d FROM {self.names['scores']}", [])
        value = frame["d"].iloc[0] if len(frame) else None
        return None if value is None or pd.isna(value) else pd.Timestamp(value).date()

    def scores(self, as_of: date, csm: str | None = None, segment: str | None = None,
               top: int | None = None) -> pd.DataFrame:
        """Rows of one as-of date, most at risk first, optionally for one CSM and segment.

        ``reasons`` comes back parsed (a dict per row).
        """
        where, params = self._filters(csm, segment)
        sql = (f"SELECT * FROM {self.names['scores']} WHERE as_of_date = ?{where} ORDER BY risk_rank"
               + (f" LIMIT {int(top)}" if top else ""))
        frame = self._read(sql, [as_of, *params])
        frame["reasons"] = [json.loads(r) if isinstance(r, str) else r for r in frame["reasons"]]
        return frame

    def count(self, as_of: date, csm: str | None = None, segment: str | None = None) -> int:
        """Rows of one as-of date, optionally for one CSM and segment."""
        where, params = self._filters(csm, segment)
        sql = f"SELECT COUNT(*) AS n FROM {self.names['scores']} WHERE as_of_date = ?{where}"
        return int(self._read(sql, [as_of, *params])["n"].iloc[0])

    def history(self, as_of: date, csm: str | None = None, segment: str | None = None,
                points: int = 12) -> pd.DataFrame:
        """``account_id``, ``as_of_date``, ``churn_probability`` over the last ``points`` as-of dates."""
        table = self.names["scores"]
        where, params = self._filters(csm, segment)
        sql = (f"SELECT account_id, as_of_date, churn_probability FROM {table} WHERE as_of_date IN ("
               f"SELECT DISTINCT as_of_date FROM {table} WHERE as_of_date <= ? "
               f"ORDER BY as_of_date DESC LIMIT {int(points)}){where} ORDER BY account_id, as_of_date")
        return self._read(sql, [as_of, *params])

    def tier_rule(self, as_of: date) -> str | None:
        """How the latest successful run on ``as_of`` made its tiers (None: a run from before it was recorded)."""
        with self.backend.reading() as con:
            if "tier_rule" not in self.backend.columns(con, self.names["runs"]):  # written by an earlier version
                return None
        sql = (f"SELECT tier_rule FROM {self.names['runs']} WHERE as_of_date = ? AND status = 'succeeded' "
               "ORDER BY started_at DESC LIMIT 1")
        found = self._read(sql, [as_of], "runs")
        return None if found.empty or pd.isna(found.iloc[0, 0]) else str(found.iloc[0, 0])

    def runs(self) -> pd.DataFrame:
        """Every recorded run, latest first."""
        return self._read(f"SELECT * FROM {self.names['runs']} ORDER BY started_at DESC", [], "runs")

    def account_history(self, as_of: date, accounts: list[str], points: int = 12) -> pd.DataFrame:
        """Every stored row of ``accounts`` over the last ``points`` as-of dates up to ``as_of``, oldest first.

        ``reasons`` and ``contributions`` come back parsed (a dict per row, ``None`` when absent).
        """
        table = self.names["scores"]
        if not accounts:
            return pd.DataFrame()
        marks = ", ".join("?" for _ in accounts)
        sql = (f"SELECT * FROM {table} WHERE account_id IN ({marks}) AND as_of_date IN ("
               f"SELECT DISTINCT as_of_date FROM {table} WHERE as_of_date <= ? "
               f"ORDER BY as_of_date DESC LIMIT {int(points)}) ORDER BY account_id, as_of_date")
        frame = self._read(sql, [*accounts, as_of])
        for column in ("reasons", "contributions"):
            frame[column] = [_parsed(v) for v in frame[column]]
        return frame

    @staticmethod
    def _filters(csm: str | None, segment: str | None) -> tuple[str, list]:
        clauses = [(f" AND lower({col}) = lower(?)", value) for col, value in (("csm", csm), ("segment", segment))
                   if value is not None]
        return "".join(c for c, _ in clauses), [v for _, v in clauses]

    def _read(self, sql: str, params: list, kind: str = "scores") -> pd.DataFrame:
        with self.backend.reading() as con:
            if not self.backend.has_table(con, self.names[kind]):
                raise ChurnError(f"{self.label} holds no table {self.names[kind]} yet: run `churn score` first")
            frame = self.backend.fetch(con, sql, params)
        if "as_of_date" in frame:
            frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
        if "change_reasons" in frame and "probability_change" in frame:  # rows written under a lower threshold
            moved = [moves(c, self.change_min_points) for c in frame["probability_change"]]
            frame["change_reasons"] = frame["change_reasons"].astype(object).where(moved, None)
        return frame


def _parsed(value) -> dict | None:
    """A JSON column as a dict: DuckDB returns text, PostgreSQL's JSONB a dict; ``None`` when absent."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return json.loads(value) if isinstance(value, str) else value
