"""Settings the modelling layer reads, typed and immutable (sections of :class:`pipeline.config.Config`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveInt

from features.settings import Section


class Labels(Section):
    horizon_days: PositiveInt = 90
    grace_days: Annotated[int, Field(ge=0)] = 30
    #: The time-to-churn curve (``churn_probability_30d`` ...): periods of this many days ...
    curve_period_days: PositiveInt = 30
    #: ... this many of them (6 x 30 = churn within 180 days at most).
    curve_periods: PositiveInt = 6

    @property
    def curve_days(self) -> int:
        """Days the time-to-churn curve reaches."""
        return self.curve_period_days * self.curve_periods
