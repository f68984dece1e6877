"""The CS team of a generated world: it calls the accounts on its risk list, except the holdout.

With ``WorldParams.outreach_experiment`` set, every truth snapshot from
``outreach_start_day`` on puts the active accounts whose oracle churn
probability is at least ``outreach_threshold`` on the CS team's list, once
(the first time). Each listed account falls in the experiment's ``holdout`` or
``outreach`` arm by the same hash as the pipeline's assignment
(:func:`models.experiments.arms`, keyed by experiment name and account id), so
an account the pipeline holds out is never one the CS team called, unless the
world is told to break the rule (``outreach_holdout_leak``).

A CSM reaches an outreach account with probability ``outreach_contact_share``,
``outreach_delay_days`` after it was listed, and records the call in
``cs_activities``. The call's true effect: with probability
``-outreach_effect`` (0.3 for an effect of −30 %) the account is *saved*: it does
not leave from the call until the label horizon after its listing has passed.
Every contacted account's chance of churning in that window is therefore
exactly ``1 + outreach_effect`` times what it would have been. The team's
draws come from a generator of their own: with a zero effect the world is
byte-identical to one without a team. With an effect it is not: a saved account
stays active, and the world's later vectorised draws (over the active accounts)
shift, so a world "without the calls" is no counterfactual of the same accounts;
the holdout is. Who was listed, called and saved is written to
``_truth/outreach.parquet``.

With ``outreach_driver_effect`` the effect differs between accounts: an account's
save share is the mean of the per-driver effects weighted by each driver's share
of its churn logit at listing (onboarding lag and open urgent tickets can be very
savable, a usage decline a little, the unpredictable driver, which no table
shows, not at all). A share ``outreach_backfire_share`` of the listed accounts
reacts badly instead: never saved, and once called it cancels on the call day
with probability ``outreach_backfire_loss``. The truth records, per listed account
and listing date, the oracle probability without a call (``p_no_call``) and the
true uplift of a call, ``p_no_call - p_call`` (``true_uplift``; negative for a
bad reaction): ``p * save`` for a savable account and
``-(1 - p) * loss * (1 - return_prob * return_fast_share)`` for one that reacts badly
(a quick return within the grace period is no churn). ``driver_effect`` is the
driver-weighted effect drawn before the bad-reaction coin (``true_effect`` is 0
for an account that reacts badly): what the world's state at listing tells of
the call, the coin aside.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.experiments import HOLDOUT, OUTREACH, arms

from .dates import SECONDS_PER_DAY, Calendar, business_seconds
from .params import HOUR_WEIGHTS, REGION_UTC_OFFSET, WorldParams

NOT = -1
#: ``cs_activities.activity_type`` of a CSM's call.
CALL = "call"


def call_uplift(p: WorldParams, prob, effect, backfire):
    """Churn probability without a call minus with one: ``prob * -effect`` for an account the call can save, and
    ``-(1 - prob) * loss * (1 - return_prob * return_fast_share)`` for one that reacts badly (``backfire``; a quick
    return within the grace period is no churn). ``prob``: its churn probability without a call; ``effect``: its
    relative effect of a call (a save share below 0)."""
    prob = np.asarray(prob, dtype="float64")
    keep = 1.0 - p.return_prob * p.return_fast_share
    return np.where(backfire, -(1.0 - prob) * p.outreach_backfire_loss * keep, prob * -np.asarray(effect, "float64"))


class Outreach:
    """The CS team's state: who is listed, in which arm, called when, and saved until when.

    Parameters
    ----------
    p : WorldParams
    ids : ndarray of str
        Account ids (the hash of the assignment reads them).
    region : ndarray of int
        Each account's region (calls are made in its business hours).
    rng : numpy.random.Generator
        The team's own draws.
    """

    def __init__(self, p: WorldParams, ids: np.ndarray, region: np.ndarray, rng: np.random.Generator):
        self.p, self.rng, self.region, n = p, rng, region, ids.size
        self.holdout = arms(str(p.outreach_experiment), ids, p.outreach_holdout_share) == HOLDOUT
        self.listed = np.full(n, NOT, np.int64)
        self.called = np.full(n, NOT, np.int64)
        self.saved = np.zeros(n, bool)
        self.call_sec = np.zeros(n, np.int64)
        self.p_listed = np.zeros(n)  # oracle churn probability at listing (without a call)
        self.effect = np.full(n, float(p.outreach_effect))  # relative change of churn if called (save share < 0)
        self.backfire = np.zeros(n, bool)
        self.driven_off = np.zeros(n, bool)  # reacts badly and cancels on the call day

    def save_share(self, contrib: np.ndarray) -> np.ndarray:
        """Relative effect of a call per account: ``outreach_effect``, or the driver-weighted mean effect."""
        p = self.p
        if p.outreach_driver_effect is None:
            return np.full(contrib.shape[0], float(p.outreach_effect))
        total = contrib.sum(axis=1)
        weights = np.where(total[:, None] > 0, contrib / np.where(total > 0, total, 1.0)[:, None], 0.0)
        weights[total <= 0, -1] = 1.0  # no driver at all: the unpredictable one
        return weights @ np.asarray(p.outreach_driver_effect, dtype=float)

    def list_accounts(self, idx: np.ndarray, prob: np.ndarray, day: int, contrib: np.ndarray | None = None) -> None:
        """Put the active accounts ``idx`` at or above the threshold on the list, call the outreach arm.

        ``contrib`` (the driver contributions of ``idx``) sets each account's effect when
        ``outreach_driver_effect`` is given.
        """
        p, rng = self.p, self.rng
        if day < p.outreach_start_day:
            return
        pick = (prob >= p.outreach_threshold) & (self.listed[idx] == NOT)
        new = idx[pick]
        if not new.size:
            return
        self.listed[new] = day
        self.p_listed[new] = prob[pick]
        if contrib is not None:
            self.effect[new] = self.save_share(contrib[pick])
        share = np.where(self.holdout[new], p.outreach_holdout_leak, p.outreach_contact_share)
        reached = rng.random(new.size) < share
        low, high = p.outreach_delay_days
        delay = rng.integers(low, high + 1, new.size)
        saved = rng.random(new.size) < -self.effect[new]
        if p.outreach_backfire_share > 0:
            bad = rng.random(new.size) < p.outreach_backfire_share
            off = rng.random(new.size) < p.outreach_backfire_loss
            self.backfire[new] = bad
            saved &= ~bad
            self.driven_off[new[reached & bad & off]] = True
        called = new[reached]
        self.called[called] = day + delay[reached]
        self.saved[called] = saved[reached]
        self.call_sec[called] = business_seconds(rng, self.region[called], REGION_UTC_OFFSET, HOUR_WEIGHTS)

    def protected(self, idx: np.ndarray, day: int) -> np.ndarray:
        """Which of ``idx`` a call keeps from leaving on ``day``: saved, called, within the horizon of listing."""
        return (self.saved[idx] & (self.called[idx] != NOT) & (self.called[idx] <= day)
                & (day <= self.listed[idx] + self.p.truth_horizon_days))

    def calls_lost(self, day: int) -> np.ndarray:
        """Accounts that react badly to a call made on ``day`` and cancel on the spot."""
        return np.flatnonzero(self.driven_off & (self.called == day))

    def true_uplift(self, idx: np.ndarray) -> np.ndarray:
        """Churn probability without a call minus with one, at listing, for the listed accounts ``idx``."""
        return call_uplift(self.p, self.p_listed[idx], self.effect[idx], self.backfire[idx])

    def truth(self, ids: np.ndarray, cal: Calendar) -> pd.DataFrame:
        """``_truth/outreach.parquet``: every listed account, its arm, call and whether the call saved it."""
        idx = np.flatnonzero(self.listed != NOT)
        called = self.called[idx] != NOT
        return pd.DataFrame({
            "account_id": ids[idx], "experiment": self.p.outreach_experiment,
            "listed_on": cal.dates(self.listed[idx]), "arm": np.where(self.holdout[idx], HOLDOUT, OUTREACH),
            "contacted": called, "contacted_on": pd.Series(cal.dates(np.where(called, self.called[idx], 0))).where(called),
            "saved": self.saved[idx] & called,
            "true_effect": np.where(self.backfire[idx], 0.0, self.effect[idx]),
            "driver_effect": self.effect[idx],
            "backfire": self.backfire[idx], "p_no_call": self.p_listed[idx], "true_uplift": self.true_uplift(idx),
        })

    def activities(self, ids: np.ndarray, cal: Calendar, days: int) -> pd.DataFrame:
        """The ``cs_activities`` table: one call per contacted account, within the period."""
        from .writer import fmt_ts

        idx = np.flatnonzero((self.called != NOT) & (self.called < days))
        idx = idx[np.lexsort((idx, self.called[idx]))]
        return pd.DataFrame({
            "account_id": ids[idx],
            "occurred_at": fmt_ts(cal, self.called[idx] * SECONDS_PER_DAY + self.call_sec[idx]),
            "activity_type": CALL,
        })
