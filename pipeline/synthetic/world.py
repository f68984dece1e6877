"""Entry point: generate a complete synthetic B2B SaaS world into a folder."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .accounts import make_accounts
from .dates import Calendar, business_seconds
from .params import DRIVERS, HOUR_WEIGHTS, OPTIONAL_TABLES, PLANS, REGION_UTC_OFFSET
from .presets import world_defaults, world_params, written_tables
from .simulate import GRACE, Simulation, lookahead
from .usage import day_factor, expected_events, usage_batch
from .addons import add_lines
from .writer import (accounts_frame, milestones_frame, nps_frame, subscriptions_frame, tickets_frame,
                     truth_table, write_csv, write_json, write_parquet)

GENERATOR_VERSION = 1


DEFAULTS = {"accounts": 2000, "days": 730, "start_date": "2024-01-01"}


def generate_world(out_dir, *, accounts: int | None = None, days: int | None = None, seed: int = 0,
                   start_date: str | None = None, events: int | None = None,
                   chunk_accounts: int = 500, progress=None, preset: str = "demo",
                   params: dict | None = None) -> dict:
    """Simulate a B2B SaaS customer base and write its raw tables and hidden truth.

    Parameters
    ----------
    out_dir : str or Path
        Output folder (created). Receives ``accounts.csv``, ``subscriptions.csv``,
        ``support_tickets.csv``, ``milestones.csv``, ``nps_responses.csv`` (the
        optional tables the preset keeps), ``usage_events/part-NNNNN.parquet`` and
        ``_truth/{truth.parquet,world.json}``.
    accounts : int, optional
        Number of accounts (existing customers at the start plus new arrivals);
        default 2000 (or the preset's).
    days : int, optional
        Length of the period ``[start_date, start_date + days)``; default 730 (or the preset's).
    seed : int
        Non-negative seed; the same arguments give byte-identical files.
    start_date : str, optional
        ISO date of the first simulated day; default 2024-01-01 (or the preset's).
    events : int, optional
        Approximate total number of usage events; scales the per-user event
        rate. ``None`` keeps the natural rate (about 1,500 events per account-year).
    chunk_accounts : int
        Accounts per usage batch and per Parquet part; bounds memory. Changing it
        changes the random draws of the events (not of anything else).
    progress : callable, optional
        Called with a short message after each step.
    preset : str
        A named world of :data:`~pipeline.synthetic.presets.PRESETS` (``demo``,
        ``monthly``, ``annual``, ``short``, ``growth``, ``seasonal``, ``anytime``,
        ``minimal``, ``vocab``); ``demo`` is the world this function always made.
    params : dict, optional
        :class:`~pipeline.synthetic.params.WorldParams` overrides on top of the preset.

    Returns
    -------
    dict
        ``tables`` (rows per table), ``churned_accounts`` (accounts with at least
        one churn in the period), ``churn_events``, ``data_start``, ``data_end``
        (exclusive), ``event_scale``, ``seconds``, ``out_dir`` and ``preset``.
    """
    p = world_params(preset, params)
    chosen = {**DEFAULTS, **world_defaults(preset)}
    accounts = chosen["accounts"] if accounts is None else accounts
    days = chosen["days"] if days is None else days
    start_date = chosen["start_date"] if start_date is None else start_date
    if accounts < 1 or days < 2 or chunk_accounts < 1 or seed < 0:
        raise ValueError("accounts, days (>= 2), chunk_accounts must be positive and seed >= 0")
    if events is not None and events <= 0:
        raise ValueError("events must be positive or None")
    t0 = time.perf_counter()
    say = progress or (lambda msg: None)
    out = Path(out_dir)
    (out / "usage_events").mkdir(parents=True, exist_ok=True)
    (out / "_truth").mkdir(exist_ok=True)
    for stale in [*(out / "usage_events").glob("part-*.parquet"),
                  *(out / f"{name}.csv" for name in OPTIONAL_TABLES if name not in p.optional_tables),
                  out / "cs_activities.csv", out / "_truth" / "outreach.parquet"]:
        stale.unlink(missing_ok=True)

    cal = Calendar(start_date)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))

    def bsec(region):
        return business_seconds(rng, region, REGION_UTC_OFFSET, HOUR_WEIGHTS)

    acc = make_accounts(rng, accounts, days, p, bsec)
    sim = Simulation(p, acc, cal, days, rng, bsec,
                     outreach_rng=np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))).run(say)
    ids = acc.ids()
    rows = sim["rows"]
    if p.addon_products:  # their own random stream: the rest of the world is the same seed's
        rows = add_lines(rows, p, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(3,))), days,
                         len(PLANS))
    say("simulation done; writing tables")
    frames = {
        "accounts": accounts_frame(acc, ids, cal),
        "subscriptions": subscriptions_frame(rows, ids, cal, days, PLANS + tuple(p.addon_products),
                                             p.billing_period_column),
        "support_tickets": tickets_frame(sim["tickets"], ids, cal, days),
        "milestones": milestones_frame(acc, ids, cal, days, p.milestones),
        "nps_responses": nps_frame(sim["nps"], ids, cal, days),
    }
    frames = {name: frame for name, frame in frames.items() if name in written_tables(p)}
    if sim["outreach"] is not None:
        frames["cs_activities"] = sim["outreach"].activities(ids, cal, days)
        sim["outreach"].truth(ids, cal).to_parquet(out / "_truth" / "outreach.parquet", index=False)
    for name, frame in frames.items():
        write_csv(frame, out / f"{name}.csv")
    counts = {name: len(frame) for name, frame in frames.items()}
    del frames

    factor = day_factor(p, cal, days)
    natural = expected_events(p, acc, sim["H"], sim["active"], factor, chunk_accounts)
    scale = 1.0 if events is None or natural <= 0 else events / natural
    n_events = 0
    for part, lo in enumerate(range(0, accounts, chunk_accounts)):
        batch_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, part)))
        table = usage_batch(batch_rng, p, acc, ids, slice(lo, min(lo + chunk_accounts, accounts)),
                            sim["H"], sim["active"], factor, cal, scale)
        write_parquet(table, out / "usage_events" / f"part-{part:05d}.parquet")
        n_events += table.num_rows
        say(f"usage part {part}: {table.num_rows:,} events ({n_events:,} total)")
        del table
    counts["usage_events"] = n_events

    truth = truth_table(sim["truth"], ids, cal)
    write_parquet(truth, out / "_truth" / "truth.parquet")
    counts["truth"] = truth.num_rows
    ev_acc, ev_day = sim["churn"]
    in_period = ev_day < days
    data_end = str(cal.dates(days))
    write_json({
        "generator": "pipeline.synthetic", "version": GENERATOR_VERSION, "seed": seed, "preset": preset,
        "accounts": accounts, "days": days, "start_date": str(cal.dates(0)), "data_end": data_end,
        "last_day": str(cal.dates(days - 1)), "events_target": events, "event_scale": scale,
        "chunk_accounts": chunk_accounts, "horizon_days": p.truth_horizon_days, "grace_days": GRACE,
        "truth_frequency": p.truth_frequency, "oracle": "true_churn_prob",
        "lookahead_days": lookahead(p), "drivers": list(DRIVERS), "event_types": list(p.event_types),
        "milestones": dict(zip(p.milestones, p.milestone_due)), "params": p.to_dict(), "tables": counts,
    }, out / "_truth" / "world.json")
    summary = {
        "tables": counts, "churned_accounts": int(np.unique(ev_acc[in_period]).size),
        "churn_events": int(in_period.sum()), "data_start": str(cal.dates(0)), "data_end": data_end,
        "event_scale": scale, "seconds": round(time.perf_counter() - t0, 3), "out_dir": str(out),
        "preset": preset,
    }
    say(f"done in {summary['seconds']:.1f}s")
    return summary
