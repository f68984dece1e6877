"""Risk tiers: which accounts a CSM reads as ``high``, ``medium`` or ``low``.

Three rules (``scoring.tiers.rule``):

* ``relative`` (default): at least ``high`` (``medium``) times the churn base rate the model was
  trained on. "Three times as likely to leave as a typical account" means the same at 2 % and at
  20 % churn, where a fixed probability threshold leaves a low-churn business with an empty list.
* ``probability``: fixed probability thresholds.
* ``top``: capacity. The first ``high`` share of the ranked accounts, then down to the ``medium`` share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TIERS = ("high", "medium", "low")


@dataclass(frozen=True)
class TierRule:
    """A tier rule and its cut-offs.

    Parameters
    ----------
    rule : {"relative", "probability", "top"}
    high, medium : float
        Multiples of the base rate, probabilities, or shares of the accounts (by ``rule``).
    """

    rule: str
    high: float
    medium: float

    def assign(self, probability: np.ndarray, rank: np.ndarray, base_rate: float | None) -> tuple[np.ndarray, str]:
        """Each account's tier, and one line saying which rule made them.

        Parameters
        ----------
        probability : ndarray
            P(churn within the horizon) of every scored account.
        rank : ndarray of int
            1 = most at risk (the ``top`` rule counts down this order).
        base_rate : float or None
            Share of the model's training snapshots that churned within the horizon; ``None`` (a
            model from before it was recorded): the mean probability of the accounts scored.
        """
        probability = np.asarray(probability, dtype="float64")
        n = len(probability)
        if self.rule == "top":
            high_n, medium_n = int(np.ceil(self.high * n)), int(np.ceil(self.medium * n))
            rank = np.asarray(rank)
            tiers = np.where(rank <= high_n, "high", np.where(rank <= medium_n, "medium", "low"))
            return tiers, (f"tiers by capacity: high = the top {self.high:.0%} of accounts ({high_n:,}), "
                           f"medium = the next, down to {self.medium:.0%} ({max(medium_n - high_n, 0):,})")
        if self.rule == "probability":
            high, medium = self.high, self.medium
            text = f"tiers by probability: high ≥ {high:.0%}, medium ≥ {medium:.0%}"
        else:
            source = "the training base rate"
            if base_rate is None or not np.isfinite(base_rate) or base_rate <= 0:
                base_rate, source = (float(probability.mean()) if n else 0.0), "the mean probability today"
            high, medium = min(self.high * base_rate, 1.0), min(self.medium * base_rate, 1.0)
            text = (f"tiers by base rate: high ≥ {self.high:g}× {source} {base_rate:.1%} (≥ {high:.1%}), "
                    f"medium ≥ {self.medium:g}× (≥ {medium:.1%})")
        tiers = np.where(probability >= high, "high", np.where(probability >= medium, "medium", "low"))
        return tiers, text
