"""Add-on lines: billing systems write a subscription as a base plan plus add-on rows.

Turned on by ``WorldParams.addon_products`` (preset ``addons``). The simulation is
untouched: add-on lines are drawn afterwards from their own random stream and laid
beside the base rows, so a world with add-ons has the same accounts, usage and churn
as the same seed without them. An add-on runs within the base rows it overlaps (it
stops when the subscription stops), starts in the account's first weeks or later,
and is removed before the end for some accounts; on an annual base it is billed
monthly or annually (``billing_period_months``; its end date is written as the base row's).
"""
from __future__ import annotations

import numpy as np

FAR = np.iinfo(np.int64).max // 4


def add_lines(rows: dict, p, rng: np.random.Generator, days: int, first_plan: int) -> dict:
    """``rows`` (see :meth:`Ledger.rows`) plus one line per add-on and base row it runs beside.

    Add-on ``k`` gets plan index ``first_plan + k``; every row gets ``period`` (billing months).
    """
    out = {k: list(v) for k, v in rows.items()}
    out["period"] = list(np.where(rows["term"] == 1, 12, 1))
    order = np.argsort(rows["acc"], kind="stable")
    accounts, starts = np.unique(rows["acc"][order], return_index=True)
    bounds = list(starts[1:]) + [order.size]
    for acc, lo, hi in zip(accounts, starts, bounds):
        idx = order[lo:hi]
        first = rows["start"][idx].min()
        ends = np.where(rows["running"][idx], days, rows["end"][idx])
        last = int(ends.max())
        if last <= 1:  # gone before the data starts: add-ons are drawn within the data's period
            continue
        for k, price in enumerate(p.addon_price):
            if rng.random() >= p.addon_share:
                continue
            early = rng.random() < p.addon_early_share
            if early:
                begin = max(1, first + rng.integers(1, 15))
            elif max(first, 1) < last:
                begin = rng.integers(max(first, 1), last)
            else:  # the account's lines start on the data's last day: no later start to draw
                continue
            if begin > last:  # an early start after the data's end: no line to write
                continue
            stop = rng.integers(begin, last + 1) if rng.random() < p.addon_drop_share else FAR
            monthly = rng.random() < p.addon_monthly_share
            for i in idx:
                s, e = rows["start"][i], rows["end"][i]
                e_open = FAR if rows["running"][i] else e
                lo_day, hi_day = max(s, begin), min(e_open, stop)
                if lo_day >= hi_day:
                    continue
                term = rows["term"][i]  # an end after the data reads as the base row's (billing aside)
                running = hi_day == FAR
                for key, value in (("acc", acc), ("start", lo_day), ("end", -1 if running else hi_day),
                                   ("mrr", round(rows["mrr"][i] * price, 2)), ("plan", first_plan + k),
                                   ("term", term), ("natural_end", rows["natural_end"][i] if term == 1 else -1),
                                   ("period", 12 if term == 1 and not monthly else 1),
                                   ("running", running)):
                    out[key].append(value)
    return {k: np.asarray(v, dtype=rows[k].dtype if k in rows else np.int64) for k, v in out.items()}
