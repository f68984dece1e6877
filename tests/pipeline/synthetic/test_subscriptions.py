"""Tests of ``pipeline/synthetic/subscriptions.py``: prices and the subscription ledger."""

from __future__ import annotations

import numpy as np

from pipeline.synthetic.dates import Calendar
from pipeline.synthetic.params import PLAN_PRICE
from pipeline.synthetic.subscriptions import ANNUAL_DISCOUNT, FAR, Ledger, price

CAL = Calendar("2024-01-31")


def test_price_is_seats_times_the_plan_price_less_the_annual_discount():
    got = price(np.array([0, 3]), np.array([10, 3]), np.array([0, 1]))
    assert got.tolist() == [PLAN_PRICE[0] * 10, round(PLAN_PRICE[3] * 3 * ANNUAL_DISCOUNT, 2)]


def test_a_monthly_row_renews_at_each_month_anniversary_of_its_start():
    led = Ledger(1, CAL)
    led.open(np.array([0]), 0, 0, 1, 4)
    renewals = []
    for _ in range(3):
        renewals.append(int(led.next_renew[0]))
        led.renew(np.array([0]), led.next_renew[:1])
    assert CAL.iso(renewals).tolist() == ["2024-02-29", "2024-03-31", "2024-04-30"]  # clamped, from the anchor
    rows = led.rows()
    assert rows["start"].tolist() == [0] and rows["end"].tolist() == [-1] and rows["natural_end"].tolist() == [-1]


def test_an_annual_row_is_replaced_at_renewal_with_its_new_seats():
    led = Ledger(2, CAL)
    led.open(np.array([0, 1]), 0, 1, 2, np.array([10, 0]))
    assert led.seats.tolist() == [10, 1]  # at least one seat
    day = int(led.next_renew[0])
    led.renew(np.array([0]), day, seats=np.array([6]), plan=np.array([2]))
    rows = led.rows()
    assert CAL.iso(day) == "2025-01-31"
    assert list(zip(rows["acc"].tolist(), rows["start"].tolist(), rows["end"].tolist())) == [
        (0, 0, day), (0, day, -1), (1, 0, -1)]
    assert rows["mrr"].tolist() == [price(np.array([2]), np.array([n]), np.array([1]))[0] for n in (10, 6, 1)]
    assert rows["natural_end"].tolist() == [day, CAL.add_months(day, 12), day]


def test_closing_ends_the_row_and_backfill_replays_renewals_before_day_zero():
    led = Ledger(2, CAL)
    led.open(np.array([0, 1]), np.array([-400, -400]), np.array([0, 1]), 0, 5)
    led.backfill(np.array([0, 1]))
    assert (led.next_renew >= 0).all() and (led.next_renew <= 366).all()
    assert led.start[0] == -400 and led.start[1] > -400  # monthly continues, annual got a new row
    led.close(np.array([0]), 10)
    assert not led.active[0] and led.next_renew[0] == FAR and led.last_end[0] == 10
    assert led.rows()["end"][led.rows()["acc"] == 0].tolist() == [10]
