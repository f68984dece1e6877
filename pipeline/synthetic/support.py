"""Support tickets and NPS survey responses, drawn day by day from the latent state."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from .dates import SECONDS_PER_DAY
from .params import WorldParams

_MEDIAN_HOURS = np.array([72.0, 30.0, 12.0, 5.0])  # low, normal, high, urgent


def _concat(parts: list, names: tuple) -> dict:
    if not parts:
        return {k: np.zeros(0) for k in names}
    return {k: np.concatenate([p[i] for p in parts]) for i, k in enumerate(names)}


class Support:
    """Draws tickets and survey responses and tracks aged open urgent tickets.

    Parameters
    ----------
    p : WorldParams
    acc : Accounts
    rng : numpy.random.Generator
    business_sec : callable
        ``business_sec(region_array) -> seconds of day`` in UTC.
    """

    TICKET_COLS = ("acc", "created", "resolved", "priority", "csat")
    NPS_COLS = ("acc", "responded", "score")

    def __init__(self, p: WorldParams, acc, rng, business_sec):
        self.p, self.acc, self.rng, self.business_sec = p, acc, rng, business_sec
        self.open_urgent = np.zeros(acc.n, np.int64)
        self._schedule: dict[int, list] = defaultdict(list)
        self._tickets: list[tuple] = []
        self._nps: list[tuple] = []

    def start_day(self, day: int) -> None:
        """Apply urgent tickets turning a week old or getting resolved by ``day``."""
        for idx, step in self._schedule.pop(day, ()):
            np.add.at(self.open_urgent, idx, step)

    def tickets(self, day: int, idx: np.ndarray, unhealth: np.ndarray, weekend: bool) -> None:
        """Draw the tickets opened on ``day`` by active accounts ``idx``.

        ``unhealth`` (aligned with ``idx``) is how far engagement sits below normal
        (log scale, >= 0); it raises the ticket rate, the urgent share and lowers CSAT.
        """
        p, a, rng = self.p, self.acc, self.rng
        young = (day - a.created_day[idx]) < 120
        lam = (np.asarray(p.ticket_rate)[a.segment[idx]] * a.friction[idx] * np.exp(0.6 * unhealth)
               * (1.0 + 0.6 * young) * (0.3 if weekend else 1.0))
        k = rng.poisson(lam)
        if not k.any():
            return
        hit, unh = np.repeat(idx, k), np.repeat(unhealth, k)
        m = hit.size
        p_urgent = np.clip(p.urgent_share * np.exp(0.6 * unh) * np.sqrt(a.friction[hit]), 0, 0.35)
        prio = np.where(rng.random(m) < p_urgent, 3, np.searchsorted([0.3, 0.8], rng.random(m)))
        hours = np.exp(rng.normal(np.log(_MEDIAN_HOURS[prio]), 1.0))
        stuck = (prio == 3) & (rng.random(m) < p.stuck_share)
        hours = np.where(stuck, rng.uniform(45, 500, m) * 24, hours)
        created = day * SECONDS_PER_DAY + self.business_sec(a.region[hit])
        resolved = created + np.rint(hours * 3600).astype(np.int64)
        days_open = hours / 24
        csat = np.clip(np.rint(4.4 - 0.5 * unh - 0.35 * np.log1p(days_open) - 0.3 * (prio == 3)
                               + rng.normal(0, 0.8, m)), 1, 5)
        csat = np.where(rng.random(m) < 0.6, csat, np.nan)
        self._tickets.append((hit, created, resolved, prio.astype(np.int8), csat))
        aged = np.flatnonzero((prio == 3) & (days_open > p.urgent_age_days))
        if aged.size:
            self._schedule[day + p.urgent_age_days].append((hit[aged], 1))
            # grouped by closing day so each schedule entry is one array
            close = resolved[aged] // SECONDS_PER_DAY + 1
            for c in np.unique(close):
                self._schedule[int(c)].append((hit[aged][close == c], -1))

    def surveys(self, day: int, idx: np.ndarray, sat: np.ndarray) -> None:
        """Send the quarterly survey to ``idx``; ``sat`` is their latent expected score."""
        p, a, rng = self.p, self.acc, self.rng
        k = rng.binomial(np.asarray(p.survey_contacts)[a.segment[idx]], p.response_rate)
        if not k.any():
            return
        hit, s = np.repeat(idx, k), np.repeat(sat, k)
        m = hit.size
        score = np.clip(np.rint(s + rng.normal(0, p.nps_noise, m)), 0, 10).astype(np.int8)
        when = (day + rng.integers(0, 10, m)) * SECONDS_PER_DAY + self.business_sec(a.region[hit])
        self._nps.append((hit, when, score))

    def ticket_table(self) -> dict:
        """All tickets; times are seconds from the simulation start."""
        return _concat(self._tickets, self.TICKET_COLS)

    def nps_table(self) -> dict:
        """All survey responses; times are seconds from the simulation start."""
        return _concat(self._nps, self.NPS_COLS)
