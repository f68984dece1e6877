"""Out-of-time folds in snapshot dates, purged of every label window that reaches the test block.

A snapshot (account, T) is *usable* once its label window has closed: churn in
(T, T + horizon] plus the grace period in which a return would undo it. A fold
tests on a block of consecutive snapshot dates and trains only on dates whose
label window closed before the block's first date: the purge gap of horizon +
grace (Lopez de Prado's purged time-series cross-validation). Blocks are cut in
days, not calendar months, so weekly and monthly snapshots, short and long
histories, are treated alike. Never a random split across time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from models.settings import Labels


def label_window_days(labels: Labels) -> int:
    """Days from a snapshot until its label is final: horizon plus grace."""
    return labels.horizon_days + labels.grace_days


def closed_before(as_of, cutoff: date, window_days: int) -> np.ndarray:
    """Whether the label window of each snapshot date closed before ``cutoff``.

    The data known at ``cutoff`` covers the days before it, the same convention
    as ``label_observed`` relative to the data end.
    """
    as_of = pd.to_datetime(pd.Series(as_of)).to_numpy()
    return as_of + np.timedelta64(window_days, "D") < np.datetime64(cutoff)


@dataclass(frozen=True)
class Fold:
    """One out-of-time fold.

    Attributes
    ----------
    number : int
        1 = oldest; the last fold is the *latest out-of-time fold* of the promotion gate.
    train_dates, test_dates : list of date
        Snapshot dates the model trains on and is tested on.
    window_days : int
        The purge gap: every training label window closed before the first test date.
    """

    number: int
    train_dates: list[date]
    test_dates: list[date]
    window_days: int

    @property
    def test_start(self) -> date:
        return min(self.test_dates)

    def describe(self) -> str:
        return (f"fold {self.number}: train {_span(self.train_dates)} ({len(self.train_dates)} dates), "
                f"purge {self.window_days} days, test {_span(self.test_dates)} ({len(self.test_dates)} dates)")


def _span(dates: list[date]) -> str:
    return f"{min(dates)}..{max(dates)}" if dates else "-"


def _fold(dates: list[date], test: list[date], window_days: int, number: int) -> Fold:
    train = [d for d, ok in zip(dates, closed_before(dates, min(test), window_days)) if ok]
    return Fold(number, train, test, window_days)


def make_folds(dates, *, folds: int, test_days: int, window_days: int, min_train_dates: int) -> list[Fold]:
    """Up to ``folds`` consecutive test blocks of ``test_days`` days at the end of the usable dates.

    A block is kept when at least ``min_train_dates`` snapshot dates closed their
    label window before it. When not even the latest block keeps enough
    training dates, the latest test block shrinks to the longest one that does
    (so three months of weekly snapshots still give an out-of-time test). The
    result is empty only when no split at all leaves ``min_train_dates`` to train on.
    """
    dates = sorted(set(pd.to_datetime(pd.Series(list(dates))).dt.date))
    if not dates:
        return []
    out: list[Fold] = []
    end = dates[-1]
    for _ in range(folds):
        start = end - timedelta(days=test_days - 1)
        test = [d for d in dates if start <= d <= end]
        if not test:
            break
        fold = _fold(dates, test, window_days, 0)
        if len(fold.train_dates) < min_train_dates:
            break
        out.insert(0, fold)
        end = start - timedelta(days=1)
    if not out:
        for first in range(len(dates) - 1, 0, -1):  # the longest latest block that still leaves enough to train on
            candidate = _fold(dates, dates[first:], window_days, 0)
            if len(candidate.train_dates) >= min_train_dates:
                out = [candidate]
            elif out:
                break
    return [Fold(i + 1, f.train_dates, f.test_dates, f.window_days) for i, f in enumerate(out)]
