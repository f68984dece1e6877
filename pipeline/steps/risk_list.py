"""Ranked risk lists for customer-success managers, read from the score table.

``churn risk-list`` reads ``churn_scores`` (never the model): the latest as-of
date by default, optionally one CSM or segment and the top N. It prints a
plain-text table or CSV, or writes self-contained HTML pages (one per CSM):
sortable, tier colours and a sparkline of each account's probability over the
last runs, with no external files so they open offline and travel by e-mail.
The pages are the autoescaped Jinja2 templates ``pipeline/templates/risk_list.html``
and ``sparkline.html`` (package data): account names, reasons and every other
value from the score table are inserted as text, never as markup.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from pipeline.errors import ChurnError
from pipeline.io.experiments import holdout_accounts
from pipeline.io.warehouse import Warehouse
from pipeline.steps import account_page
from pipeline.steps.pages import environment

FORMATS = ("table", "csv", "html")
#: The page template, in ``pipeline/templates``.
TEMPLATE = "risk_list.html"
#: Score history points drawn in a sparkline.
TREND_POINTS = 12
UNASSIGNED = "Unassigned"
#: What a risk list shows for an experiment's holdout account when ``show_holdout`` is set.
HOLDOUT_NOTE = "holdout – do not contact"
#: Account pages are written in this folder beside the list.
ACCOUNTS_DIR = "accounts"
CSV_COLUMNS = ["risk_rank", "account_id", "account_name", "csm", "segment", "churn_probability", "risk_tier",
               "revenue_at_risk", "mrr", "probability_change", "change_reasons", "health_score", "reason_summary"]


@dataclass
class RiskList:
    """The accounts of one list, most at risk first.

    Attributes
    ----------
    rows : pandas.DataFrame
        ``churn_scores`` rows (``reasons`` parsed).
    as_of : date
    csm, segment : str or None
        The filters applied.
    history : pandas.DataFrame or None
        ``account_id``, ``as_of_date``, ``churn_probability`` of recent runs (HTML only).
    total : int
        Accounts matching the filters before ``--top`` (held-out accounts not counted).
    held : pandas.DataFrame or None
        ``account_id``, ``csm`` of the matching accounts an experiment's holdout leaves out.
    """

    rows: pd.DataFrame
    as_of: date
    csm: str | None = None
    segment: str | None = None
    history: pd.DataFrame | None = None
    total: int = 0
    held: pd.DataFrame | None = None

    @property
    def title(self) -> str:
        who = f" for {self.csm}" if self.csm else ""
        return f"Accounts at risk{who} as of {self.as_of}"

    @property
    def subtitle(self) -> str:
        parts = [f"{len(self.rows):,} of {self.total:,} accounts" + (f" in segment {self.segment}" if self.segment else "")]
        if len(self.rows):
            first = self.rows.iloc[0]
            parts.append(f"model {first['model_name']} v{first['model_version'] or '?'}")
        if self.held is not None and len(self.held):
            parts.append(f"{len(self.held):,} held out by an experiment (not listed)")
        marked = int(self.rows["holdout"].sum()) if "holdout" in self.rows else 0
        if marked:
            parts.append(f"{marked:,} listed as '{HOLDOUT_NOTE}'")
        return " · ".join(parts)


def load(store: Warehouse, as_of: date | None = None, csm: str | None = None, segment: str | None = None,
         top: int | None = None, history: bool = False, experiments=()) -> RiskList:
    """Read a risk list from the warehouse.

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
    rows = store.scores(day, csm, segment, None if hidden else top)
    if rows.empty:
        raise ChurnError(_nothing(store, day, csm, segment))
    out = rows["account_id"].isin(hidden)
    left_out, rows = rows.loc[out, ["account_id", "csm"]].reset_index(drop=True), rows[~out].reset_index(drop=True)
    total = store.count(day, csm, segment) - len(left_out)
    rows = rows.head(top) if top else rows
    if len(held):
        rows["holdout"] = rows["account_id"].isin(set(held.loc[held["show"], "account_id"]))
    trend = store.history(day, csm, segment, TREND_POINTS) if history else None
    if csm is not None and len(rows):  # the stored spelling, not the (case-insensitive) filter's
        csm = rows["csm"].iloc[0]
    return RiskList(rows, day, csm, segment, trend, total, left_out)


def _nothing(store: Warehouse, day: date, csm: str | None, segment: str | None) -> str:
    if not store.count(day):
        return f"no scores for {day} in {store.label} (latest: {store.latest_as_of()})"
    everyone = store.scores(day)
    known = {"csm": sorted(everyone["csm"].dropna().unique()), "segment": sorted(everyone["segment"].dropna().unique())}
    asked = {"csm": csm, "segment": segment}
    wrong = [f"{k} '{v}' (known: {', '.join(known[k])})" for k, v in asked.items() if v is not None]
    return f"no account on {day} matches " + " and ".join(wrong)


# ------------------------------------------------------------------ plain text
def _percent(p: float) -> str:
    return f"{100 * p:.1f}%"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _change(delta) -> str:
    """Change in percentage points since the previous run, or ``new``."""
    return "new" if _missing(delta) else f"{100 * delta:+.1f} pts"


def _money(value) -> str:
    return "" if _missing(value) else f"{value:,.0f}"


def _note(r) -> str:
    """``holdout – do not contact`` for a shown holdout account, else nothing."""
    return f"{HOLDOUT_NOTE.upper()}: " if getattr(r, "holdout", False) else ""


def to_table(rl: RiskList) -> str:
    """A fixed-width text table, one account per line, reasons last."""
    cells = [
        [str(r.risk_rank), f"{r.account_name or ''} ({r.account_id})", r.csm or UNASSIGNED, _percent(r.churn_probability),
         r.risk_tier, _money(r.revenue_at_risk), _change(r.probability_change), _note(r) + (r.reason_summary or "")]
        for r in rl.rows.itertuples()
    ]
    header = ["rank", "account", "csm", "prob", "tier", "rev. at risk", "change", "top reasons"]
    right = {0, 3, 5, 6}
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header) - 1)]

    def line(row):
        padded = [v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths))]
        return "  ".join([*padded, row[-1]]).rstrip()

    return "\n".join([rl.title, rl.subtitle, "", line(header), *map(line, cells)]) + "\n"


def to_csv(rl: RiskList) -> str:
    """Machine-readable columns of the list (reasons as the one-line summary)."""
    return rl.rows[CSV_COLUMNS + (["holdout"] if "holdout" in rl.rows else [])].to_csv(index=False)


# ------------------------------------------------------------------------ HTML
def spark_geometry(values: list[float], width: int = 96, height: int = 24) -> dict | None:
    """Where a sparkline of probabilities (0 at the bottom) draws its points; ``None`` without values.

    Parameters
    ----------
    values : list of float
        Probabilities, oldest first.
    width, height : int
        Size of the SVG in pixels.

    Returns
    -------
    dict or None
        ``width``, ``height``, ``points`` (SVG ``x,y`` pairs), ``last_x``, ``last_y`` (the latest point,
        marked) and ``label`` (the values as percentages, for the tooltip).
    """
    if not values:
        return None
    top = max(max(values), 0.05)  # a flat line near zero stays near zero
    step = (width - 4) / max(len(values) - 1, 1)
    points = [(2 + i * step, height - 2 - (height - 4) * v / top) for i, v in enumerate(values)]
    last_x, last_y = points[-1]
    return {"width": width, "height": height, "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in points),
            "last_x": f"{last_x:.1f}", "last_y": f"{last_y:.1f}", "label": " → ".join(_percent(v) for v in values)}


def sparkline(values: list[float], width: int = 96, height: int = 24) -> str:
    """An inline SVG line of probabilities (0 at the bottom), the latest point marked; ``""`` without values."""
    geometry = spark_geometry(values, width, height)
    if geometry is None:
        return ""
    return str(environment().get_template("sparkline.html").module.sparkline(geometry))


def _reasons(doc: dict) -> list[str]:
    """The risk sentences of a parsed ``reasons`` document (empty: no notable risk signals)."""
    return [r["sentence"] for r in (doc or {}).get("risk", [])]


def _context(doc: dict) -> str:
    """The context sentences (when or for whom, never why) of a parsed ``reasons`` document, joined."""
    return "; ".join(r["sentence"] for r in (doc or {}).get("context", []))


def _row(r, trend: list[float], link: bool = False) -> dict:
    """What the template shows of one account: display texts and the ``data-v`` sort keys."""
    delta = None if _missing(r.probability_change) else r.probability_change
    return {
        "rank": r.risk_rank, "name": str(r.account_name or r.account_id), "account_id": str(r.account_id),
        "segment": str(r.segment or ""),
        "probability": _percent(r.churn_probability), "probability_v": f"{r.churn_probability:.6f}",
        "tier": r.risk_tier, "tier_v": "hml".index(r.risk_tier[0]),
        "revenue": _money(r.revenue_at_risk),
        "revenue_v": "" if _missing(r.revenue_at_risk) else f"{r.revenue_at_risk:.2f}",
        "change": _change(delta), "change_class": "" if not delta else ("up" if delta > 0 else "down"),
        "change_v": "" if delta is None else f"{delta:.6f}",
        "trend": spark_geometry(trend), "reasons": _reasons(r.reasons), "context": _context(r.reasons),
        "moved": r.change_reasons if isinstance(getattr(r, "change_reasons", None), str) else "",
        "link": f"{ACCOUNTS_DIR}/{account_page.file_name(r.account_id)}" if link else "",
        "holdout": HOLDOUT_NOTE if getattr(r, "holdout", False) else "",
    }


def to_html(rl: RiskList, links: bool = False) -> str:
    """One self-contained page (inline CSS, JS and SVG; no network); ``links``: names link to account pages."""
    trends: dict[str, list[float]] = {}
    if rl.history is not None:
        for account, part in rl.history.groupby("account_id", sort=False):
            trends[account] = part.sort_values("as_of_date")["churn_probability"].tolist()
    rows = [_row(r, trends.get(r.account_id, [r.churn_probability]), links) for r in rl.rows.itertuples()]
    footer = ("Probability of churning within the label horizon (calibrated). Revenue at risk = probability × MRR × "
              "months of the horizon. Change = percentage points since the previous run. Trend: last "
              f"{TREND_POINTS} runs. Click a column header to sort.")
    return environment().get_template(TEMPLATE).render(title=rl.title, subtitle=rl.subtitle, rows=rows,
                                                       footer=footer)


def per_csm(rl: RiskList, top: int | None = None) -> dict[str, RiskList]:
    """One list per CSM (accounts without one under 'Unassigned'), each cut to its own ``top``."""
    owners = rl.rows["csm"].fillna(UNASSIGNED)
    out = {}
    for csm in sorted(owners.unique()):
        mine = rl.rows[owners == csm]
        rows = mine.head(top) if top else mine
        history = None if rl.history is None else rl.history[rl.history["account_id"].isin(rows["account_id"])]
        held = None if rl.held is None else rl.held[rl.held["csm"].fillna(UNASSIGNED) == csm]
        out[csm] = RiskList(rows, rl.as_of, csm, rl.segment, history, len(mine), held)
    return out


def slug(name: str) -> str:
    """A file name for a CSM: lower case, ASCII letters and digits joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "csm"


# ---------------------------------------------------------------------- output
def publish(store: Warehouse, fmt: str = "table", out: Path | None = None, *, as_of: date | None = None,
            csm: str | None = None, segment: str | None = None, top: int | None = None,
            experiments=()) -> tuple[str, list[Path]]:
    """Render a risk list; return the text for stdout (if ``out`` is not given) and the files written.

    ``experiments`` (``cfg.experiments``) decide which holdout accounts are left out or marked.

    HTML without ``csm`` and with ``out`` a folder (existing, or a path without
    a suffix) writes one stand-alone page per CSM there, each with its own ``top``.
    """
    if fmt not in FORMATS:
        raise ChurnError(f"--format must be one of {', '.join(FORMATS)} (got '{fmt}')")
    pages_per_csm = fmt == "html" and csm is None and out is not None and (out.is_dir() or not out.suffix)
    rl = load(store, as_of, csm, segment, None if pages_per_csm else top, history=fmt == "html",
              experiments=experiments)
    if pages_per_csm:
        out.mkdir(parents=True, exist_ok=True)
        lists = per_csm(rl, top)
        pages = [(out / f"{slug(name)}.html", to_html(part, links=True)) for name, part in lists.items()]
        shown = pd.concat([part.rows for part in lists.values()])
        for path, text in pages:
            path.write_text(text, encoding="utf-8")
        return "", [path for path, _ in pages] + write_account_pages(store, rl.as_of, shown, out)
    if fmt == "html" and out is not None:
        text = to_html(rl, links=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        return "", [out, *write_account_pages(store, rl.as_of, rl.rows, out.parent)]
    text = {"table": to_table, "csv": to_csv, "html": to_html}[fmt](rl)
    if out is None:
        return text, []
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return "", [out]


def write_account_pages(store: Warehouse, as_of: date, rows: pd.DataFrame, folder: Path) -> list[Path]:
    """One page per listed account in ``folder/accounts`` (its history read from the warehouse)."""
    history = store.account_history(as_of, rows["account_id"].astype(str).tolist(), TREND_POINTS)
    target = folder / ACCOUNTS_DIR
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for account, part in history.groupby("account_id", sort=False):
        path = target / account_page.file_name(account)
        path.write_text(account_page.to_html(part), encoding="utf-8")
        written.append(path)
    return written
