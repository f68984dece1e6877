"""Does a categorical attribute go with churn at all? A permutation test on accounts.

Used to screen a many-level attribute (a state, a country) when the history is too
short for an out-of-time fold (:func:`models.evaluation.screen` needs one). A panel
repeats each account at every snapshot date, so a booster can fit a 50-level
attribute to a few churners and still look fine on its own rows; the test here
counts each account once instead: its last level against whether it ever churned
in the panel, and asks how often the same accounts with their churn flags shuffled
show as strong a dependence (the chi-square statistic of the level × churned table).
Under no association the p-value is uniform, so an attribute with no signal passes
the test with probability ``alpha``; a real one (fight-churn's country) passes
with a p-value near the smallest a permutation test can give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Levels held by fewer accounts are pooled into one, so a handful of accounts cannot carry the statistic.
MIN_ACCOUNTS_PER_LEVEL = 5


def account_levels(panel: pd.DataFrame, column: str) -> pd.DataFrame:
    """One row per account: its last level of ``column`` (missing kept as a level) and whether it ever churned.

    Parameters
    ----------
    panel : pandas.DataFrame
        Labelled snapshots with ``account_id``, ``as_of``, ``churned`` and ``column``.
    """
    last = panel.sort_values("as_of").groupby("account_id", sort=False)
    levels = last[column].last().astype("string").fillna("__missing__")
    counts = levels.map(levels.value_counts())
    levels = levels.where(counts >= MIN_ACCOUNTS_PER_LEVEL, "__rare__")
    return pd.DataFrame({"level": levels, "churned": last["churned"].max().astype(bool)})


def chi_square(codes: np.ndarray, churned: np.ndarray, levels: int) -> float:
    """Pearson's chi-square statistic of the levels × (churned, stayed) table."""
    total = np.bincount(codes, minlength=levels).astype(float)
    lost = np.bincount(codes, weights=churned.astype(float), minlength=levels)
    rate = churned.mean()
    expected_lost, expected_kept = total * rate, total * (1.0 - rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = ((lost - expected_lost) ** 2 / expected_lost) + (((total - lost) - expected_kept) ** 2 / expected_kept)
    return float(np.nansum(terms))


def permutation_pvalue(panel: pd.DataFrame, column: str, permutations: int = 999, seed: int = 0) -> float:
    """P-value of "``column``'s levels and churn are independent", by shuffling churn flags over accounts.

    Returns
    -------
    float
        ``(1 + shuffles at least as extreme) / (1 + permutations)``; 1.0 when there is one level or
        no churner (nothing to test).
    """
    accounts = account_levels(panel, column)
    codes, uniques = pd.factorize(accounts["level"])
    churned = accounts["churned"].to_numpy()
    if len(uniques) < 2 or churned.all() or not churned.any():
        return 1.0
    observed = chi_square(codes, churned, len(uniques))
    rng = np.random.default_rng(seed)
    extreme = sum(chi_square(codes, rng.permutation(churned), len(uniques)) >= observed - 1e-12
                  for _ in range(permutations))
    return (1 + extreme) / (1 + permutations)
