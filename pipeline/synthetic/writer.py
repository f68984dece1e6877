"""Turn simulation output into the contract's tables and write them deterministically."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .accounts import NEVER, Accounts
from .dates import SECONDS_PER_DAY, Calendar
from .params import (CSM_NAMES, DRIVERS, INDUSTRIES, MILESTONES, PLANS, PRIORITIES, REGIONS,
                     SEGMENTS, TERMS)

PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, use_dictionary=True,
                       write_statistics=True, row_group_size=1 << 20, version="2.6",
                       store_schema=False)


def fmt_ts(cal: Calendar, seconds: np.ndarray, null: np.ndarray | None = None) -> np.ndarray:
    """Format seconds from the start as ``YYYY-MM-DD HH:MM:SS`` ('' where ``null``)."""
    stamp = (cal.start_sec + np.asarray(seconds, np.int64)).astype("datetime64[s]")
    if stamp.size == 0:
        return np.zeros(0, dtype=object)
    out = np.char.replace(np.datetime_as_string(stamp, unit="s"), "T", " ").astype(object)
    if null is not None:
        out[null] = ""
    return out


def _nullable(values: np.ndarray, null: np.ndarray, fmt: str) -> np.ndarray:
    out = np.char.mod(fmt, np.where(null, 0, values)).astype(object)
    out[null] = ""
    return out


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write a CSV with a header, '' for null and Unix line endings."""
    df.to_csv(path, index=False, lineterminator="\n", na_rep="")


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write a Parquet file with fixed options (byte-identical for identical input)."""
    pq.write_table(table, path, **PARQUET_OPTIONS)


def write_json(obj: dict, path: Path) -> None:
    """Write JSON with sorted keys."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def accounts_frame(acc: Accounts, ids, cal: Calendar) -> pd.DataFrame:
    """The ``accounts`` table plus static attributes."""
    csm = np.array(CSM_NAMES, dtype=object)[np.maximum(acc.csm, 0)]
    csm[acc.csm < 0] = ""
    return pd.DataFrame({
        "account_id": ids, "name": acc.names, "segment": np.array(SEGMENTS)[acc.segment], "csm": csm,
        "created_at": fmt_ts(cal, acc.created_day * SECONDS_PER_DAY + acc.created_sec),
        "industry": np.array(INDUSTRIES)[acc.industry], "region": np.array(REGIONS)[acc.region],
        "seats_purchased": acc.seats, "billing_term": np.array(TERMS)[acc.term0],
    })


def subscriptions_frame(rows: dict, ids, cal: Calendar, days: int, plans=PLANS,
                        periods: bool = False) -> pd.DataFrame:
    """Subscription rows as known at the end of the period.

    Rows starting after the period are dropped; an end caused by something after
    the period is unknown then: a monthly row is still running (null end) and an
    annual row shows its contracted end date. ``plans`` names the plan indexes (base plans, then
    add-ons); ``periods`` writes ``billing_period_months`` from the rows' ``period``.
    """
    keep = rows["start"] < days
    r = {k: v[keep] for k, v in rows.items()}
    future = (r["end"] < 0) | (r["end"] >= days)
    end = np.where(future, r["natural_end"], r["end"])
    null = future & (r["term"] == 0)
    order = np.lexsort((end, r["start"], r["acc"]))
    r = {k: v[order] for k, v in r.items()}
    end_str = cal.iso(end[order]).astype(object)
    end_str[null[order]] = ""
    frame = pd.DataFrame({
        "account_id": ids[r["acc"]], "start_date": cal.iso(r["start"]), "end_date": end_str,
        "mrr": np.char.mod("%.2f", r["mrr"]), "plan": np.array(plans)[r["plan"]],
        "billing_term": np.array(TERMS)[r["term"]],
    })
    if periods:
        frame["billing_period_months"] = r["period"] if "period" in r else np.where(r["term"] == 1, 12, 1)
    return frame


def tickets_frame(t: dict, ids, cal: Calendar, days: int) -> pd.DataFrame:
    """Tickets opened in the period; resolution after the period is still open."""
    end = days * SECONDS_PER_DAY
    keep = t["created"] < end
    t = {k: v[keep] for k, v in t.items()}
    order = np.lexsort((t["acc"], t["created"]))
    t = {k: v[order] for k, v in t.items()}
    open_ = t["resolved"] >= end
    csat = t["csat"].astype(np.float64)
    width = max(6, len(str(order.size)))
    return pd.DataFrame({
        "ticket_id": [f"T{i + 1:0{width}d}" for i in range(order.size)],
        "account_id": ids[t["acc"].astype(np.int64)], "created_at": fmt_ts(cal, t["created"]),
        "resolved_at": fmt_ts(cal, t["resolved"], open_),
        "priority": np.array(PRIORITIES)[t["priority"].astype(np.int64)],
        "csat": _nullable(csat, open_ | np.isnan(csat), "%.0f"),
    })


def milestones_frame(acc: Accounts, ids, cal: Calendar, days: int, names=MILESTONES) -> pd.DataFrame:
    """One row per account and milestone; completion after the period is still open."""
    n, m = acc.due.shape
    done = acc.done.astype(np.int64)
    open_ = (done >= days) | (done >= NEVER)
    secs = np.where(open_, 0, done) * SECONDS_PER_DAY + acc.done_sec
    return pd.DataFrame({
        "account_id": np.repeat(ids, m), "milestone": np.tile(np.array(names), n),
        "due_date": cal.iso(acc.due.ravel()), "completed_at": fmt_ts(cal, secs.ravel(), open_.ravel()),
    })


def nps_frame(r: dict, ids, cal: Calendar, days: int) -> pd.DataFrame:
    """Survey responses received within the period."""
    keep = r["responded"] < days * SECONDS_PER_DAY
    r = {k: v[keep] for k, v in r.items()}
    order = np.lexsort((r["score"], r["responded"], r["acc"]))
    r = {k: v[order] for k, v in r.items()}
    return pd.DataFrame({"account_id": ids[r["acc"].astype(np.int64)],
                         "responded_at": fmt_ts(cal, r["responded"]),
                         "score": r["score"].astype(np.int64)})


def truth_table(truth: dict, ids, cal: Calendar) -> pa.Table:
    """The hidden truth, sorted by account and as-of date."""
    order = np.lexsort((truth["day"], truth["acc"]))
    t = {k: v[order] for k, v in truth.items()}
    return pa.table({
        "account_id": pa.array(ids[t["acc"]], pa.string()),
        "as_of_date": pa.array(cal.dates(t["day"]), pa.date32()),
        "true_churn_prob": pa.array(np.round(t["prob"], 6), pa.float64()),
        "dominant_driver": pa.array(np.array(DRIVERS)[t["driver"]], pa.string()),
        # how much each driver pushes the account's monthly churn logit on that date (0 = not at all)
        **{f"push_{name}": pa.array(np.round(t["push"][:, i], 6), pa.float64()) for i, name in enumerate(DRIVERS)},
        "churned_in_horizon": pa.array(t["churned"], pa.bool_()),
    })
