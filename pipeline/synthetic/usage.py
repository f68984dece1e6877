"""Product usage events, generated one batch of accounts at a time."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from .accounts import Accounts
from .dates import SECONDS_PER_DAY, Calendar, business_seconds
from .params import HOUR_WEIGHTS, REGION_UTC_OFFSET, WorldParams

SCHEMA = pa.schema([("account_id", pa.string()), ("occurred_at", pa.timestamp("us")),
                    ("event_type", pa.string()), ("user_id", pa.string()), ("quantity", pa.float64())])


def day_factor(p: WorldParams, cal: Calendar, days: int) -> np.ndarray:
    """Relative activity per day: quiet weekends, a year-end lull (and ``extra_lulls``), optionally a seasonal swing."""
    d = np.arange(days)
    lull = cal.holiday(d) | cal.in_ranges(d, p.extra_lulls)
    factor = (np.where(cal.weekday(d) >= 5, p.weekend_factor, 1.0)
              * np.where(lull, p.holiday_factor, 1.0))
    if p.usage_season_amplitude:
        factor = factor * (1.0 - p.usage_season_amplitude * cal.season(d, p.usage_season_trough_doy))
    return factor


def _rates(p, acc: Accounts, sl: slice, H, active, factor):
    """Expected events and the active-user pool per (account, day) of batch ``sl``."""
    h = H[:, sl].T.astype(np.float64)
    days = h.shape[1]
    d = np.arange(days)[None, :]
    done = acc.done[sl]
    # users get onto the product as the integration goes live and the team rolls out
    adoption = 0.35 + 0.25 * (d >= done[:, 1:2]) + 0.4 * (d >= done[:, 3:4])
    live = active[:, sl].T & (d > acc.created_day[sl, None])
    users = acc.users[sl, None] * adoption
    relative = np.exp(h - acc.mu[sl, None])
    lam = p.events_per_user_day * users * np.exp(h) * factor[None, :] * live
    pool = np.maximum(1, np.rint(users * np.clip(0.3 + 0.7 * relative, 0.1, 1.0))).astype(np.int64)
    return lam, pool, np.clip(relative, 0.0, 1.0)


def expected_events(p, acc: Accounts, H, active, factor, chunk: int) -> float:
    """Expected number of events at the natural rate (scale 1)."""
    total = 0.0
    for lo in range(0, acc.n, chunk):
        total += float(_rates(p, acc, slice(lo, min(lo + chunk, acc.n)), H, active, factor)[0].sum())
    return total


def _dictionary(indices: np.ndarray, values: list, mask=None) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32(), mask=mask),
                                          pa.array(values, pa.string()))


def usage_batch(rng: np.random.Generator, p: WorldParams, acc: Accounts, ids: np.ndarray,
                sl: slice, H, active, factor, cal: Calendar, scale: float) -> pa.Table:
    """Generate the usage events of accounts ``sl``, sorted by account and time.

    Per (account, day) the event count is Poisson; each event goes to a user of
    the day's active pool (skewed towards power users) and gets a type from a mix
    that shifts towards shallow events as engagement falls. The sum of these
    draws equals independent Poisson counts per user and event type.

    Parameters
    ----------
    rng : numpy.random.Generator
    p : WorldParams
    acc : Accounts
    ids : ndarray of str
        Account ids of all accounts.
    sl : slice
        The batch of accounts.
    H, active : ndarray, shape (days, accounts)
        Latent log engagement and subscription coverage per day.
    factor : ndarray, shape (days,)
        Weekday / holiday factor.
    cal : Calendar
    scale : float
        Multiplier of the per-user event rate.

    Returns
    -------
    pyarrow.Table
        Columns of :data:`SCHEMA`; string columns are dictionary encoded.
    """
    lam, pool, engaged = _rates(p, acc, sl, H, active, factor)
    days = lam.shape[1]
    counts = rng.poisson(lam * scale).ravel()
    cells = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    local, day = np.divmod(cells, days)
    m = cells.size
    user = (pool.ravel()[cells] * rng.random(m) ** 1.6).astype(np.int64)
    u = rng.random(m)
    mix_on, mix_off = p.event_mix_engaged, p.event_mix_disengaged
    etype = np.where(rng.random(m) < engaged.ravel()[cells],
                     np.searchsorted(np.cumsum(mix_on), u * sum(mix_on)),
                     np.searchsorted(np.cumsum(mix_off), u * sum(mix_off)))
    etype = np.minimum(etype, len(p.event_types) - 1)
    secs = business_seconds(rng, acc.region[sl][local], REGION_UTC_OFFSET, HOUR_WEIGHTS)
    quantity = np.ones(m)
    api = np.flatnonzero(etype == p.event_types.index(p.batched_event))
    quantity[api] = rng.geometric(0.15, api.size)  # API calls arrive in batches
    order = np.argsort((local * days + day) * SECONDS_PER_DAY + secs, kind="stable")
    local, day, secs, etype, user, quantity = (a[order] for a in (local, day, secs, etype, user, quantity))
    n_users = acc.users[sl].astype(np.int64)
    offset = np.concatenate([[0], np.cumsum(n_users)[:-1]])
    batch_ids = ids[sl]
    user_names = [f"{a}-u{k + 1:03d}" for a, n in zip(batch_ids, n_users) for k in range(n)]
    stamp = (cal.epoch_seconds(day, secs) * 1_000_000).astype(np.int64)
    return pa.table([
        _dictionary(local, list(batch_ids)),
        pa.array(stamp, pa.timestamp("us")),
        _dictionary(etype, list(p.event_types)),
        # syncs run unattended
        _dictionary(offset[local] + user, user_names, mask=etype == p.event_types.index(p.unattended_event)),
        pa.array(quantity, pa.float64()),
    ], names=SCHEMA.names)
