"""A risk list as people read it: a fixed-width table, CSV, or one self-contained HTML page.

The page (inline CSS, JS and SVG; no network, so it opens offline and travels by
e-mail) is sortable, coloured by tier and draws a sparkline of each account's
probability over the last runs. It is the template ``risk_list.html`` (and
``sparkline.html``) of the one Jinja2 environment: account names, reasons and
every other value from the score table are inserted as text, never as markup.
:mod:`pipeline.steps.risk_list` reads the list from the warehouse and writes the files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from pipeline.render import account_page
from pipeline.render.formats import percent
from pipeline.render.jinja import environment

#: The page template, in ``pipeline/render/templates``.
TEMPLATE = "risk_list.html"
#: Score history points drawn in a sparkline.
TREND_POINTS = 12
UNASSIGNED = "Unassigned"
#: What a risk list shows for an experiment's holdout account when ``show_holdout`` is set.
HOLDOUT_NOTE = "holdout – do not contact"
#: What the table and the page show for an account that fits the team's calls this week.
CALL_MARK = "call this week"
#: Account pages are written in this folder beside the list.
ACCOUNTS_DIR = "accounts"
CSV_COLUMNS = ["risk_rank", "account_id", "account_name", "csm", "segment", "churn_probability", "risk_tier",
               "revenue_at_risk", "mrr", "probability_change", "change_reasons", "health_score", "reason_summary",
               "churn_probability_30d", "expected_churn_window", "renewal_date", "likely_when"]



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
    tier_rule : str or None
        Which rule made the tiers (``score_runs.tier_rule``).
    """

    rows: pd.DataFrame
    as_of: date
    csm: str | None = None
    segment: str | None = None
    history: pd.DataFrame | None = None
    total: int = 0
    held: pd.DataFrame | None = None
    tier_rule: str | None = None
    #: What orders the list, in words (``risk-list --rank-by``).
    ranked_by: str = "churn probability"
    #: The team's capacity rule in words (:func:`models.call_list.capacity_rule`); rows then carry ``call_this_week``.
    capacity: str | None = None

    @property
    def title(self) -> str:
        who = f" for {self.csm}" if self.csm else ""
        return f"Accounts at risk{who} as of {self.as_of}"

    @property
    def subtitle(self) -> str:
        parts = [f"{len(self.rows):,} of {self.total:,} accounts" + (f" in segment {self.segment}" if self.segment else ""),
                 f"ranked by {self.ranked_by}"]
        if len(self.rows):
            first = self.rows.iloc[0]
            parts.append(f"model {first['model_name']} v{first['model_version'] or '?'}")
        if self.tier_rule:
            parts.append(self.tier_rule)
        if self.capacity:
            parts.append(self.capacity + f" ({CALL_MARK})")
        if self.held is not None and len(self.held):
            parts.append(f"{len(self.held):,} held out by an experiment (not listed)")
        marked = int(self.rows["holdout"].sum()) if "holdout" in self.rows else 0
        if marked:
            parts.append(f"{marked:,} listed as '{HOLDOUT_NOTE}'")
        return " · ".join(parts)


# ------------------------------------------------------------------ plain text
def _percent(p: float) -> str:
    return percent(p)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _change(delta) -> str:
    """Change in percentage points since the previous run, or ``new``."""
    return "new" if _missing(delta) else f"{100 * delta:+.1f} pts"


def _money(value) -> str:
    return "" if _missing(value) else f"{value:,.0f}"


def _when(r) -> str:
    """``likely_when`` of a row (:func:`pipeline.render.when.likely_when`), "" when the list has none."""
    return getattr(r, "likely_when", "") or ""


def _window(r) -> str:
    """``expected_churn_window`` as the "likely to leave" column's sort key ("" without one)."""
    window = getattr(r, "expected_churn_window", None)
    return "" if window is None or pd.isna(window) else str(int(window))


def _note(r) -> str:
    """``holdout – do not contact`` for a shown holdout account, else nothing."""
    return f"{HOLDOUT_NOTE.upper()}: " if getattr(r, "holdout", False) else ""


def _call(r) -> str:
    """:data:`CALL_MARK` for an account within the team's capacity, else nothing."""
    return CALL_MARK if getattr(r, "call_this_week", False) is True else ""


def to_table(rl: RiskList) -> str:
    """A fixed-width text table, one account per line, reasons last (a ``call`` column with a capacity)."""
    calls = "call_this_week" in rl.rows
    cells = [
        [str(r.risk_rank), f"{r.account_name or ''} ({r.account_id})", r.csm or UNASSIGNED, _percent(r.churn_probability),
         r.risk_tier, _when(r), _money(r.revenue_at_risk), _change(r.probability_change),
         *([_call(r)] if calls else []), getattr(r, "call_reason", ""), _note(r) + (r.reason_summary or "")]
        for r in rl.rows.itertuples()
    ]
    header = ["rank", "account", "csm", "prob", "tier", "likely to leave", "rev. at risk", "change",
              *(["call"] if calls else []), "why on the list", "top reasons"]
    right = {0, 3, 6, 7}
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header) - 1)]

    def line(row):
        padded = [v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths))]
        return "  ".join([*padded, row[-1]]).rstrip()

    return "\n".join([rl.title, rl.subtitle, "", line(header), *map(line, cells)]) + "\n"


def to_csv(rl: RiskList) -> str:
    """Machine-readable columns of the list (reasons as the one-line summary), ``call_this_week`` with a capacity."""
    extra = [c for c in ("call_reason", "call_this_week", "holdout") if c in rl.rows]
    return rl.rows.reindex(columns=CSV_COLUMNS + extra).to_csv(index=False)


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
    macros: Any = environment().get_template("sparkline.html").module
    return str(macros.sparkline(geometry))


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
        "when": _when(r), "when_v": _window(r),
        "revenue": _money(r.revenue_at_risk),
        "revenue_v": "" if _missing(r.revenue_at_risk) else f"{r.revenue_at_risk:.2f}",
        "change": _change(delta), "change_class": "" if not delta else ("up" if delta > 0 else "down"),
        "change_v": "" if delta is None else f"{delta:.6f}",
        "trend": spark_geometry(trend), "reasons": _reasons(r.reasons), "context": _context(r.reasons),
        "moved": r.change_reasons if isinstance(getattr(r, "change_reasons", None), str) else "",
        "link": f"{ACCOUNTS_DIR}/{account_page.file_name(r.account_id)}" if link else "",
        "holdout": HOLDOUT_NOTE if getattr(r, "holdout", False) else "",
        "why": getattr(r, "call_reason", "") or "", "call": _call(r),
    }


def to_html(rl: RiskList, links: bool = False) -> str:
    """One self-contained page (inline CSS, JS and SVG; no network); ``links``: names link to account pages."""
    trends: dict[str, list[float]] = {}
    if rl.history is not None:
        for account, part in rl.history.groupby("account_id", sort=False):
            trends[account] = part.sort_values("as_of_date")["churn_probability"].tolist()
    rows = [_row(r, trends.get(r.account_id, [r.churn_probability]), links) for r in rl.rows.itertuples()]
    footer = ("Probability of churning within the label horizon (calibrated). Revenue at risk = probability × MRR × "
              "months of the horizon. Likely to leave: when the time-to-churn curve passes one half, said as the renewal "
              "when it falls in that period. Change = percentage points since the previous run. Trend: last "
              f"{TREND_POINTS} runs. Click a column header to sort.")
    return environment().get_template(TEMPLATE).render(title=rl.title, subtitle=rl.subtitle, rows=rows,
                                                       footer=footer, calls="call_this_week" in rl.rows)
