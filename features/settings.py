"""The settings of the feature definitions (``features:`` in ``configs/pipeline.yaml``), typed and immutable.

The pipeline's :class:`pipeline.config.Config` holds them as its ``features``
section; a definition reads them as ``p.settings`` (e.g. ``p.settings.usage.trend_days``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PositiveInt, model_validator

SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _sql_name(value: str) -> str:
    if not SQL_NAME.match(value):
        raise ValueError(
            f"'{value}' is not a plain SQL name (letters, digits and _, not starting with a digit)"
        )
    return value


SqlName = Annotated[str, AfterValidator(_sql_name)]


class Section(BaseModel):
    """A config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def distinct(values: list) -> list:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"each value may appear once; repeated: {', '.join(map(str, repeated))}")
    return values


Windows = Annotated[list[PositiveInt], Field(min_length=1), AfterValidator(distinct)]


class UsageFeatures(Section):
    windows: Windows = [7, 30, 90]
    trend_days: PositiveInt = 30
    slope_weeks: Annotated[int, Field(ge=2)] = 4
    event_types: Literal["auto"] | list[str] = "auto"
    max_event_types: Annotated[int, Field(ge=0)] = 12
    #: Compare each short window's events with the same days a year (365 days) earlier
    #: (``events_{window}d_vs_year_ago``): needs a year of history, null before it.
    year_ago: bool = False


class TicketFeatures(Section):
    windows: Windows = [30, 90]
    urgent_priorities: list[str] = ["high", "urgent"]
    resolution_days: PositiveInt = 180
    #: An open ticket's age is capped here: past it, "open for N days" is no longer something to act on.
    max_age_days: PositiveInt = 180
    csat_days: PositiveInt = 90


class MilestoneFeatures(Section):
    milestones: Literal["auto"] | list[str] = "auto"
    #: Onboarding lateness speaks while the account is at most this many days old (then it is history).
    relevance_days: PositiveInt = 365
    #: Milestones that mark first value; empty, or none of them in the data, = the first milestone completed.
    value_milestones: list[str] = []


class Attributes(Section):
    categorical: Annotated[list[SqlName], AfterValidator(distinct)] = []
    numeric: Annotated[list[SqlName], AfterValidator(distinct)] = []

    @model_validator(mode="after")
    def _one_kind(self) -> Attributes:
        both = sorted(set(self.categorical) & set(self.numeric))
        if both:
            raise ValueError(f"an attribute is either categorical or numeric, not both: {', '.join(both)}")
        return self


class SubscriptionFeatures(Section):
    #: Plans (product names; ``*`` and ``?`` as wildcards, case-insensitive) of the base line. Empty: the plans
    #: the account had in its first period and the plans it switched to when a base line ended; a line running
    #: beside no other line is always a base line. Every other line is an add-on.
    base_plans: list[str] = []
    #: Add-ons added or removed within this many days count as expansion and contraction.
    addon_change_days: PositiveInt = 90


class HolidayRange(Section):
    """One lull: its first and last day (inclusive)."""

    first: date
    last: date
    name: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> HolidayRange:
        if self.last < self.first:
            raise ValueError(f"a holiday range ends on or after its first day: {self.first} .. {self.last}")
        return self


class YearlyRange(Section):
    """A lull that comes back every year: its first and last day as ``MM-DD`` (inclusive; a range whose last day
    comes before its first runs into the next year, e.g. ``12-24`` to ``01-01``)."""

    first: str
    last: str
    name: str = ""

    @model_validator(mode="after")
    def _month_days(self) -> YearlyRange:
        for value in (self.first, self.last):
            if not re.fullmatch(r"\d\d-\d\d", value) or not _valid_month_day(value):
                raise ValueError(f"a yearly holiday is a month and day, MM-DD (e.g. 12-24), got {value!r}")
        return self

    def days(self, year: int) -> list[date]:
        """The range's days starting in ``year`` (29 February is the 28th in other years)."""
        from datetime import timedelta

        first, last = _on(year, self.first), _on(year, self.last)
        if last < first:
            last = _on(year + 1, self.last)
        return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def _valid_month_day(value: str) -> bool:
    month, day = (int(v) for v in value.split("-"))
    try:
        date(2000, month, day)  # a leap year: 02-29 is a month day
    except ValueError:
        return False
    return True


def _on(year: int, month_day: str) -> date:
    month, day = (int(v) for v in month_day.split("-"))
    try:
        return date(year, month, day)
    except ValueError:  # 02-29 outside a leap year
        return date(year, month, day - 1)


class CalendarSettings(Section):
    """``features.calendar``: the days usage is low for every account (holidays, shutdowns, summer lulls)."""

    #: Date ranges of lulls (first and last day, inclusive), e.g. ``{first: 2025-12-24, last: 2026-01-01}``.
    holidays: list[HolidayRange] = []
    #: Lulls that come back every year, e.g. ``{first: "12-24", last: "01-01", name: year-end}`` (``MM-DD``).
    yearly: list[YearlyRange] = []
    #: ISO 3166 country code whose public holidays join ``holidays`` (PyPI ``holidays``, the ``calendar`` extra).
    country: str | None = None
    #: Years (first and last) for which the country's public holidays and the yearly lulls are listed.
    country_years: tuple[int, int] = (2020, 2030)

    @property
    def configured(self) -> bool:
        """Whether any holiday is configured."""
        return bool(self.holidays or self.yearly or self.country)

    def days(self) -> list[date]:
        """Every holiday day, sorted: the ranges' days, the yearly lulls' and the country's public holidays."""
        from datetime import timedelta

        out = {r.first + timedelta(days=k) for r in self.holidays for k in range((r.last - r.first).days + 1)}
        first, last = self.country_years
        out |= {d for r in self.yearly for year in range(first - 1, last + 1) for d in r.days(year)}
        if self.country:
            import holidays  # the `calendar` extra; only read when a country is configured

            out |= set(holidays.country_holidays(self.country, years=range(first, last + 1)))
        return sorted(out)


class FeatureSettings(Section):
    """``features:``: windows, vocabularies and attributes of the feature definitions."""


    usage: UsageFeatures = UsageFeatures()
    tickets: TicketFeatures = TicketFeatures()
    milestones: MilestoneFeatures = MilestoneFeatures()
    mrr_change_days: PositiveInt = 90
    subscriptions: SubscriptionFeatures = SubscriptionFeatures()
    attributes: Attributes = Attributes()
    calendar: CalendarSettings = CalendarSettings()
