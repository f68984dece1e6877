"""Net Promoter Score responses.

Frame ``nps``: one row per (account, as-of, response before the as-of date) with
``score``, ``d`` = days since the response and ``rn`` = 0 for the latest
response, 1 for the one before, and so on. No response stays null: "never
answered" is not a score of 0.
"""

from __future__ import annotations

from features.base import feature, flag

NPS = ("nps_responses",)


@feature(
    family="nps", frame="nps", unit="score 0-10", group="nps", topic="NPS", requires=NPS,
    risk="Last NPS answer was {value:.0f} of 10",
    protective="Last NPS answer was {value:.0f} of 10",
    direction="lower",
)
def nps_last(f, p):
    """Score of the latest NPS response before the as-of date."""
    return f.score.max(where=f.rn == 0).cast("float64")


@feature(
    family="nps", frame="nps", unit="flag", group="nps", topic="NPS", requires=NPS,
    risk="The customer is an NPS detractor (last score 0-6)",
    protective="The customer is not an NPS detractor",
    direction="higher",
)
def nps_detractor(f, p):
    """1 if the latest NPS response is 0-6, 0 if it is 7-10, null if never answered."""
    return flag(f.score.max(where=f.rn == 0) <= 6)


@feature(
    family="nps", frame="nps", unit="flag", group="nps", topic="NPS", requires=NPS,
    risk="The customer is no NPS promoter",
    protective="The customer is an NPS promoter (last score 9-10)",
    direction="lower",
)
def nps_promoter(f, p):
    """1 if the latest NPS response is 9-10, 0 if it is 0-8, null if never answered."""
    return flag(f.score.max(where=f.rn == 0) >= 9)


@feature(
    family="nps", frame="nps", unit="points", group="nps", topic="NPS", requires=NPS,
    risk="NPS went {up} {size:.0f} point{s} since the previous answer",
    protective="NPS went {up} {size:.0f} point{s} since the previous answer",
    direction="lower",
)
def nps_change(f, p):
    """Latest NPS score minus the one before it (null with fewer than two responses)."""
    return (f.score.max(where=f.rn == 0) - f.score.max(where=f.rn == 1)).cast("float64")


@feature(
    family="nps", frame="nps", unit="days", group="nps", topic="NPS", requires=NPS,
    risk="No NPS answer for {value:.0f} day{s}",
    protective="Answered NPS {value:.0f} day{s} ago",
    direction="context",
)
def days_since_nps(f, p):
    """Days since the latest NPS response (null if never answered)."""
    return f.d.min().cast("float64")
