"""Day-by-day simulation of engagement, support, surveys, renewals and churn."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .accounts import NEVER, Accounts
from .churn import (churn_events, contributions, daily_hazard, decision_prob, dominant_driver,
                    horizon_labels, horizon_prob, satisfaction)
from .dates import Calendar
from .outreach import Outreach
from .params import WorldParams
from .subscriptions import FAR, Ledger
from .support import Support

GRACE = 30  # a return within this many days is not churn (the pipeline's default grace)
HORIZON = 90  # default truth horizon (``WorldParams.truth_horizon_days``)
LOOKAHEAD = HORIZON + GRACE  # simulated beyond the period so that every truth label is known


def lookahead(p: WorldParams) -> int:
    """Days simulated beyond the period so that every truth label is known."""
    return p.truth_horizon_days + GRACE


@dataclass
class Latent:
    """Latent daily state per account (never written to the output tables)."""

    h: np.ndarray  # log engagement
    ema: np.ndarray  # its 2-week moving average, what the hazard reacts to
    slow: np.ndarray  # its 2-month moving average: ema < slow is a recent decline
    sentiment: np.ndarray  # satisfaction not explained by usage (pricing, relationship)
    unpredictable: np.ndarray  # budget cuts, acquisitions... invisible in the data
    decline: np.ndarray
    shift: np.ndarray


class Simulation:
    """Simulate ``days`` days (plus a hidden look-ahead) for the accounts ``acc``.

    Parameters
    ----------
    p : WorldParams
    acc : Accounts
    cal : Calendar
    days : int
    rng : numpy.random.Generator
    business_sec : callable
        ``business_sec(region_array) -> seconds of day`` in UTC.

    Notes
    -----
    ``acc.done`` is updated in place: milestones still pending when an account
    churns are never completed.
    """

    def __init__(self, p: WorldParams, acc: Accounts, cal: Calendar, days: int, rng, business_sec,
                 outreach_rng=None):
        self.p, self.acc, self.cal, self.days, self.rng = p, acc, cal, days, rng
        n = acc.n
        self.cs = (Outreach(p, acc.ids(), acc.region, outreach_rng or np.random.default_rng(0))
                   if p.outreach_experiment else None)
        self.led = Ledger(n, cal)
        self.sup = Support(p, acc, rng, business_sec)
        h = acc.mu + rng.normal(0, p.sd_health, n)
        self.lat = Latent(h=h, ema=h.copy(), slow=h.copy(), sentiment=rng.normal(0, 1, n),
                          unpredictable=rng.normal(0, 1, n), decline=np.zeros(n, bool),
                          shift=np.zeros(n))
        self.return_day = np.full(n, FAR, np.int64)
        self.H = np.empty((days, n), np.float32)
        self.active = np.empty((days, n), bool)
        self._truth: list[tuple] = []
        pre = np.flatnonzero(acc.created_day < 0)
        self.led.open(pre, acc.created_day[pre], acc.term0[pre], acc.plan0[pre], acc.seats[pre])
        self.led.backfill(pre)
        # some existing customers are already sliding when the period starts
        sliding = pre[rng.random(pre.size) < 0.06]
        self.lat.decline[sliding] = True
        self.lat.shift[sliding] = rng.uniform(*p.decline_shift, sliding.size)
        self.lat.h[sliding] -= self.lat.shift[sliding] * rng.uniform(0, 1, sliding.size)
        self.lat.ema[sliding] = self.lat.h[sliding]
        self.lat.slow[sliding] = (self.lat.h[sliding] + self.acc.mu[sliding]) / 2

    def unhealth(self, idx) -> np.ndarray:
        """How far the smoothed engagement of ``idx`` sits below its normal level."""
        return np.maximum(0.0, self.acc.mu[idx] - self.lat.ema[idx])

    def churn_shift(self, days):
        """Seasonal shift of the churn logit on ``days`` (0.0 without seasonality)."""
        p = self.p
        if not p.churn_season_amplitude:
            return 0.0
        return p.churn_season_amplitude * self.cal.season(days, p.churn_season_peak_doy)

    def _leave(self, gone, day: int) -> None:
        """End the coverage of ``gone`` on ``day``; some come back later."""
        p, rng = self.p, self.rng
        self.led.close(gone, day)
        done = self.acc.done[gone]
        self.acc.done[gone] = np.where(done > day, NEVER, done)
        back = rng.random(gone.size) < p.return_prob
        fast = rng.random(gone.size) < p.return_fast_share
        gap = np.where(fast, rng.integers(p.return_fast_gap[0], p.return_fast_gap[1] + 1, gone.size),
                       rng.integers(p.return_slow_gap[0], p.return_slow_gap[1] + 1, gone.size))
        self.return_day[gone[back]] = day + gap[back]

    def _cancellations(self, day: int) -> None:
        """Churn outside renewals: the ``anytime_share`` of the risk, drawn every day."""
        p, led = self.p, self.led
        idx = np.flatnonzero(led.active & (led.start < day))
        if not idx.size:
            return
        contrib = contributions(p, self.acc, self.lat, self.sup.open_urgent, led.term, idx, day)
        hazard = daily_hazard(p, contrib, led.term[idx], self.churn_shift(day))
        gone = idx[self.rng.random(idx.size) < hazard]
        if self.cs is not None:
            gone = gone[~self.cs.protected(gone, day)]
        if gone.size:
            self._leave(gone, day)

    def _renewals(self, day: int) -> None:
        p, led, rng = self.p, self.led, self.rng
        due = np.flatnonzero(led.next_renew == day)
        if not due.size:
            return
        contrib = contributions(p, self.acc, self.lat, self.sup.open_urgent, led.term, due, day)
        leave = rng.random(due.size) < decision_prob(p, contrib, led.term[due], self.churn_shift(day))
        if self.cs is not None:
            leave &= ~self.cs.protected(due, day)
        gone, stay = due[leave], due[~leave]
        if gone.size:
            self._leave(gone, day)
        if stay.size:
            # annual contracts shrink at renewal, more often when the account is disengaged
            shrink = (led.term[stay] == 1) & (
                rng.random(stay.size) < p.annual_downgrade_at_renewal * (1 + 1.5 * self.unhealth(stay)))
            seats = np.where(shrink, np.floor(led.seats[stay] * rng.uniform(0.5, 0.9, stay.size)),
                             led.seats[stay])
            led.renew(stay, day, seats=seats.astype(np.int64), plan=led.plan[stay])

    def _returns(self, day: int) -> None:
        idx = np.flatnonzero(self.return_day == day)
        if not idx.size:
            return
        rng, led, lat = self.rng, self.led, self.lat
        term = (rng.random(idx.size) < self.p.return_annual_share).astype(np.int8)
        seats = np.rint(led.seats[idx] * rng.uniform(0.6, 1.0, idx.size))
        led.open(idx, day, term, led.plan[idx], seats)
        lat.decline[idx] = False
        lat.unpredictable[idx] = np.minimum(lat.unpredictable[idx], 0.0)
        lat.h[idx] = lat.ema[idx] = lat.slow[idx] = self.acc.mu[idx] - 0.3
        self.return_day[idx] = FAR

    def _plan_changes(self, day: int) -> None:
        p, led, rng = self.p, self.led, self.rng
        cand = np.flatnonzero(led.active & (day - led.start >= 30))
        dev = self.lat.ema[cand] - self.acc.mu[cand]
        p_up = p.upgrade_rate * np.exp(0.8 * np.clip(dev, -2, 1))
        # annual contracts only shrink at renewal
        p_down = p.downgrade_rate * np.exp(1.5 * np.clip(-dev, 0, 3)) * (led.term[cand] == 0)
        u = rng.random(cand.size)
        for sign, hit in ((1, u < p_up), (-1, (u >= p_up) & (u < p_up + p_down))):
            idx = cand[hit]
            if not idx.size:
                continue
            plan, seats = led.plan[idx].astype(np.int64), led.seats[idx]
            tier = (rng.random(idx.size) < 0.4) & (plan + sign >= 0) & (plan + sign <= 3)
            factor = rng.uniform(1.1, 1.6, idx.size) if sign > 0 else rng.uniform(0.5, 0.9, idx.size)
            new_seats = np.where(tier, seats, np.maximum(1, np.rint(seats * factor)))
            new_seats = np.where(~tier & (new_seats == seats), seats + sign, new_seats)
            led.change(idx, day, np.where(tier, plan + sign, plan), np.maximum(1, new_seats))

    def _latent_step(self, day: int) -> None:
        p, lat, rng, n = self.p, self.lat, self.rng, self.acc.n
        target = self.acc.mu - lat.shift * lat.decline
        # Ornstein-Uhlenbeck steps; the noise scale keeps the stationary sd fixed
        lat.h += ((target - lat.h) / p.tau_health
                  + p.sd_health * np.sqrt(2 / p.tau_health) * rng.standard_normal(n))
        lat.ema += (lat.h - lat.ema) / p.tau_ema
        lat.slow += (lat.h - lat.slow) / p.tau_slow
        lat.sentiment += (-lat.sentiment / p.tau_sentiment
                          + np.sqrt(2 / p.tau_sentiment) * rng.standard_normal(n))
        lat.unpredictable += (-lat.unpredictable / p.tau_unpredictable
                              + np.sqrt(2 / p.tau_unpredictable) * rng.standard_normal(n))
        u = rng.random(n)
        p_start = p.decline_rate * np.exp(-0.5 * self.acc.quality) * (1 + (self.sup.open_urgent > 0))
        starts = ~lat.decline & (u < p_start) & (self.acc.created_day <= day)
        stops = lat.decline & (u < p.recover_rate)
        lat.shift[starts] = rng.uniform(*p.decline_shift, int(starts.sum()))
        lat.decline[starts] = True
        lat.decline[stops] = False

    def _snapshot(self, day: int) -> None:
        """Record the oracle: P(churn in (day, day + horizon]) with the latent state held fixed."""
        p, led, horizon = self.p, self.led, self.p.truth_horizon_days
        idx = np.flatnonzero(led.active)
        contrib = contributions(p, self.acc, self.lat, self.sup.open_urgent, led.term, idx, day)
        term = led.term[idx]
        # renewal points: the next one, then every month anniversary of a monthly row
        points = np.stack([led.next_renew[idx]] + [
            np.where(term == 0, self.cal.add_months(led.start[idx], led.months[idx] + j), FAR)
            for j in range(1, horizon // 28 + 2)], axis=1)
        ahead = points <= day + horizon
        if p.churn_season_amplitude:
            shift = self.churn_shift(np.minimum(points, day + horizon))
            decision = np.stack([decision_prob(p, contrib, term, shift[:, k]) for k in range(points.shape[1])],
                                axis=1)
        else:
            decision, ahead = decision_prob(p, contrib, term), ahead.sum(axis=1)
        survive = 1.0
        if p.anytime_share:
            keep = 1.0 - p.return_prob * p.return_fast_share
            survive = np.prod([1.0 - keep * daily_hazard(p, contrib, term, self.churn_shift(day + k))
                               for k in range(1, horizon + 1)], axis=0)
        prob = horizon_prob(p, decision, ahead, survive)
        if self.cs is not None:
            self.cs.list_accounts(idx, prob, day, contrib)
        self._truth.append((idx, np.full(idx.size, day), prob, dominant_driver(contrib), contrib))

    def snapshot_days(self) -> set:
        """Days on which the truth is recorded: month starts, or Mondays."""
        if self.p.truth_frequency == "weekly":
            return set(np.flatnonzero(self.cal.weekday(np.arange(self.days)) == 0).tolist())
        return set(self.cal.month_starts(self.days).tolist())

    def run(self, progress=None) -> dict:
        """Run the simulation.

        Returns
        -------
        dict
            ``H`` and ``active`` (period days x accounts: latent log engagement
            and subscription coverage), ``rows`` (subscriptions),
            ``tickets``, ``nps``, ``truth`` and ``churn`` (account, day of every churn event).
        """
        acc, sup, led = self.acc, self.sup, self.led
        snapshots, total = self.snapshot_days(), self.days + lookahead(self.p)
        weekend = self.cal.weekday(np.arange(total)) >= 5
        for day in range(total):
            sup.start_day(day)
            lo, hi = np.searchsorted(acc.created_day, [day, day + 1])
            if hi > lo:
                new = np.arange(lo, hi)
                led.open(new, day, acc.term0[new], acc.plan0[new], acc.seats[new])
            self._returns(day)
            if self.cs is not None:
                lost = self.cs.calls_lost(day)
                lost = lost[self.led.active[lost]]
                if lost.size:
                    self._leave(lost, day)
            self._renewals(day)
            if self.p.anytime_share:
                self._cancellations(day)
            if day in snapshots:
                self._snapshot(day)
            self._plan_changes(day)
            self._latent_step(day)
            act = np.flatnonzero(led.active & (acc.created_day < day))
            sup.tickets(day, act, self.unhealth(act), bool(weekend[day]))
            surv = act[((day - acc.survey_phase[act]) % self.p.survey_every == 0)
                       & (day - acc.created_day[act] >= 45)]
            if surv.size:
                sat = satisfaction(self.p, acc.quality[surv], acc.mu[surv], self.lat.ema[surv],
                                   self.lat.sentiment[surv], sup.open_urgent[surv])
                sup.surveys(day, surv, sat)
            if day < self.days:
                self.H[day] = self.lat.h
                self.active[day] = led.active
            if progress and day % 100 == 0:
                progress(f"simulated day {day}/{total}")
        rows = led.rows()
        ev_acc, ev_day = churn_events(rows["acc"], rows["start"], rows["end"], GRACE)
        truth = {k: np.concatenate([t[i] for t in self._truth])
                 for i, k in enumerate(("acc", "day", "prob", "driver", "push"))}
        truth["churned"] = horizon_labels(ev_acc, ev_day, truth["acc"], truth["day"], self.p.truth_horizon_days)
        return {"H": self.H, "active": self.active, "rows": rows, "tickets": sup.ticket_table(),
                "nps": sup.nps_table(), "truth": truth, "churn": (ev_acc, ev_day), "outreach": self.cs}
