"""Calendar arithmetic on integer day offsets from the simulation start date."""
from __future__ import annotations

import numpy as np

SECONDS_PER_DAY = 86_400


class Calendar:
    """Day-offset calendar anchored at ``start`` (day 0).

    Parameters
    ----------
    start : str
        ISO date of day 0.
    """

    def __init__(self, start: str):
        self.start = np.datetime64(start, "D")
        self.start_sec = int(self.start.astype("datetime64[s]").astype(np.int64))

    def dates(self, days) -> np.ndarray:
        """Return ``datetime64[D]`` for day offsets."""
        return self.start + np.asarray(days, dtype=np.int64).astype("timedelta64[D]")

    def iso(self, days) -> np.ndarray:
        """Return ISO date strings ``YYYY-MM-DD`` for day offsets."""
        return self.dates(days).astype(str)

    def add_months(self, days, months) -> np.ndarray:
        """Return ``days + months`` calendar months, clamping the day of month.

        Always compute from the original anchor (e.g. a subscription start):
        the clamp (Jan 31 -> Feb 29) is not reversible.
        """
        d = self.dates(days)
        m = d.astype("datetime64[M]")
        dom = (d - m.astype("datetime64[D]")).astype(np.int64)
        target = m + np.asarray(months, dtype=np.int64).astype("timedelta64[M]")
        first = target.astype("datetime64[D]")
        dim = ((target + 1).astype("datetime64[D]") - first).astype(np.int64)
        res = first + np.minimum(dom, dim - 1).astype("timedelta64[D]")
        return (res - self.start).astype(np.int64)

    def weekday(self, days) -> np.ndarray:
        """Return ISO weekday index, 0 = Monday ... 6 = Sunday."""
        return (self.dates(days).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday

    def month_starts(self, n_days: int) -> np.ndarray:
        """Return offsets of every first-of-month day in ``[0, n_days)``."""
        d = self.dates(np.arange(n_days))
        return np.flatnonzero(d == d.astype("datetime64[M]").astype("datetime64[D]"))

    def holiday(self, days) -> np.ndarray:
        """Return True for the Dec 24 - Jan 1 holiday lull."""
        d = self.dates(days)
        doy = (d - d.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
        ylen = ((d.astype("datetime64[Y]") + 1).astype("datetime64[D]")
                - d.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
        return (doy >= ylen - 8) | (doy == 0)

    def in_ranges(self, days, ranges) -> np.ndarray:
        """Return True on days inside any of ``ranges``: ("MM-DD", "MM-DD") first and last day, every year.

        A range whose last day comes before its first in the year wraps over New Year.
        """
        d = self.dates(days)
        md = ((d.astype("datetime64[M]").astype(np.int64) % 12 + 1) * 100
              + (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1)
        inside = np.zeros(d.shape, dtype=bool)
        for first, last in ranges:
            lo, hi = (int(x.replace("-", "")) for x in (first, last))
            inside |= ((md >= lo) & (md <= hi)) if lo <= hi else ((md >= lo) | (md <= hi))
        return inside

    def day_of_year(self, days) -> np.ndarray:
        """Return the day of year, 0 = January 1st."""
        d = self.dates(days)
        return (d - d.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)

    def season(self, days, peak_doy: int) -> np.ndarray:
        """Return ``cos(2 pi (doy - peak) / 365.25)``: 1 on day of year ``peak_doy``, -1 half a year off."""
        return np.cos(2.0 * np.pi * (self.day_of_year(days) - peak_doy) / 365.25)

    def epoch_seconds(self, days, seconds=0) -> np.ndarray:
        """Return Unix seconds for a day offset plus seconds into that day."""
        return self.start_sec + np.asarray(days, np.int64) * SECONDS_PER_DAY + np.asarray(seconds, np.int64)


def business_seconds(rng: np.random.Generator, region: np.ndarray, offsets, weights) -> np.ndarray:
    """Draw UTC seconds-of-day for activity in local business hours.

    Parameters
    ----------
    rng : numpy.random.Generator
    region : ndarray of int
        Region index per draw.
    offsets : sequence of int
        UTC offset in hours of each region.
    weights : sequence of float
        Relative activity per local hour.

    Returns
    -------
    ndarray of int64
        Seconds in ``[0, 86400)``; the local hour is shifted to UTC and wrapped
        within the same day so that nothing leaves the simulated day.
    """
    cum = np.cumsum(weights, dtype=np.float64)
    cum /= cum[-1]
    hour = np.searchsorted(cum, rng.random(region.shape[0]), side="right")
    hour = (hour - np.asarray(offsets, np.int64)[region]) % 24
    return hour * 3600 + rng.integers(0, 3600, region.shape[0])
