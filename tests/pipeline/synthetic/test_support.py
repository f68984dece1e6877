"""Tests of ``pipeline/synthetic/support.py``: drawn tickets, survey answers and aged urgent tickets."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.synthetic.accounts import make_accounts
from pipeline.synthetic.dates import SECONDS_PER_DAY, business_seconds
from pipeline.synthetic.params import HOUR_WEIGHTS, REGION_UTC_OFFSET, WorldParams
from pipeline.synthetic.support import Support

P = WorldParams(urgent_share=0.3)
DAYS = 90


@pytest.fixture(scope="module")
def run():
    """200 accounts, all active and disengaged, for 90 days: the urgent-ticket count of every day."""
    rng = np.random.default_rng(5)

    def bsec(region):
        return business_seconds(rng, region, REGION_UTC_OFFSET, HOUR_WEIGHTS)

    acc = make_accounts(rng, 200, DAYS, P, bsec)
    sup = Support(P, acc, rng, bsec)
    assert {k: v.size for k, v in sup.ticket_table().items()} == dict.fromkeys(Support.TICKET_COLS, 0)
    everyone, counts = np.arange(acc.n), []
    for day in range(DAYS):
        sup.start_day(day)
        counts.append(sup.open_urgent.copy())
        sup.tickets(day, everyone, np.full(acc.n, 1.0), weekend=day % 7 >= 5)
        if day % 30 == 0:
            sup.surveys(day, everyone, np.full(acc.n, 6.0))
    return sup, np.array(counts)


def test_tickets_are_well_formed(run):
    sup, _ = run
    t = sup.ticket_table()
    assert t["acc"].size > 1000
    assert (t["resolved"] > t["created"]).all() and set(np.unique(t["priority"])) == {0, 1, 2, 3}
    csat = t["csat"][~np.isnan(t["csat"])]
    assert set(np.unique(csat)) <= {1, 2, 3, 4, 5} and 0.4 < csat.size / t["csat"].size < 0.8


def test_open_urgent_counts_urgent_tickets_from_a_week_old_until_the_day_after_resolution(run):
    sup, counts = run
    t = sup.ticket_table()
    created, closed = t["created"] // SECONDS_PER_DAY, t["resolved"] // SECONDS_PER_DAY + 1
    aged = (t["priority"] == 3) & (t["resolved"] - t["created"] > P.urgent_age_days * SECONDS_PER_DAY)
    assert aged.sum() > 20
    for day in range(DAYS):
        live = aged & (created + P.urgent_age_days <= day) & (day < closed)
        assert (counts[day] == np.bincount(t["acc"][live], minlength=counts.shape[1])).all(), day


def test_survey_answers_are_scores_0_to_10_within_ten_days_of_the_survey(run):
    sup, _ = run
    r = sup.nps_table()
    assert r["acc"].size > 50 and set(r) == set(Support.NPS_COLS)
    assert ((r["score"] >= 0) & (r["score"] <= 10)).all() and 4 < r["score"].mean() < 8
    assert set(np.unique(r["responded"] // SECONDS_PER_DAY % 30)) <= set(range(10))
