"""Named worlds: presets of the generator, declared as data.

A preset is a set of :class:`~pipeline.synthetic.params.WorldParams` overrides plus
defaults for :func:`~pipeline.synthetic.world.generate_world`'s own arguments
(``days``, ``start_date``). Explicit arguments always win over the preset, and
``params=`` overrides win over the preset's parameters. Every preset writes the
truth (``_truth/truth.parquet``): the oracle's churn probability per account and
snapshot date, at the preset's truth frequency and horizon.

The zoo exists to measure the pipeline on worlds it was not tuned on
(``make quality``, ``benchmarks/quality.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType

from .params import OPTIONAL_TABLES, WorldParams


@dataclass(frozen=True)
class Preset:
    """One named world.

    Attributes
    ----------
    description : str
        What makes this world different, in one line.
    params : mapping
        Overrides of :class:`WorldParams` fields.
    world : mapping
        Defaults of ``generate_world`` arguments (``accounts``, ``days``, ``start_date``).
    """

    description: str
    params: dict = field(default_factory=dict)
    world: dict = field(default_factory=dict)


#: Another product: a collaboration tool instead of a reporting tool. Same engagement
#: model, other names, another mix (more shallow page views, fewer deep actions).
VOCAB_EVENTS = ("session_start", "page_view", "search", "document_edit", "file_upload",
                "webhook_delivery", "calendar_sync", "share_link", "task_complete", "mention")
VOCAB_MIX_ENGAGED = (0.14, 0.24, 0.08, 0.14, 0.05, 0.08, 0.06, 0.04, 0.11, 0.06)
VOCAB_MIX_DISENGAGED = (0.34, 0.36, 0.07, 0.05, 0.02, 0.05, 0.05, 0.01, 0.03, 0.02)
VOCAB_MILESTONES = ("contract_signed", "sso_configured", "first_workflow", "pilot_team_live")

PRESETS: MappingProxyType = MappingProxyType({
    "demo": Preset("today's default: monthly and annual terms, churn at renewals, every table"),
    "monthly": Preset(
        "monthly terms only (new and returning customers)",
        params={"monthly_share": (1.0, 1.0, 1.0), "return_annual_share": 0.0},
    ),
    "annual": Preset(
        "annual terms only (new and returning customers)",
        params={"monthly_share": (0.0, 0.0, 0.0), "return_annual_share": 1.0},
    ),
    "short": Preset(
        "six months of history; weekly truth (Mondays) with a 30-day horizon",
        params={"truth_frequency": "weekly", "truth_horizon_days": 30},
        world={"days": 183},
    ),
    "growth": Preset(
        "fast growth: 70 % of the accounts arrive during the period, most of them late",
        params={"new_share": 0.7, "arrival_power": 0.35},
    ),
    "seasonal": Preset(
        "seasonal usage (35 % summer dip) and churn (logit +0.6 in December, -0.6 in June)",
        params={"usage_season_amplitude": 0.35, "churn_season_amplitude": 0.6},
    ),
    "summer": Preset(
        "the demo world with a summer shutdown beside the year-end lull: every account's usage halves from "
        "July 21 to August 10, churn unchanged",
        params={"extra_lulls": (("07-21", "08-10"),)},
    ),
    "anytime": Preset(
        "churn at any time: three quarters of the risk acts day by day, a quarter at renewals",
        params={"anytime_share": 0.75},
    ),
    "minimal": Preset(
        "no optional tables (no tickets, milestones, NPS); the churn drivers that live only "
        "there are off and the baseline risk is raised to keep the churn rate",
        params={"optional_tables": (), "beta_onboarding": 0.0, "beta_urgent": 0.0, "beta_detractor": 0.0,
                "b0": -5.2},
    ),
    "vocab": Preset(
        "another product vocabulary: other event types and mix, other milestone names and due days",
        params={"event_types": VOCAB_EVENTS, "event_mix_engaged": VOCAB_MIX_ENGAGED,
                "event_mix_disengaged": VOCAB_MIX_DISENGAGED, "batched_event": "webhook_delivery",
                "unattended_event": "calendar_sync", "milestones": VOCAB_MILESTONES,
                "milestone_due": (5, 21, 60, 120)},
    ),
    "addons": Preset(
        "the demo world written as a billing system does: a base plan plus add-on lines ('Meetings' at 30 %, "
        "'Storage' at 15 % of the base MRR; half the accounts each, added early or later, 30 % removed), add-ons "
        "billed monthly on annual bases half the time, and billing_period_months on every line",
        params={"addon_products": ("Meetings", "Storage"), "addon_price": (0.3, 0.15),
                "billing_period_column": True},
    ),
    "outreach": Preset(
        "the demo world over three years with a CS team: from 2025-01-01 it calls the accounts its risk list "
        "shows (oracle churn probability >= 5 %), except the 'retention-2025' holdout (20 %); a call cuts churn "
        "in the next 90 days by 30 %",
        params={"outreach_experiment": "retention-2025", "outreach_start_day": 731, "outreach_threshold": 0.05,
                "outreach_holdout_share": 0.20, "outreach_contact_share": 0.9, "outreach_holdout_leak": 0.02,
                "outreach_effect": -0.3},
        world={"days": 1096, "start_date": "2023-01-01"},
    ),
    "outreach-varied": Preset(
        "the outreach world where a call's effect differs between accounts (the truth records each listed "
        "account's true uplift): churn driven by onboarding lag or open urgent tickets is very savable (-80 %), "
        "a detractor score half (-40 %), a usage decline a little (-15 %), segment and unpredictable churn (causes "
        "no table shows) not at all; 10 % of the listed accounts react badly (a call drives 30 % of them off); "
        "4,000 accounts, calls from 2024-07-01, a 30 % holdout",
        params={"outreach_experiment": "retention-2025", "outreach_start_day": 547, "outreach_threshold": 0.05,
                "outreach_holdout_share": 0.30, "outreach_contact_share": 0.9, "outreach_holdout_leak": 0.02,
                "outreach_effect": -0.3, "outreach_driver_effect": (-0.15, -0.8, -0.8, -0.4, 0.0, 0.0),
                "outreach_backfire_share": 0.10, "outreach_backfire_loss": 0.3},
        world={"days": 1096, "start_date": "2023-01-01", "accounts": 4000},
    ),
})

_PARAM_NAMES = {f.name for f in fields(WorldParams)}
_WORLD_ARGS = {"accounts", "days", "start_date"}


def preset_names() -> list[str]:
    """Names of every preset, ``demo`` first."""
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called ``name``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown world preset '{name}'; known presets: {', '.join(PRESETS)}") from None


def world_params(name: str = "demo", overrides: dict | None = None) -> WorldParams:
    """The :class:`WorldParams` of preset ``name`` with ``overrides`` applied on top.

    Raises
    ------
    ValueError
        For an unknown preset or parameter name, or inconsistent values.
    """
    merged = {**get_preset(name).params, **(overrides or {})}
    unknown = sorted(set(merged) - _PARAM_NAMES)
    if unknown:
        raise ValueError(f"unknown WorldParams field(s): {', '.join(unknown)}")
    return replace(WorldParams(), **merged)


def world_defaults(name: str) -> dict:
    """The preset's defaults for ``generate_world`` arguments (``days``...)."""
    world = dict(get_preset(name).world)
    assert set(world) <= _WORLD_ARGS, world
    return world


def written_tables(p: WorldParams) -> tuple[str, ...]:
    """The contract tables a world with parameters ``p`` writes."""
    return ("accounts", "subscriptions", *[t for t in OPTIONAL_TABLES if t in p.optional_tables], "usage_events")
