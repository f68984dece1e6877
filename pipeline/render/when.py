"""When an account is likely to leave, in words: "likely within 30 days" or "before its renewal on DATE".

Read from ``churn_scores`` (``expected_churn_window``, ``renewal_date``, ``as_of_date``): the rule is
:func:`models.hazard.renewal_decides`. The risk list (table, CSV, HTML) and the account page say it the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.hazard import renewal_decides


def renewal_days(rows: pd.DataFrame) -> np.ndarray:
    """Days from each row's as-of date to its ``renewal_date`` (NaN: unknown, or a table without the column)."""
    if "renewal_date" not in rows or rows.empty:
        return np.full(len(rows), np.nan)
    renewal = pd.to_datetime(rows["renewal_date"], errors="coerce")
    return (renewal - pd.to_datetime(rows["as_of_date"])).dt.days.to_numpy(dtype="float64", na_value=np.nan)


def likely_when(rows: pd.DataFrame, period_days: int) -> list[str]:
    """Per row: "before its renewal on DATE" when the renewal falls in the period where the time-to-churn curve
    passes one half, else "likely within N days" (N = ``expected_churn_window``); "" when the curve does not
    pass one half within its days (or the row has no curve).
    """
    if "expected_churn_window" not in rows or rows.empty:
        return [""] * len(rows)
    window = pd.to_numeric(rows["expected_churn_window"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    days = renewal_days(rows)
    renewal = renewal_decides(window, days, period_days)
    dates = pd.to_datetime(rows.get("renewal_date"), errors="coerce") if "renewal_date" in rows else None
    out = []
    for i, w in enumerate(window):
        if np.isnan(w):
            out.append("")
        elif renewal[i] and dates is not None:
            out.append(f"before its renewal on {dates.iloc[i].date()}")
        else:
            out.append(f"likely within {int(w)} days")
    return out
