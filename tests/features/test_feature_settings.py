"""The ``features:`` settings: typed, immutable, and bad values named."""

from __future__ import annotations

import pydantic
import pytest

from features.settings import Attributes, FeatureSettings, UsageFeatures


def test_defaults_are_the_documented_windows():
    s = FeatureSettings()
    assert s.usage.windows == [7, 30, 90] and s.usage.trend_days == 30 and s.tickets.max_age_days == 180


def test_settings_are_immutable():
    with pytest.raises(pydantic.ValidationError):
        FeatureSettings().usage.trend_days = 7  # type: ignore[misc]


@pytest.mark.parametrize("bad, words", [
    (lambda: UsageFeatures(windows=[7, 7]), "repeated: 7"),
    (lambda: UsageFeatures(wndows=[7]), "wndows"),
    (lambda: Attributes(categorical=["region"], numeric=["region"]), "not both: region"),
    (lambda: Attributes(categorical=["1abc"]), "not a plain SQL name"),
])
def test_bad_values_say_what_is_wrong(bad, words):
    with pytest.raises(pydantic.ValidationError, match=words):
        bad()


def test_a_yearly_lull_is_listed_every_year_and_runs_into_the_next():
    from datetime import date, timedelta

    from features.settings import CalendarSettings

    yearly = CalendarSettings(yearly=[{"first": "12-24", "last": "01-01", "name": "year-end"},
                                      {"first": "02-29", "last": "03-01"}], country_years=(2024, 2025))
    dated = CalendarSettings(holidays=[{"first": date(y, 12, 24), "last": date(y + 1, 1, 1)} for y in (2023, 2024, 2025)]
                             + [{"first": date(2024, 2, 29), "last": date(2024, 3, 1)},
                                {"first": date(2025, 2, 28), "last": date(2025, 3, 1)}])
    assert yearly.configured and set(dated.days()) <= set(yearly.days())
    extra = set(yearly.days()) - set(dated.days())
    assert extra == {date(2023, 2, 28), date(2023, 3, 1)}  # the year before the first: its year end reaches into it
    assert date(2026, 1, 1) in yearly.days() and date(2026, 1, 2) not in yearly.days()
    assert all(b - a >= timedelta(days=1) for a, b in zip(yearly.days(), yearly.days()[1:]))


@pytest.mark.parametrize("bad", ["12/24", "13-01", "02-30", "1224"])
def test_a_yearly_lull_that_is_no_month_day_is_refused(bad):
    from features.settings import CalendarSettings

    with pytest.raises(ValueError, match="MM-DD"):
        CalendarSettings(yearly=[{"first": bad, "last": "01-01"}])
