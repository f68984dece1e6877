"""Tests mirroring ``pipeline/render/when.py``: "likely within N days" / "before its renewal on DATE"."""

from __future__ import annotations

from datetime import date

import pandas as pd

from pipeline.render.when import likely_when, renewal_days

DAY = date(2025, 3, 1)


def rows(window, renewal) -> pd.DataFrame:
    return pd.DataFrame({"as_of_date": DAY, "expected_churn_window": pd.array(window, dtype="Int64"),
                         "renewal_date": renewal})


def test_the_renewal_is_named_when_it_falls_in_the_period_where_the_curve_passes_one_half():
    frame = rows([30, 90, 90, None, 60], [date(2025, 3, 20), date(2025, 5, 15), date(2025, 3, 10), date(2025, 3, 5),
                                          None])
    assert renewal_days(frame).tolist()[:4] == [19, 75, 9, 4]
    assert likely_when(frame, 30) == ["before its renewal on 2025-03-20", "before its renewal on 2025-05-15",
                                      "likely within 90 days", "", "likely within 60 days"]


def test_rows_from_before_the_curve_or_the_renewal_say_nothing_or_the_window():
    assert likely_when(pd.DataFrame({"as_of_date": [DAY]}), 30) == [""]
    no_renewal = pd.DataFrame({"as_of_date": [DAY], "expected_churn_window": pd.array([30], dtype="Int64")})
    assert likely_when(no_renewal, 30) == ["likely within 30 days"]
    assert likely_when(no_renewal.iloc[:0], 30) == []
