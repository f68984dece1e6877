"""One page per account: its probability over time, why, and how its main signals moved.

Linked from every row of the HTML risk list (``accounts/<account>.html`` beside
the list). Everything is read from ``churn_scores`` (never the model): the
probability of each run, its tier, the reasons and ``change_reasons`` a CSM read
that day, and the contribution of each reason group, which is what the signal
chart draws (how much each signal pushed the account's churn log-odds up or
down, run after run), each line named by its group in words ("NPS", "Billing term"). Self-contained like the list: inline CSS and SVG, the
autoescaped template ``pipeline/render/templates/account.html``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
import pandas as pd

from models.reason_documents import contribution
from models.settings import Labels
from pipeline.io.score_tables import CURVE_DAYS
from pipeline.render.formats import percent
from pipeline.render.jinja import environment
from pipeline.render.when import likely_when, renewal_days

#: Signals drawn: the reason groups with the largest contribution in the latest run.
SIGNALS = 4
#: Line colours of the signal chart, in order (colour-blind safe).
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7")
WIDTH, HEIGHT, PAD = 640, 180, 28


def file_name(account_id: str) -> str:
    """The page's file name: the account id with anything but letters, digits, ``-`` and ``_`` replaced."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(account_id)) + ".html"


def chart(series: dict[str, list[float]], dates: list, *, percent: bool, xs: Sequence[float] | None = None,
          marks: tuple = ()) -> dict:
    """Where an SVG line chart draws ``series`` (one value per date, ``nan`` = no point) and its axes.

    Returns ``width``, ``height``, ``lines`` (name, colour, SVG points and each as a dot: one run draws a point,
    the latest value as text), the
    y-axis ``ticks`` (y, label), a ``zero`` line position (or ``None``) and the first and last date labels.
    ``xs`` places the points along the x axis in proportion (default: evenly, one per date); ``marks``
    (``(x, label)`` in the units of ``xs``) become vertical ``marks`` (x, label) on the chart.
    """
    values = [v for vs in series.values() for v in vs if v == v]
    low, high = (min(values + [0.0]), max(values + [0.0])) if values else (0.0, 1.0)
    if high - low < 1e-9:
        high = low + 1.0
    positions = list(range(len(dates))) if xs is None else list(xs)
    span = (positions[-1] - positions[0]) if len(positions) > 1 else 0
    step = (WIDTH - 2 * PAD) / (span or 1)
    start = PAD if span else WIDTH / 2  # one run: one point, in the middle

    def x(at: float) -> float:
        return start + (at - positions[0]) * step if positions else start

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - low) / (high - low)

    def label(v: float) -> str:
        return f"{100 * v:.0f}%" if percent else f"{v:+.2f}"

    lines = []
    for (name, vs), colour in zip(series.items(), COLOURS if len(series) > 1 else ("#cf222e",)):
        dots = [(f"{x(positions[i]):.1f}", f"{y(v):.1f}") for i, v in enumerate(vs) if v == v]
        last = next((v for v in reversed(vs) if v == v), None)
        lines.append({"name": name, "colour": colour, "points": " ".join(f"{x},{y_}" for x, y_ in dots),
                      "dots": dots, "last": "" if last is None else label(last)})
    ticks = [(f"{y(v):.1f}", label(v)) for v in (low, (low + high) / 2, high)]
    return {"width": WIDTH, "height": HEIGHT, "pad": PAD, "lines": lines, "ticks": ticks,
            "zero": f"{y(0.0):.1f}" if low < 0 < high else None,
            "first": str(dates[0]) if dates else "", "last": str(dates[-1]) if dates else "",
            "right": WIDTH - PAD, "bottom": HEIGHT - PAD,
            "marks": [(f"{x(at):.1f}", label) for at, label in marks]}


def curve(latest: pd.Series, period_days: int) -> dict | None:
    """The latest row's time-to-churn curve as a chart (cumulative churn probability at 0, 30 ... 180 days), the
    renewal marked when known and within the curve; ``None`` when the row has no curve.

    Adds ``points`` (``(days, percent)``, what the caption lists) and ``when`` (:func:`pipeline.render.when.likely_when`).
    """
    names = [f"churn_probability_{d}d" for d in CURVE_DAYS]
    values = [latest.get(n) for n in names]
    if any(v is None or pd.isna(v) for v in values):
        return None
    days = [0, *CURVE_DAYS]
    renewal = renewal_days(latest.to_frame().T)[0]
    marks = ((renewal, f"renewal {latest['renewal_date']}"),) if 0 <= renewal <= days[-1] else ()
    out = chart({"cumulative churn probability": [0.0, *map(float, values)]}, ["today", *[f"{d} days" for d in
                                                                                         CURVE_DAYS]],
                percent=True, xs=days, marks=marks)
    out["points"] = [(d, percent(float(v))) for d, v in zip(CURVE_DAYS, values)]
    out["when"] = likely_when(latest.to_frame().T, period_days)[0]
    return out


def page(history: pd.DataFrame, period_days: int = Labels().curve_period_days, why: str | None = None) -> dict:
    """What the template shows of one account, from its ``churn_scores`` rows (oldest first).

    ``period_days`` (``labels.curve_period_days``) tells when the renewal decides (see :mod:`pipeline.render.when`);
    ``why``: why it is where it is on the call list (:func:`models.call_list.call_reasons`).
    """
    rows = history.sort_values("as_of_date")
    latest = rows.iloc[-1]
    dates = rows["as_of_date"].tolist()
    contributions = [c or {} for c in rows["contributions"]]
    topics = {g: e[3] for c in contributions for g, e in c.items() if isinstance(e, list) and len(e) > 3 and e[3]}
    named = [g for g in contributions[-1] if g in topics]  # a group without its name in words is not drawn
    shown = sorted(named, key=lambda g: -abs(contribution(contributions[-1][g])))[:SIGNALS]
    signals = {topics[g]: [contribution(c[g]) if g in c else float("nan") for c in contributions] for g in shown}
    runs = [{"date": str(r.as_of_date), "probability": percent(r.churn_probability), "tier": r.risk_tier,
             "moved": r.change_reasons if isinstance(r.change_reasons, str) else "",
             "reasons": [x["sentence"] for x in (r.reasons or {}).get("risk", [])]}
            for r in rows.iloc[::-1].itertuples()]
    return {
        "title": f"{latest['account_name'] or latest['account_id']}",
        "facts": {"account": str(latest["account_id"]), "CSM": latest["csm"] or "unassigned",
                  "segment": latest["segment"] or "", "as of": str(latest["as_of_date"]),
                  "churn probability": f"{percent(latest['churn_probability'])} ({latest['risk_tier']})"},
        "context": [x["sentence"] for x in (latest["reasons"] or {}).get("context", [])], "why": why,
        "probability": chart({"churn probability": rows["churn_probability"].tolist()}, dates, percent=True),
        "curve": curve(latest, period_days),
        "signals": chart(signals, dates, percent=False) if signals else None,
        "runs": runs,
    }


def to_html(history: pd.DataFrame, period_days: int = Labels().curve_period_days, why: str | None = None) -> str:
    """The account's page: one self-contained HTML document (``why``: see :func:`page`)."""
    return environment().get_template("account.html").render(**page(history, period_days, why))
