"""Ranked risk lists for customer-success managers, read from the score table.

``churn risk-list`` reads ``churn_scores`` (never the model): the latest as-of
date by default, optionally one CSM or segment and the top N. It prints a
plain-text table or CSV, or writes self-contained HTML pages (one per CSM):
sortable, tier colours and a sparkline of each account's probability over the
last runs, with no external files so they open offline and travel by e-mail.
Rendering is :mod:`pipeline.render.risk_list_page` (the list) and
:mod:`pipeline.render.account_page` (one page per listed account).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from models.errors import ChurnError
from pipeline.config import Experiment
from pipeline.io.experiment_tables import holdout_accounts
from pipeline.io.warehouse import Warehouse
from models.settings import Labels
from pipeline.render import account_page
from pipeline.render.when import likely_when
from pipeline.render.risk_list_page import (ACCOUNTS_DIR, TREND_POINTS, UNASSIGNED, RiskList, to_csv, to_html,
                                            to_table)

FORMATS = ("table", "csv", "html")
#: ``--rank-by`` choices: the ``churn_scores`` column each orders by (largest first) and the header's words.
RANK_BY = {
    "saved": ("expected_saved_mrr", "MRR a call is expected to keep (uplift × MRR)"),
    "probability": ("churn_probability", "churn probability"),
    "revenue": ("revenue_at_risk", "revenue at risk"),
    "urgency": ("churn_probability_30d", "churn probability within 30 days (time-to-churn curve)"),
}


def default_rank_by(rows: pd.DataFrame) -> str:
    """``saved`` when the rows carry a validated uplift model's estimate, else ``probability``."""
    return "saved" if "uplift" in rows and rows["uplift"].notna().any() else "probability"


def order(rows: pd.DataFrame, rank_by: str) -> pd.DataFrame:
    """``rows`` by the ``rank_by`` column, largest first (ties and nulls: by ``risk_rank``)."""
    column = RANK_BY[rank_by][0]
    if column not in rows:
        raise ChurnError(f"--rank-by {rank_by}: churn_scores has no {column} column yet; run `churn score` again")
    key = rows[column].astype("float64").fillna(-np.inf)
    return rows.assign(_key=-key).sort_values(["_key", "risk_rank"], kind="stable").drop(columns="_key"
                                                                                          ).reset_index(drop=True)


def load(store: Warehouse, as_of: date | None = None, csm: str | None = None, segment: str | None = None,
         top: int | None = None, history: bool = False, experiments: Sequence[Experiment] = (),
         rank_by: str | None = None, period_days: int = Labels().curve_period_days) -> RiskList:
    """Read a risk list from the warehouse.

    ``rank_by`` (a key of :data:`RANK_BY`) orders it; default :func:`default_rank_by`. Every row gets
    ``likely_when`` (:func:`pipeline.render.when.likely_when`; ``period_days``: ``labels.curve_period_days``).

    The holdout accounts of the ``experiments`` running on the date are left out
    (and counted), or kept with ``holdout`` set when their experiment has ``show_holdout``.

    Raises
    ------
    ChurnError
        When nothing was scored on ``as_of`` or nothing matches the filters.
    """
    day = as_of or store.latest_as_of()
    if day is None:
        raise ChurnError(f"{store.label} holds no scores yet: run `churn score` first")
    held = holdout_accounts(store, experiments, day)
    hidden = set(held.loc[~held["show"], "account_id"])
    if rank_by is not None and rank_by not in RANK_BY:
        raise ChurnError(f"--rank-by must be one of {', '.join(RANK_BY)} (got '{rank_by}')")
    rows = store.scores(day, csm, segment, None if hidden or rank_by != "probability" else top)
    if rows.empty:
        raise ChurnError(_nothing(store, day, csm, segment))
    rank_by = rank_by or default_rank_by(rows)
    rows = order(rows, rank_by)
    out = rows["account_id"].isin(hidden)
    left_out, rows = rows.loc[out, ["account_id", "csm"]].reset_index(drop=True), rows[~out].reset_index(drop=True)
    total = store.count(day, csm, segment) - len(left_out)
    rows = rows.head(top) if top else rows
    rows = rows.assign(likely_when=likely_when(rows, period_days))
    if len(held):
        rows["holdout"] = rows["account_id"].isin(set(held.loc[held["show"], "account_id"]))
    trend = store.history(day, csm, segment, TREND_POINTS) if history else None
    if csm is not None and len(rows):  # the stored spelling, not the (case-insensitive) filter's
        csm = rows["csm"].iloc[0]
    return RiskList(rows, day, csm, segment, trend, total, left_out, tier_rule=store.tier_rule(day),
                    ranked_by=RANK_BY[rank_by][1])


def _nothing(store: Warehouse, day: date, csm: str | None, segment: str | None) -> str:
    if not store.count(day):
        return f"no scores for {day} in {store.label} (latest: {store.latest_as_of()})"
    everyone = store.scores(day)
    known = {"csm": sorted(everyone["csm"].dropna().unique()), "segment": sorted(everyone["segment"].dropna().unique())}
    asked = {"csm": csm, "segment": segment}
    wrong = [f"{k} '{v}' (known: {', '.join(known[k])})" for k, v in asked.items() if v is not None]
    return f"no account on {day} matches " + " and ".join(wrong)


def per_csm(rl: RiskList, top: int | None = None) -> dict[str, RiskList]:
    """One list per CSM (accounts without one under 'Unassigned'), each cut to its own ``top``."""
    owners = rl.rows["csm"].fillna(UNASSIGNED)
    out = {}
    for csm in sorted(owners.unique()):
        mine = rl.rows[owners == csm]
        rows = mine.head(top) if top else mine
        history = None if rl.history is None else rl.history[rl.history["account_id"].isin(rows["account_id"])]
        held = None if rl.held is None else rl.held[rl.held["csm"].fillna(UNASSIGNED) == csm]
        out[csm] = RiskList(rows, rl.as_of, csm, rl.segment, history, len(mine), held, rl.ranked_by)
    return out


def slug(name: str) -> str:
    """A file name for a CSM: lower case, ASCII letters and digits joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "csm"


# ---------------------------------------------------------------------- output
def publish(store: Warehouse, fmt: str = "table", out: Path | None = None, *, as_of: date | None = None,
            csm: str | None = None, segment: str | None = None, top: int | None = None,
            experiments: Sequence[Experiment] = (), rank_by: str | None = None,
            period_days: int = Labels().curve_period_days) -> tuple[str, list[Path]]:
    """Render a risk list; return the text for stdout (if ``out`` is not given) and the files written.

    ``experiments`` (``cfg.experiments``) decide which holdout accounts are left out or marked;
    ``period_days`` (``labels.curve_period_days``) is the curve's period ("before its renewal" when the renewal
    falls in the period where the curve passes one half).

    HTML without ``csm`` and with ``out`` a folder (existing, or a path without
    a suffix) writes one stand-alone page per CSM there, each with its own ``top``.
    """
    if fmt not in FORMATS:
        raise ChurnError(f"--format must be one of {', '.join(FORMATS)} (got '{fmt}')")
    pages_per_csm = fmt == "html" and csm is None and out is not None and (out.is_dir() or not out.suffix)
    rl = load(store, as_of, csm, segment, None if pages_per_csm else top, history=fmt == "html",
              experiments=experiments, rank_by=rank_by, period_days=period_days)
    if pages_per_csm and out is not None:
        out.mkdir(parents=True, exist_ok=True)
        lists = per_csm(rl, top)
        pages = [(out / f"{slug(name)}.html", to_html(part, links=True)) for name, part in lists.items()]
        shown = pd.concat([part.rows for part in lists.values()])
        for path, text in pages:
            path.write_text(text, encoding="utf-8")
        return "", [path for path, _ in pages] + write_account_pages(store, rl.as_of, shown, out, period_days)
    if fmt == "html" and out is not None:
        text = to_html(rl, links=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        return "", [out, *write_account_pages(store, rl.as_of, rl.rows, out.parent, period_days)]
    text = {"table": to_table, "csv": to_csv, "html": to_html}[fmt](rl)
    if out is None:
        return text, []
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return "", [out]


def write_account_pages(store: Warehouse, as_of: date, rows: pd.DataFrame, folder: Path,
                        period_days: int = Labels().curve_period_days) -> list[Path]:
    """One page per listed account in ``folder/accounts`` (its history read from the warehouse)."""
    history = store.account_history(as_of, rows["account_id"].astype(str).tolist(), TREND_POINTS)
    target = folder / ACCOUNTS_DIR
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for account, part in history.groupby("account_id", sort=False):
        path = target / account_page.file_name(account)
        path.write_text(account_page.to_html(part, period_days), encoding="utf-8")
        written.append(path)
    return written
