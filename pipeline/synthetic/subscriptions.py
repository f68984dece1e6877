"""Subscription ledger: running rows per account and the closed-row history."""
from __future__ import annotations

import numpy as np

from .dates import Calendar
from .params import PLAN_PRICE

FAR = np.iinfo(np.int64).max // 4
ANNUAL_DISCOUNT = 0.85


def price(plan: np.ndarray, seats: np.ndarray, term: np.ndarray) -> np.ndarray:
    """Monthly recurring revenue of a plan, seat count and billing term."""
    mrr = np.asarray(PLAN_PRICE)[plan] * seats * np.where(term == 1, ANNUAL_DISCOUNT, 1.0)
    return np.round(mrr, 2)


class Ledger:
    """Keeps at most one running subscription row per account.

    A monthly row runs until the customer churns or changes plan (end null while
    running) and renews at every month anniversary of its start; an annual row
    covers one year and is replaced by a new row at renewal.
    """

    def __init__(self, n: int, cal: Calendar):
        self.cal = cal
        self.active = np.zeros(n, bool)
        self.start = np.zeros(n, np.int64)
        self.next_renew = np.full(n, FAR, np.int64)
        self.months = np.zeros(n, np.int64)
        self.term = np.zeros(n, np.int8)
        self.plan = np.zeros(n, np.int8)
        self.seats = np.zeros(n, np.int64)
        self.mrr = np.zeros(n)
        self.last_end = np.full(n, -FAR, np.int64)
        self._closed: list[tuple] = []

    def open(self, idx, day, term, plan, seats) -> None:
        """Start new rows for accounts ``idx`` on ``day``."""
        day = np.broadcast_to(np.asarray(day, np.int64), idx.shape)
        self.active[idx] = True
        self.start[idx] = day
        self.term[idx], self.plan[idx] = term, plan
        self.seats[idx] = np.maximum(1, seats)
        self.mrr[idx] = price(self.plan[idx], self.seats[idx], self.term[idx])
        self.months[idx] = np.where(self.term[idx] == 1, 12, 1)
        self.next_renew[idx] = self.cal.add_months(day, self.months[idx])

    def close(self, idx, day) -> None:
        """End the running rows of ``idx`` on ``day`` and record them."""
        day = np.broadcast_to(np.asarray(day, np.int64), idx.shape).copy()
        self._closed.append((idx.copy(), self.start[idx], day, self.mrr[idx], self.plan[idx],
                             self.term[idx]))
        self.active[idx] = False
        self.next_renew[idx] = FAR
        self.last_end[idx] = day

    def renew(self, idx, day, seats=None, plan=None) -> None:
        """Renew ``idx`` at ``day``: a monthly row continues, an annual row is replaced.

        ``seats`` and ``plan`` (aligned with ``idx``) change annual rows at renewal.
        """
        day = np.broadcast_to(np.asarray(day, np.int64), idx.shape)
        annual = self.term[idx] == 1
        monthly = idx[~annual]
        self.months[monthly] += 1
        self.next_renew[monthly] = self.cal.add_months(self.start[monthly], self.months[monthly])
        if annual.any():
            a = idx[annual]
            self.change(a, day[annual], self.plan[a] if plan is None else plan[annual],
                        self.seats[a] if seats is None else seats[annual])

    def change(self, idx, day, plan, seats) -> None:
        """Close the running rows and start new ones with another plan or seat count."""
        term = self.term[idx].copy()
        self.close(idx, day)
        self.open(idx, day, term, plan, seats)

    def backfill(self, idx) -> None:
        """Replay renewals of pre-existing accounts up to day 0 (they all renewed)."""
        todo = idx[self.next_renew[idx] < 0]
        while todo.size:
            self.renew(todo, self.next_renew[todo])
            todo = todo[self.next_renew[todo] < 0]

    def rows(self) -> dict:
        """All rows (closed and running); ``end`` is -1 for running rows (``running``: rows still running)."""
        run = np.flatnonzero(self.active)
        parts = self._closed + [(run, self.start[run], np.full(run.size, -1, np.int64),
                                 self.mrr[run], self.plan[run], self.term[run])]
        cols = [np.concatenate([p[k] for p in parts]) for k in range(6)]
        out = dict(zip(("acc", "start", "end", "mrr", "plan", "term"), cols))
        out["natural_end"] = np.where(out["term"] == 1, self.cal.add_months(out["start"], 12), -1)
        out["running"] = np.arange(out["acc"].size) >= out["acc"].size - run.size
        return out
