"""Tests of ``features/nps.py`` on the tiny world across as-of dates: the flags follow the latest answer."""

from __future__ import annotations

import math
from datetime import date

import pytest

import tiny_world

# A1 answers 9 on 2024-01-10, 4 on 2024-03-15 and 10 on 2024-04-01 00:00; A2 and A3 never answer.
DATES = [date(2024, 1, 10), date(2024, 2, 1), date(2024, 3, 16), date(2024, 4, 1), date(2024, 4, 2)]


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    return tiny_world.features(tmp_path_factory.mktemp("tiny"), DATES)


def test_detractor_and_promoter_flags_agree_with_the_last_score(frame):
    answered = frame[frame["nps_last"].notna()]
    assert len(answered) == 4
    assert (answered["nps_detractor"] == (answered["nps_last"] <= 6)).all()
    assert (answered["nps_promoter"] == (answered["nps_last"] >= 9)).all()
    never = frame[frame["nps_last"].isna()]
    assert never[["nps_detractor", "nps_promoter", "nps_change", "days_since_nps"]].isna().all().all()


@pytest.mark.parametrize("day, last, change, days", [
    (date(2024, 1, 10), None, None, None),  # the first answer is stamped later that day
    (date(2024, 2, 1), 9, None, 22),  # one answer: no change yet
    (date(2024, 3, 16), 4, -5, 1),
    (date(2024, 4, 1), 4, -5, 17),  # the 10 stamped exactly at T is unseen
    (date(2024, 4, 2), 10, 6, 1),
])
def test_the_latest_answer_before_t_and_its_change(frame, day, last, change, days):
    row = frame[(frame["account_id"] == "A1") & (frame["as_of"] == day)].iloc[0]
    for name, want in (("nps_last", last), ("nps_change", change), ("days_since_nps", days)):
        assert math.isnan(row[name]) if want is None else row[name] == want, name
