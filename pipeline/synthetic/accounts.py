"""Static account attributes and onboarding milestone plans."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import WorldParams

NEVER = np.iinfo(np.int32).max // 2  # "milestone never completed"

_NAME_A = ("Blue", "North", "Silver", "Bright", "Iron", "Clear", "Swift", "Green", "Red",
           "Summit", "Atlas", "Nova", "Pine", "Harbor", "Cedar", "Quantum", "Lunar", "Solar",
           "Granite", "Coral", "Amber", "Polar", "Vivid", "True", "Prime", "Urban", "Open",
           "Golden", "Crystal", "Rapid", "Stone", "Maple", "Falcon", "Echo", "Orbit", "Vertex",
           "Delta", "Copper", "Oak", "Meridian")
_NAME_B = ("Peak", "Wave", "Bridge", "Field", "Path", "Forge", "Point", "Works", "Leaf",
           "Rock", "Line", "Gate", "Stream", "Spark", "Ridge", "Bay", "Grid", "Port", "Hill",
           "Loop", "Mill", "Labs", "Shore", "Vale", "Crest", "Arc", "Scale", "Signal")
_NAME_C = ("Inc", "Ltd", "GmbH", "Group", "Systems", "Analytics", "Logistics", "Health",
           "Partners", "Solutions", "Foods", "Media", "Capital", "Energy")


@dataclass
class Accounts:
    """Static account attributes; index i is the account with the i-th smallest id.

    Day values are offsets from the simulation start (negative = before it).
    """

    created_day: np.ndarray
    created_sec: np.ndarray
    segment: np.ndarray
    region: np.ndarray
    industry: np.ndarray
    term0: np.ndarray
    plan0: np.ndarray
    seats: np.ndarray
    users: np.ndarray
    csm: np.ndarray
    quality: np.ndarray
    mu: np.ndarray
    friction: np.ndarray
    survey_phase: np.ndarray
    due: np.ndarray
    done: np.ndarray
    done_sec: np.ndarray
    names: np.ndarray

    @property
    def n(self) -> int:
        """Number of accounts."""
        return self.created_day.shape[0]

    def ids(self) -> np.ndarray:
        """Return account ids ``A00001``, ... (zero padded, sortable)."""
        width = max(5, len(str(self.n)))
        return np.array([f"A{i + 1:0{width}d}" for i in range(self.n)])


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    combos = len(_NAME_A) * len(_NAME_B) * len(_NAME_C)
    pick = rng.permutation(combos)[: min(n, combos)]
    if n > combos:
        pick = np.concatenate([pick, rng.integers(0, combos, n - combos)])
    a, rest = np.divmod(pick, len(_NAME_B) * len(_NAME_C))
    b, c = np.divmod(rest, len(_NAME_C))
    names = np.array([f"{_NAME_A[i]}{_NAME_B[j].lower()} {_NAME_C[k]}" for i, j, k in zip(a, b, c)],
                     dtype=object)
    if n > combos:  # keep display names unique beyond the word-list capacity
        names[combos:] = [f"{s} {i + 2}" for i, s in enumerate(names[combos:])]
    return names


def _milestones(rng, p: WorldParams, created: np.ndarray, q: np.ndarray):
    n, m = created.shape[0], len(p.milestones)
    due = created[:, None] + np.asarray(p.milestone_due)[None, :]
    idx = np.arange(m)[None, :]
    # Poor onboarding quality -> skipped milestones; a skipped step blocks the later ones.
    never = rng.random((n, m)) < 1 / (1 + np.exp(4.0 - 0.5 * idx + 1.3 * q[:, None]))
    never = np.logical_or.accumulate(never, axis=1)
    late = np.exp(rng.normal(1.4 - 0.9 * q[:, None] + 0.25 * idx, 0.7)) - 6.0
    done = np.rint(due + late).astype(np.int64)
    done = np.maximum(done, created[:, None] + 1)
    done = np.maximum.accumulate(done, axis=1)
    done = np.where(never, NEVER, done).astype(np.int32)
    return due.astype(np.int32), done


def make_accounts(rng: np.random.Generator, n: int, days: int, p: WorldParams,
                  business_sec) -> Accounts:
    """Draw the account population.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Number of accounts.
    days : int
        Length of the simulated period.
    p : WorldParams
    business_sec : callable
        ``business_sec(region_array) -> seconds of day`` in UTC.

    Returns
    -------
    Accounts
        Sorted by creation time, so ids grow with account age.
    """
    n_new = int(round(n * days / (days + 900) if p.new_share is None else n * p.new_share))
    tenure = 30 + rng.exponential(550, n - n_new) % (5 * 365 - 30)  # at most five years
    arrival = rng.random(n_new) ** p.arrival_power  # power < 1: arrivals pile up late (growth)
    created = np.concatenate([-np.ceil(tenure), 1 + np.floor((days - 1) * arrival)])
    created = np.minimum(created, days - 1).astype(np.int64)
    region = rng.choice(len(p.region_share), n, p=p.region_share)
    created_sec = business_sec(region)
    order = np.lexsort((created_sec, created))
    created, created_sec, region = created[order], created_sec[order], region[order]

    segment = rng.choice(3, n, p=p.segment_share)
    seats = np.rint(np.exp(rng.normal(np.log(np.asarray(p.seats_median)[segment]), 0.55)))
    seats = np.clip(seats, np.array([2, 12, 60])[segment], np.array([40, 300, 3000])[segment])
    users = np.maximum(1, np.rint(seats * rng.uniform(0.45, 1.0, n)))
    term0 = (rng.random(n) >= np.asarray(p.monthly_share)[segment]).astype(np.int8)
    plan0 = np.array([0, 1, 2])[segment] + (rng.random(n) < np.array([0.4, 0.5, 0.6])[segment])
    csm = np.where(rng.random(n) < np.asarray(p.csm_missing)[segment], -1,
                   rng.integers(0, 12, n)).astype(np.int8)
    quality = rng.normal(0.0, 1.0, n)
    due, done = _milestones(rng, p, created, quality)
    return Accounts(
        created_day=created, created_sec=created_sec, segment=segment.astype(np.int8),
        region=region.astype(np.int8), industry=rng.integers(0, 10, n).astype(np.int8),
        term0=term0, plan0=plan0.astype(np.int8), seats=seats.astype(np.int32),
        users=users.astype(np.int32), csm=csm, quality=quality,
        mu=0.45 * quality + rng.normal(0.0, 0.45, n), friction=np.exp(rng.normal(0.0, 0.5, n)),
        survey_phase=rng.integers(0, p.survey_every, n), due=due, done=done,
        done_sec=np.stack([business_sec(region) for _ in p.milestones], axis=1),
        names=_names(rng, n),
    )
