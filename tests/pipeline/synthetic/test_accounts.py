"""Tests of ``pipeline/synthetic/accounts.py``: the drawn account population and its milestone plans."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.synthetic.accounts import NEVER, _names, make_accounts
from pipeline.synthetic.dates import business_seconds
from pipeline.synthetic.params import HOUR_WEIGHTS, MILESTONE_DUE, REGION_UTC_OFFSET, WorldParams

DAYS = 365


def draw(n=400, seed=3, **changes):
    rng = np.random.default_rng(seed)
    return make_accounts(rng, n, DAYS, WorldParams(**changes),
                         lambda region: business_seconds(rng, region, REGION_UTC_OFFSET, HOUR_WEIGHTS))


@pytest.fixture(scope="module")
def acc():
    return draw()


def test_accounts_are_sorted_by_creation_and_ids_follow_that_order(acc):
    order = np.lexsort((acc.created_sec, acc.created_day))
    assert (order == np.arange(acc.n)).all()
    assert acc.ids()[:2].tolist() == ["A00001", "A00002"] and list(acc.ids()) == sorted(acc.ids())
    assert dataclasses.replace(acc, created_day=np.zeros(123_456)).ids()[-1] == "A123456"


def test_new_share_decides_how_many_accounts_arrive_within_the_period():
    assert (draw(new_share=0.25).created_day >= 1).sum() == 100
    default = draw()
    assert (default.created_day >= 1).sum() == round(400 * DAYS / (DAYS + 900))
    assert default.created_day.max() <= DAYS - 1 and default.created_day[default.created_day < 1].max() <= -30


def test_attributes_stay_in_their_ranges(acc):
    assert set(np.unique(acc.segment)) <= {0, 1, 2} and set(np.unique(acc.term0)) <= {0, 1}
    assert ((acc.users >= 1) & (acc.users <= acc.seats)).all()
    assert ((acc.csm >= -1) & (acc.csm < 12)).all() and (acc.csm[acc.segment == 2] >= 0).all()  # no Enterprise unowned
    assert len(set(acc.names)) == acc.n and ((acc.created_sec >= 0) & (acc.created_sec < 86_400)).all()


def test_milestones_are_due_on_schedule_and_done_in_order_or_never(acc):
    assert (acc.due == acc.created_day[:, None] + np.array(MILESTONE_DUE)).all()
    done = acc.done.astype(np.int64)
    never = done == NEVER
    assert (np.diff(never.astype(int), axis=1) >= 0).all()  # a skipped step blocks the later ones
    assert (np.diff(np.where(never, NEVER, done), axis=1) >= 0).all()
    assert (done[~never] > np.repeat(acc.created_day[:, None], 4, axis=1)[~never]).all()
    assert 0 < never.mean() < 0.5


def test_names_stay_unique_beyond_the_word_lists():
    names = _names(np.random.default_rng(0), 16_000)  # 40 x 28 x 14 = 15,680 combinations
    assert len(set(names)) == 16_000
