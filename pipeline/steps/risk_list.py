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

from models.call_list import call_reasons, capacity_rule, within_capacity
from models.errors import ChurnError
from models.settings import Labels
from pipeline.config import Experiment, Scoring
from pipeline.io.experiment_tables import holdout_accounts
from pipeline.io.warehouse import Warehouse
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


#: What ``saved`` orders by before a validated uplift model exists (``expected_saved_mrr`` is probability × MRR then).
SAVED_WITHOUT_UPLIFT = "churn probability × MRR"


def _has_uplift(rows: pd.DataFrame) -> bool:
    return "uplift" in rows and bool(rows["uplift"].notna().any())


def default_rank_by(rows: pd.DataFrame) -> str:
    """``saved`` when the rows carry a validated uplift model's estimate, else ``probability``."""
    return "saved" if _has_uplift(rows) else "probability"


def ranked_words(rows: pd.DataFrame, rank_by: str) -> str:
    """What orders the list, in words (``saved`` without an uplift: :data:`SAVED_WITHOUT_UPLIFT`)."""
    return SAVED_WITHOUT_UPLIFT if rank_by == "saved" and not _has_uplift(rows) else RANK_BY[rank_by][1]


def header_words(rows: pd.DataFrame, rank_by: str) -> str:
    """:func:`ranked_words` as the list's header says them: without an uplift model, that there is none."""
    words = ranked_words(rows, rank_by)
    return words if _has_uplift(rows) else f"{words} (no validated uplift model yet)"


def mark_calls(rows: pd.DataFrame, scoring: Scoring, words: str) -> pd.DataFrame:
    """``rows`` (in list order) with ``call_reason`` and, with a capacity configured, ``call_this_week``.

    A holdout account shown on the list (``holdout``) is never marked and takes no call.
    """
    uplift = rows["uplift"] if "uplift" in rows else None
    rows = rows.assign(call_reason=call_reasons(rows["risk_tier"], rows["churn_probability"], uplift,
                                                usually=scoring.call_words.usually,
                                                hardly=scoring.call_words.hardly, order=words))
    callable_ = ~rows["holdout"].to_numpy(dtype=bool) if "holdout" in rows else np.ones(len(rows), dtype=bool)
    marks = within_capacity(rows["csm"], callable_, scoring.weekly_calls, scoring.calls_per_csm)
    return rows if marks is None else rows.assign(call_this_week=marks)


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
         rank_by: str | None = None, period_days: int = Labels().curve_period_days,
         scoring: Scoring | None = None) -> RiskList:
    """Read a risk list from the warehouse.

    ``rank_by`` (a key of :data:`RANK_BY`) orders it; default :func:`default_rank_by`. Every row gets
    ``likely_when`` (:func:`pipeline.render.when.likely_when`; ``period_days``: ``labels.curve_period_days``).
    ``scoring`` (``cfg.scoring``) gives the team's capacity and the words of :func:`mark_calls`: the calls are
    marked over the whole team's list of the day, so a list filtered by CSM or segment marks the
    same accounts as the whole list does.

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
    scoring = scoring or Scoring()
    rows = store.scores(day, csm, segment, None if hidden or rank_by != "probability" else top)
    if rows.empty:
        raise ChurnError(_nothing(store, day, csm, segment))
    rank_by = rank_by or default_rank_by(rows)
    words = ranked_words(rows, rank_by)
    rows, left_out = _listed(rows, rank_by, hidden, held)
    total = store.count(day, csm, segment) - len(left_out)
    rows = mark_calls(rows, scoring, words)
    if "call_this_week" in rows and (csm is not None or segment is not None):  # marks of the whole team's list
        team = mark_calls(_listed(store.scores(day), rank_by, hidden, held)[0], scoring, words)
        rows["call_this_week"] = rows["account_id"].map(dict(zip(team["account_id"], team["call_this_week"])))
    rows = rows.head(top) if top else rows
    rows = rows.assign(likely_when=likely_when(rows, period_days))
    trend = store.history(day, csm, segment, TREND_POINTS) if history else None
    if csm is not None and len(rows):  # the stored spelling, not the (case-insensitive) filter's
        csm = rows["csm"].iloc[0]
    return RiskList(rows, day, csm, segment, trend, total, left_out, tier_rule=store.tier_rule(day),
                    ranked_by=header_words(rows, rank_by), capacity=capacity_rule(scoring.weekly_calls, scoring.calls_per_csm))


def _listed(rows: pd.DataFrame, rank_by: str, hidden: set, held: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``rows`` in list order without the hidden holdout (the shown one flagged ``holdout``), and those left out."""
    rows = order(rows, rank_by)
    out = rows["account_id"].isin(hidden)
    left_out, rows = rows.loc[out, ["account_id", "csm"]].reset_index(drop=True), rows[~out].reset_index(drop=True)
    if len(held):
        rows["holdout"] = rows["account_id"].isin(set(held.loc[held["show"], "account_id"]))
    return rows, left_out


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
        out[csm] = RiskList(rows, rl.as_of, csm, rl.segment, history, len(mine), held, tier_rule=rl.tier_rule,
                            ranked_by=rl.ranked_by, capacity=rl.capacity)
    return out


def slug(name: str) -> str:
    """A file name for a CSM: lower case, ASCII letters and digits joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "csm"


# ---------------------------------------------------------------------- output
def publish(store: Warehouse, fmt: str = "table", out: Path | None = None, *, as_of: date | None = None,
            csm: str | None = None, segment: str | None = None, top: int | None = None,
            experiments: Sequence[Experiment] = (), rank_by: str | None = None,
            period_days: int = Labels().curve_period_days, scoring: Scoring | None = None) -> tuple[str, list[Path]]:
    """Render a risk list; return the text for stdout (if ``out`` is not given) and the files written.

    ``experiments`` (``cfg.experiments``) decide which holdout accounts are left out or marked;
    ``period_days`` (``labels.curve_period_days``) is the curve's period ("before its renewal" when the renewal
    falls in the period where the curve passes one half); ``scoring`` (``cfg.scoring``): the team's capacity and
    the call words (:func:`load`).

    HTML without ``csm`` and with ``out`` a folder (existing, or a path without
    a suffix) writes one stand-alone page per CSM there, each with its own ``top``.
    """
    if fmt not in FORMATS:
        raise ChurnError(f"--format must be one of {', '.join(FORMATS)} (got '{fmt}')")
    pages_per_csm = fmt == "html" and csm is None and out is not None and (out.is_dir() or not out.suffix)
    rl = load(store, as_of, csm, segment, None if pages_per_csm else top, history=fmt == "html",
              experiments=experiments, rank_by=rank_by, period_days=period_days, scoring=scoring)
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
    """One page per listed account in ``folder/accounts`` (its history read from the warehouse).

    Each page says why the account is where it is on the list (``call_reason`` of ``rows``).
    """
    history = store.account_history(as_of, rows["account_id"].astype(str).tolist(), TREND_POINTS)
    target = folder / ACCOUNTS_DIR
    target.mkdir(parents=True, exist_ok=True)
    why = dict(zip(rows["account_id"], rows["call_reason"])) if "call_reason" in rows else {}
    written = []
    for account, part in history.groupby("account_id", sort=False):
        path = target / account_page.file_name(account)
        path.write_text(account_page.to_html(part, period_days, why.get(account)), encoding="utf-8")
        written.append(path)
    return written
