"""Vocabularies and causal coefficients of the synthetic SaaS world.

Everything that shapes the generated data lives here so that ``world.json``
can record it and experiments can override it in one place.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
REGION_UTC_OFFSET = (-5, 1, 8, -3)  # hours; local business hours -> UTC
INDUSTRIES = ("Software", "Financial Services", "Healthcare", "Retail", "Manufacturing",
              "Education", "Media", "Logistics", "Professional Services", "Non-profit")
PLANS = ("Starter", "Team", "Business", "Enterprise")
PLAN_PRICE = (12.0, 25.0, 45.0, 70.0)  # per seat and month
TERMS = ("monthly", "annual")
MILESTONES = ("kickoff", "integration_live", "first_report", "team_rollout")
MILESTONE_DUE = (7, 30, 45, 90)  # days after account creation
EVENT_TYPES = ("login", "dashboard_view", "report_view", "export", "api_call",
               "integration_sync", "invite_user", "comment")
# Event mix of an engaged account vs. a disengaged one (mostly logins and glances).
EVENT_MIX_ENGAGED = (0.20, 0.22, 0.18, 0.07, 0.12, 0.09, 0.03, 0.09)
EVENT_MIX_DISENGAGED = (0.42, 0.30, 0.10, 0.03, 0.06, 0.04, 0.01, 0.04)
PRIORITIES = ("low", "normal", "high", "urgent")
OPTIONAL_TABLES = ("support_tickets", "milestones", "nps_responses")
DRIVERS = ("usage_decline", "onboarding_lag", "open_urgent_tickets", "detractor_nps",
           "segment", "unpredictable")
CSM_NAMES = ("Alice Moreau", "Ben Okafor", "Chiara Rossi", "Daniel Kim", "Elena Petrova",
             "Farid Haddad", "Grace Lin", "Hugo Schmidt", "Isabel Ortega", "Jonas Berg",
             "Kavya Iyer", "Liam O'Connor")
# Share of local-time activity per hour of day (business hours peak, lunch dip).
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 18, 16, 11, 15, 17, 16, 13, 9, 6, 5, 4, 3, 2, 1)


@dataclass(frozen=True)
class WorldParams:
    """Coefficients of the generator (rates are per day unless noted)."""

    # population
    segment_share: tuple = (0.6, 0.3, 0.1)
    monthly_share: tuple = (0.7, 0.35, 0.1)  # per segment; the rest is annual
    region_share: tuple = (0.45, 0.3, 0.15, 0.1)
    csm_missing: tuple = (0.35, 0.08, 0.0)
    seats_median: tuple = (8.0, 45.0, 250.0)
    # latent engagement h (log scale): OU around mu, decline episodes shift the target
    tau_health: float = 12.0
    sd_health: float = 0.25
    tau_ema: float = 14.0
    tau_slow: float = 60.0
    decline_rate: float = 0.0011
    decline_shift: tuple = (1.0, 3.0)
    recover_rate: float = 0.01
    tau_sentiment: float = 120.0
    tau_unpredictable: float = 90.0
    # churn hazard: monthly logit = b0 + sum of driver contributions
    b0: float = -5.95
    beta_usage_trend: float = 1.5  # per log unit the 2-week average sits below the 2-month one
    beta_usage_drop: float = 0.8  # per log unit below the account's own normal level
    beta_usage_level: float = 0.8
    usage_floor: float = -0.6
    beta_onboarding: float = 0.6
    beta_urgent: float = 1.0
    beta_detractor: float = 0.6  # per NPS point of latent satisfaction below 7
    segment_effect: tuple = (0.5, 0.2, 0.0)
    monthly_effect: float = 0.2
    sigma_unpredictable: float = 1.0
    annual_exponent: float = 6.0  # annual renewal risk = 1 - (1 - monthly risk) ** this
    # churn-then-return
    return_prob: float = 0.3
    return_fast_share: float = 0.45
    return_fast_gap: tuple = (1, 25)
    return_slow_gap: tuple = (40, 150)
    # plan changes
    upgrade_rate: float = 0.12 / 365
    downgrade_rate: float = 0.05 / 365
    annual_downgrade_at_renewal: float = 0.08
    # usage
    events_per_user_day: float = 0.12
    weekend_factor: float = 0.25
    holiday_factor: float = 0.5  # usage on the Dec 24 - Jan 1 lull days (and on ``extra_lulls``)
    extra_lulls: tuple = ()  # more lulls every year, as ("MM-DD", "MM-DD") first and last day (inclusive)
    # support tickets
    ticket_rate: tuple = (0.02, 0.05, 0.12)
    urgent_share: float = 0.05
    stuck_share: float = 0.3
    urgent_age_days: int = 7
    # NPS
    survey_every: int = 91
    survey_contacts: tuple = (1, 2, 3)
    response_rate: float = 0.4
    nps_base: float = 7.9
    nps_sentiment: float = 1.4
    nps_health: float = 0.9
    nps_urgent: float = 0.8
    nps_noise: float = 1.3
    # --- world variants (presets.py); the defaults are the demo world ---
    new_share: float | None = None  # accounts created within the period; None = days / (days + 900)
    arrival_power: float = 0.8  # creation day = days * u ** power: below 1 skews arrivals late
    return_annual_share: float = 0.3  # returning customers who sign an annual term
    anytime_share: float = 0.0  # share of the churn risk that acts on any day instead of at renewals
    usage_season_amplitude: float = 0.0  # relative dip of usage at the trough of the year
    usage_season_trough_doy: int = 213  # day of year of the usage low (early August)
    churn_season_amplitude: float = 0.0  # added to the churn logit at the peak, subtracted half a year off
    churn_season_peak_doy: int = 350  # day of year of the highest churn risk (budget season)
    optional_tables: tuple = OPTIONAL_TABLES  # which optional contract tables are written
    # --- add-on lines beside the base plan (addons.py): none by default ---
    addon_products: tuple = ()  # plan names of the add-on lines
    addon_price: tuple = ()  # MRR of each add-on as a share of the base row's MRR
    addon_share: float = 0.5  # accounts with each add-on
    addon_early_share: float = 0.5  # of those, added in the account's first two weeks (the rest later)
    addon_drop_share: float = 0.3  # of those, removed before the subscription ends
    addon_monthly_share: float = 0.5  # add-ons billed monthly on an annual base
    billing_period_column: bool = False  # write subscriptions.billing_period_months
    event_types: tuple = EVENT_TYPES
    event_mix_engaged: tuple = EVENT_MIX_ENGAGED
    event_mix_disengaged: tuple = EVENT_MIX_DISENGAGED
    batched_event: str = "api_call"  # arrives in batches (quantity > 1)
    unattended_event: str = "integration_sync"  # no user_id
    milestones: tuple = MILESTONES  # exactly four: adoption follows the 2nd and the 4th
    milestone_due: tuple = MILESTONE_DUE
    # --- the recorded truth: the oracle's churn probability per account and snapshot ---
    truth_frequency: str = "monthly"  # snapshot dates: first of each month, or "weekly" (Mondays)
    truth_horizon_days: int = 90  # churn within (T, T + horizon]
    # --- the CS team (outreach.py): None = no team, no cs_activities table ---
    outreach_experiment: str | None = None  # the experiment name its holdout hash is keyed by
    outreach_start_day: int = 0  # first day (from the start) of listing and calling
    outreach_threshold: float = 0.10  # oracle churn probability that puts an account on the list
    outreach_holdout_share: float = 0.10  # listed accounts kept off the calls (same hash as the pipeline)
    outreach_contact_share: float = 0.9  # listed outreach accounts a CSM reaches
    outreach_holdout_leak: float = 0.0  # holdout accounts called against the rule
    outreach_delay_days: tuple = (0, 7)  # days from listing to the call
    outreach_effect: float = -0.3  # relative change of a called account's churn within the horizon
    # heterogeneous effect (None = every call has outreach_effect): relative change of churn per driver, in the
    # order of DRIVERS; an account's effect is the mean over its drivers weighted by their share of its logit
    outreach_driver_effect: tuple | None = None
    outreach_backfire_share: float = 0.0  # listed accounts that react badly to being chased (no save then)
    outreach_backfire_loss: float = 0.0  # chance that such an account, once called, cancels on the call day

    def __post_init__(self):
        checks = [
            (len(self.event_mix_engaged) == len(self.event_mix_disengaged) == len(self.event_types),
             "event_types and both event mixes must have the same length"),
            (self.batched_event in self.event_types and self.unattended_event in self.event_types,
             "batched_event and unattended_event must be event types"),
            (len(self.milestones) == len(self.milestone_due) == 4, "exactly four milestones with due days"),
            (len(self.addon_products) == len(self.addon_price) and not set(self.addon_products) & set(PLANS),
             "one addon_price per addon_products name, none of them a base plan name"),
            (set(self.optional_tables) <= set(OPTIONAL_TABLES), f"optional_tables must be among {OPTIONAL_TABLES}"),
            (self.truth_frequency in ("monthly", "weekly"), "truth_frequency is monthly or weekly"),
            (self.truth_horizon_days > 0 and 0.0 <= self.anytime_share <= 1.0
             and 0.0 <= self.return_annual_share <= 1.0, "horizon > 0, shares in [0, 1]"),
            (self.new_share is None or 0.0 <= self.new_share < 1.0, "new_share in [0, 1)"),
            (-1.0 <= self.outreach_effect <= 0.0 and 0.0 < self.outreach_holdout_share < 1.0
             and 0.0 <= self.outreach_contact_share <= 1.0 and 0.0 <= self.outreach_holdout_leak <= 1.0
             and 0 <= self.outreach_delay_days[0] <= self.outreach_delay_days[1],
             "outreach_effect in [-1, 0] (a call saves), shares in [0, 1], delay days (low, high)"),
            (self.outreach_driver_effect is None or (len(self.outreach_driver_effect) == len(DRIVERS)
                                                     and all(-1.0 <= e <= 0.0 for e in self.outreach_driver_effect)),
             f"outreach_driver_effect: one relative effect in [-1, 0] per driver {DRIVERS}"),
            (0.0 <= self.outreach_backfire_share <= 1.0 and 0.0 <= self.outreach_backfire_loss <= 1.0,
             "outreach_backfire_share and outreach_backfire_loss in [0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"WorldParams: {message}")

    def to_dict(self) -> dict:
        """Return the parameters as a JSON-serialisable dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
