"""Stretches of days: the days before each as-of date cut at every window boundary (and, with a calendar,
around holidays), so events are rolled up once per (account, stretch) for every window and snapshot
(:class:`pipeline.engine.frames.Frames`). Pure functions of dates: they read no data.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import date, timedelta

import pandas as pd

from features.usage import YEAR
from pipeline.config import Config


def calendar_holidays(cfg: Config) -> list[date]:
    """The calendar's holidays (``features.calendar``); none without a calendar.

    With holidays, every usage window counts the non-holiday days before the as-of date (see :func:`stretches`):
    the short windows, the longest (the baselines), the trend periods and the slope's weeks.
    """
    return cfg.features.calendar.days() if cfg.features.calendar.configured else []


def non_holiday_reach(t: date, k: int, holidays: set[date]) -> int:
    """Calendar days back from ``t`` that hold its last ``k`` non-holiday days (``k`` without holidays).

    Exact: every holiday is skipped, so the reach is at most ``k`` plus the number of holidays.
    """
    reach = seen = 0
    while seen < k:
        reach += 1
        seen += (t - timedelta(days=reach)) not in holidays
    return reach


def first_day(dates: Sequence[date], offsets: Sequence[int], holidays: Sequence[date] = ()) -> date:
    """The earliest day any of ``dates`` reads: its longest offset back, in non-holiday days with ``holidays``."""
    off = set(holidays)
    return min(t - timedelta(days=non_holiday_reach(t, max(offsets), off)) for t in dates)


def young_tenures(dates: Sequence[date], longest: int, holidays: Sequence[date]) -> pd.DataFrame:
    """(as_of, tenure, tenure_nd) for every tenure (days since the account was created) shorter than the reach of
    each as-of date T's longest window (its ``longest`` non-holiday days): ``tenure_nd`` = the days of that tenure,
    ``[T - tenure, T)``, that are not holidays. An older account's window is full (``longest`` non-holiday days),
    so it has no row. Pure function of the dates and the calendar, like :func:`stretches`."""
    off = set(holidays)
    rows = []
    for t in dates:
        working = 0
        for tenure in range(non_holiday_reach(t, longest, off)):
            rows.append((t, tenure, working))
            working += (t - timedelta(days=tenure + 1)) not in off
    return pd.DataFrame(rows, columns=["as_of", "tenure", "tenure_nd"])


def year_ago_stretches(dates: list[date], windows: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stretches of the last ``windows`` days before each as-of date T and of the same days :data:`YEAR` days
    earlier: a (day, stretch) map and (as_of, stretch, d) rows with ``d`` = days from the stretch's first day to
    T, so "the last w days" is ``d <= w`` and "the same w days a year earlier" is ``YEAR < d <= YEAR + w``."""
    offsets = [0, *windows, YEAR, *(YEAR + w for w in windows)]
    cuts = sorted({t - timedelta(days=k) for t in dates for k in offsets})
    bounds = list(zip(cuts, cuts[1:]))
    longest = max(windows)
    near = [(t, sid, (t - lo).days) for t in dates for sid, (lo, hi) in enumerate(bounds)
            if (hi <= t and lo >= t - timedelta(days=longest))
            or (hi <= t - timedelta(days=YEAR) and lo >= t - timedelta(days=YEAR + longest))]
    used = {sid for _, sid, _ in near}
    days = pd.DataFrame([(lo + timedelta(days=i), sid) for sid, (lo, hi) in enumerate(bounds) if sid in used
                         for i in range((hi - lo).days)], columns=["day", "stretch"])
    return days, pd.DataFrame(near, columns=["as_of", "stretch", "d"])


def stretches(dates: list[date], offsets: list[int],
              holidays: Sequence[date] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut the days before each as-of date at every window boundary.

    Returns a (day, stretch) map covering every day of every stretch, and
    (as_of, stretch, d) rows listing for each as-of date T the stretches inside
    its longest window, with ``d`` = days from the stretch's first day to T.

    With ``holidays``, every offset ``k`` counts non-holiday days: the days are cut around every holiday and where
    T's last ``k`` non-holiday days begin, the longest window reaches back past the holidays (its ``max(offsets)``
    non-holiday days), and the rows also carry ``nd`` = non-holiday days from the stretch's first day to T and
    ``hol`` = whether the stretch is holidays: "the last k non-holiday days" is exactly ``nd <= k and not hol``.
    Holidays are known in advance, so the cuts read no data; every stretch still ends before T.
    """
    off = set(holidays)
    reach = {t: non_holiday_reach(t, max(offsets), off) for t in dates}
    extra = set()
    if off:
        for t in dates:
            near = [h for h in off if t - timedelta(days=reach[t]) <= h < t]
            extra |= {*near, *(h + timedelta(days=1) for h in near)}
            extra |= {t - timedelta(days=non_holiday_reach(t, k, off)) for k in offsets}
    cuts = sorted({t - timedelta(days=k) for t in dates for k in [0, *offsets]} | extra)
    bounds = list(zip(cuts, cuts[1:]))
    days = pd.DataFrame(
        [(lo + timedelta(days=i), sid) for sid, (lo, hi) in enumerate(bounds) for i in range((hi - lo).days)],
        columns=["day", "stretch"],
    )
    spans = pd.DataFrame(
        [
            (t, sid, (t - lo).days)
            for t in dates
            for sid, (lo, hi) in enumerate(bounds)
            if hi <= t and lo >= t - timedelta(days=reach[t])
        ],
        columns=["as_of", "stretch", "d"],
    )
    if off:
        first = {sid: lo for sid, (lo, _) in enumerate(bounds)}
        ordered = sorted(off)
        spans["nd"] = [(t - first[sid]).days - (bisect_left(ordered, t) - bisect_left(ordered, first[sid]))
                       for t, sid in zip(spans["as_of"], spans["stretch"])]
        spans["hol"] = [first[sid] in off for sid in spans["stretch"]]
    return days, spans
