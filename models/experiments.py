"""Outreach holdout experiments without I/O: stable assignment and the comparison of the arms.

An experiment keeps a random share of at-risk accounts off the CSMs' lists (the
``holdout`` arm); the others are contacted as usual (``outreach``). Both halves
of the design live here as pure functions:

* :func:`unit_draw` / :func:`arms` assign an account to an arm by a hash of
  ``"experiment:account"`` (SHA-256, the first 8 bytes read as a number in [0, 1)),
  so the arm of an account never depends on the run, the order of the rows, the
  engine or the machine;
* :func:`compare` estimates the effect of outreach on churn from the two arms'
  outcomes: churn rate per arm, the difference and the relative reduction with
  confidence intervals (Newcombe's score interval for the difference, the
  adjusted log interval for the ratio), a two-sided score test, MRR retained per
  100 accounts contacted (a permutation interval, :mod:`models.revenue_intervals`:
  churned MRR is skewed, and the normal interval missed zero too often on A/A re-draws,
  ``benchmarks/impact_stats.md``), and the minimum detectable effect at the arms' sizes (normal power with Cohen's h).
  When the test does not reject, the verdict says there is not enough evidence yet,
  never that outreach works;
* :func:`by_tier` adds Holm's correction to the tier rows' p-values;
* :func:`p_text` writes every p-value the same way, never rounded onto the level.
"""

from __future__ import annotations

import hashlib
from typing import Any
import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from models.revenue_intervals import RESAMPLES, lost_mrr, mrr_interval_permutation

OUTREACH, HOLDOUT = "outreach", "holdout"
#: The conventional 80 % power of the minimum detectable effect.
POWER = 0.8


def unit_draw(experiment: str, account_id: str) -> float:
    """A number in [0, 1) fixed by ``experiment`` and ``account_id`` alone (SHA-256 of ``"experiment:account"``)."""
    digest = hashlib.sha256(f"{experiment}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def arms(experiment: str, account_ids, holdout_share: float) -> np.ndarray:
    """``holdout`` where the account's :func:`unit_draw` is below ``holdout_share``, else ``outreach``."""
    draws = np.fromiter((unit_draw(experiment, str(a)) for a in account_ids), dtype="float64")
    return np.where(draws < holdout_share, HOLDOUT, OUTREACH)


def in_population(scores: pd.DataFrame, tiers: list[str] | None = None, threshold: float | None = None,
                  segments: list[str] | None = None) -> np.ndarray:
    """Which score rows belong to an experiment's population.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``risk_tier``, ``churn_probability`` and ``segment`` of each scored account.
    tiers : list of str, optional
        Risk tiers that enter (e.g. ``["high", "medium"]``).
    threshold : float, optional
        Or: a probability at or above which an account enters.
    segments : list of str, optional
        Only these segments (case-insensitive); ``None`` = every segment.
    """
    mask = np.ones(len(scores), dtype=bool)
    if tiers is not None:
        mask &= scores["risk_tier"].isin(tiers).to_numpy()
    if threshold is not None:
        mask &= (scores["churn_probability"] >= threshold).to_numpy()
    if segments is not None:
        wanted = {s.lower() for s in segments}
        mask &= scores["segment"].fillna("").str.lower().isin(wanted).to_numpy()
    return mask


def assignments(scores: pd.DataFrame, experiment: str, holdout_share: float, already: set,
                **population) -> pd.DataFrame:
    """The accounts of ``scores`` entering ``experiment`` now, with their arm.

    Parameters
    ----------
    scores : pandas.DataFrame
        One as-of date's ``churn_scores`` rows (``as_of_date``, ``account_id``, ``churn_probability``,
        ``risk_tier``, ``mrr``, ``segment``).
    experiment : str
    holdout_share : float
    already : set
        Accounts assigned on an earlier date: they keep that assignment.
    **population
        ``tiers``, ``threshold``, ``segments`` of :func:`in_population`.

    Returns
    -------
    pandas.DataFrame
        ``experiment``, ``account_id``, ``arm``, ``assigned_date``, ``probability``, ``tier``, ``mrr``,
        ``segment``, ``run_id``: one row per account entering, sorted by account.
    """
    used = [c for c in ("as_of_date", "account_id", "churn_probability", "risk_tier", "mrr", "segment", "run_id")
            if c in scores]  # not the rows' kilobytes of reasons, which a selection would copy
    rows = scores[used][in_population(scores, **population) & ~scores["account_id"].isin(already).to_numpy()]
    rows = rows.sort_values("account_id", kind="stable")
    return pd.DataFrame({
        "experiment": experiment, "account_id": rows["account_id"].astype(str).to_numpy(),
        "arm": arms(experiment, rows["account_id"], holdout_share),
        "assigned_date": rows["as_of_date"].to_numpy(), "probability": rows["churn_probability"].to_numpy(),
        "tier": rows["risk_tier"].to_numpy(), "mrr": rows["mrr"].to_numpy(dtype="float64"),
        "segment": rows["segment"].to_numpy(), "run_id": rows["run_id"].to_numpy() if "run_id" in rows else None,
    })


@dataclass
class Comparison:
    """The two arms compared (rates are shares; ``difference`` = outreach − holdout).

    ``reduction`` is the relative reduction of churn, 1 − outreach rate / holdout rate
    (0.3 = outreach accounts churned 30 % less). Intervals are ``(low, high)`` at
    ``1 - alpha``; ``None`` where an arm is empty. ``mde_points`` and ``mde_reduction``: the
    smallest reduction the arms' sizes detect with 80 % power at ``alpha`` (absolute and relative).
    ``p_holm``: on a tier row, the p-value after Holm's correction over the tiers compared; then
    ``significant`` is ``p_holm < alpha``.
    """

    n_outreach: int
    n_holdout: int
    churned_outreach: int
    churned_holdout: int
    rate_outreach: float | None
    rate_holdout: float | None
    difference: float | None
    difference_ci: tuple | None
    reduction: float | None
    reduction_ci: tuple | None
    p_value: float | None
    mde_points: float | None
    mde_reduction: float | None
    mrr_retained_per_100: float | None
    mrr_retained_ci: tuple | None
    significant: bool
    verdict: str
    alpha: float = 0.05
    #: Holm-corrected p-value over the tiers compared (tier rows only; ``None`` for ``all``).
    p_holm: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def compare(outreach: pd.DataFrame, holdout: pd.DataFrame, alpha: float = 0.05,
            resamples: int = RESAMPLES) -> Comparison:
    """Compare the churn of the two arms.

    Parameters
    ----------
    outreach, holdout : pandas.DataFrame
        One row per account whose outcome window has closed: ``churned`` (0/1) and ``mrr`` (at assignment).
    alpha : float
        1 − confidence of the intervals, and the test's level.
    resamples : int
        Re-drawn arms of the MRR interval (:func:`mrr_retained`).
    """
    n_o, n_h = len(outreach), len(holdout)
    c_o, c_h = int(outreach["churned"].sum()), int(holdout["churned"].sum())
    empty: dict[str, Any] = dict(rate_outreach=None, rate_holdout=None, difference=None, difference_ci=None, reduction=None,
                 reduction_ci=None, p_value=None, mde_points=None, mde_reduction=None, mrr_retained_per_100=None,
                 mrr_retained_ci=None, significant=False)
    if n_o == 0 or n_h == 0:
        return Comparison(n_o, n_h, c_o, c_h, **empty, alpha=alpha,
                          verdict="not enough evidence yet: no account of "
                                  f"{'either arm' if n_o == n_h == 0 else ('the outreach arm' if n_o == 0 else 'the holdout')}"
                                  " has a closed outcome window")
    r_o, r_h = c_o / n_o, c_h / n_h
    diff_ci, reduction, reduction_ci, p_value = rate_intervals(c_o, n_o, c_h, n_h, alpha)
    mde_points, mde_reduction = minimum_detectable_effect(r_h, n_o, n_h, alpha)
    retained, retained_ci = mrr_retained(outreach, holdout, alpha, resamples)
    significant = p_value < alpha
    result = Comparison(n_o, n_h, c_o, c_h, r_o, r_h, r_o - r_h, tuple(float(v) for v in diff_ci), reduction,
                        reduction_ci, p_value, mde_points, mde_reduction, retained, retained_ci, significant, "",
                        alpha)
    result.verdict = verdict(result)
    return result


def rate_intervals(c_o: int, n_o: int, c_h: int, n_h: int,
                   alpha: float = 0.05) -> tuple[tuple, float | None, tuple | None, float]:
    """The difference of two arms' churn rates and its interval, the relative reduction and its, the score test.

    Parameters
    ----------
    c_o, n_o, c_h, n_h : int
        Churned and accounts of the outreach arm and of the holdout (both arms non-empty).
    alpha : float

    Returns
    -------
    (difference_ci, reduction, reduction_ci, p_value)
        Newcombe's interval of outreach − holdout, 1 − rate ratio with the adjusted log interval
        (``None`` without churn), and the two-sided score test of equal rates (1 when nothing
        tells the arms apart).
    """
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        diff_ci = confint_proportions_2indep(c_o, n_o, c_h, n_h, method="newcomb", compare="diff", alpha=alpha)
        ratio_ci = confint_proportions_2indep(c_o, n_o, c_h, n_h, method="log-adjusted", compare="ratio", alpha=alpha)
        p_value = float(test_proportions_2indep(c_o, n_o, c_h, n_h, method="score", compare="diff",
                                                correction=False).pvalue)
    if math.isnan(p_value):  # no churn (or only churn) in both arms: nothing tells the arms apart
        p_value = 1.0
    reduction = None if c_h == 0 else 1.0 - (c_o / n_o) / (c_h / n_h)
    reduction_ci = tuple(_finite(1.0 - float(v)) for v in ratio_ci[::-1]) if c_h or c_o else None
    return tuple(float(v) for v in diff_ci), reduction, reduction_ci, p_value


def _finite(value: float) -> float | None:
    return None if not math.isfinite(value) else value


def minimum_detectable_effect(base_rate: float, n_outreach: int, n_holdout: int,
                              alpha: float = 0.05, power: float = POWER) -> tuple[float | None, float | None]:
    """The smallest drop of the churn rate below ``base_rate`` the arms' sizes detect.

    Cohen's h from :class:`statsmodels.stats.power.NormalIndPower` (two-sided,
    ``alpha``, ``power``), turned back into a churn rate below the holdout's.

    Returns
    -------
    (points, reduction)
        The drop as a difference of rates and relative to ``base_rate``; ``(None, None)`` when the
        holdout churn rate is 0 (no reduction is detectable) or an arm is empty.
    """
    if base_rate <= 0 or n_outreach == 0 or n_holdout == 0:
        return None, None
    from statsmodels.stats.power import NormalIndPower

    h = NormalIndPower().solve_power(effect_size=None, nobs1=n_outreach, alpha=alpha, power=power,
                                     ratio=n_holdout / n_outreach, alternative="two-sided")
    angle = math.asin(math.sqrt(base_rate)) - float(h) / 2
    lowered = math.sin(angle) ** 2 if angle > 0 else 0.0
    return base_rate - lowered, (base_rate - lowered) / base_rate


def mrr_retained(outreach: pd.DataFrame, holdout: pd.DataFrame, alpha: float = 0.05,
                 resamples: int = RESAMPLES) -> tuple[float, tuple]:
    """MRR kept per 100 accounts contacted: 100 × (churned MRR per holdout account − per outreach account).

    Each account counts its MRR at assignment if it churned, 0 otherwise. The interval is the
    permutation one (:func:`models.revenue_intervals.mrr_interval_permutation`): that revenue is skewed
    (most accounts 0, a few large ones decide), and on A/A re-draws the normal interval contained 0 in
    only 90.5–92.8 % of the draws, a BCa bootstrap in 84–93 %, the permutation interval in 96 %
    (``benchmarks/impact_stats.md``).
    """
    lost_o, lost_h = lost_mrr(outreach), lost_mrr(holdout)
    point = 100 * (lost_h.mean() - lost_o.mean())
    return float(point), mrr_interval_permutation(lost_o, lost_h, alpha, resamples)


def p_text(p: float | None, alpha: float = 0.05) -> str:
    """A p-value as every page, table and verdict writes it: two significant digits, more where needed.

    Digits are added until the text is not rounded onto ``alpha`` nor across it (0.0496 reads
    ``0.0496``, not ``0.05``); very small values read in scientific notation (``4.6e-06``).

    Examples
    --------
    >>> [p_text(v) for v in (0.054, 0.0496, 0.0504, 0.11, 0.0075, 4.6e-06, 1.0, None)]
    ['0.054', '0.0496', '0.0504', '0.11', '0.0075', '4.6e-06', '1', 'n/a']
    """
    if p is None:
        return "n/a"
    text = ""
    for digits in range(2, 17):
        text = f"{p:.{digits}g}"
        shown = float(text)
        if p == alpha or (shown != alpha and (shown < alpha) == (p < alpha)):
            break
    return text


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _p_part(c: Comparison) -> str:
    if c.p_holm is None:
        return f"p = {p_text(c.p_value, c.alpha)}"
    return f"p = {p_text(c.p_value, c.alpha)}, {p_text(c.p_holm, c.alpha)} after Holm's correction over the tiers"


def verdict(c: Comparison) -> str:
    """One sentence a CS leader can repeat: the effect if the evidence is there, else that it is not there yet."""
    level = f"{100 * (1 - c.alpha):.0f}%"
    if c.difference is None or c.p_value is None:
        return "not enough evidence yet: no difference could be measured"
    if not c.significant or c.difference_ci is None:
        detect = (f"; with these group sizes only a reduction of at least {_pct(c.mde_reduction)} "
                  f"({100 * c.mde_points:.1f} points) would be detected with {POWER:.0%} power"
                  if c.mde_points is not None else "")
        return (f"not enough evidence yet: the difference of {100 * c.difference:+.1f} points is within "
                f"chance ({_p_part(c)}){detect}")
    low, high = c.difference_ci
    if c.difference < 0:
        return (f"outreach reduced churn by {100 * -c.difference:.1f} points ({level} CI "
                f"{100 * -high:.1f} to {100 * -low:.1f}), a relative reduction of {_pct(c.reduction)} "
                f"({_p_part(c)})")
    p = c.p_holm if c.p_holm is not None else c.p_value
    odds = f"about 1 in {1 / p:,.0f}" if p > 0 else "very rarely"
    return (f"outreach accounts churned MORE, by {100 * c.difference:.1f} points ({level} CI {100 * low:.1f} to "
            f"{100 * high:.1f}; {_p_part(c)}): either chance (a difference at least this large, either way, comes up in "
            f"{odds} experiments where outreach does nothing) or the outreach itself: check what the CS team does")


def by_tier(outcomes: pd.DataFrame, alpha: float = 0.05, resamples: int = RESAMPLES) -> dict[str, Comparison]:
    """:func:`compare` over all rows (key ``all``), then within each tier at assignment (``tier`` column).

    The tier rows are several tests of one experiment: their p-values get Holm's correction over the
    tiers with a p-value (``p_holm``), and their significance and verdict follow the corrected value.
    The ``all`` row is the experiment's one pre-specified test and is not corrected.
    """
    out = {"all": compare(outcomes[outcomes["arm"] == OUTREACH], outcomes[outcomes["arm"] == HOLDOUT], alpha,
                          resamples)}
    for tier, part in sorted(outcomes.groupby("tier"), key=lambda kv: _tier_order(kv[0])):
        out[str(tier)] = compare(part[part["arm"] == OUTREACH], part[part["arm"] == HOLDOUT], alpha, resamples)
    tested = [c for key, c in out.items() if key != "all" and c.p_value is not None]
    for c, adjusted in zip(tested, holm([c.p_value for c in tested])):  # type: ignore[misc]
        c.p_holm, c.significant = adjusted, adjusted < alpha
        c.verdict = verdict(c)
    return out


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (:func:`statsmodels.stats.multitest.multipletests`), in input order."""
    if not p_values:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(v) for v in multipletests(p_values, method="holm")[1]]


def _tier_order(tier: str) -> int:
    order = ["high", "medium", "low"]
    return order.index(tier) if tier in order else len(order)


def cumulative_churn(outcomes: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Share of each arm churned by each day since assignment (0..``horizon``): the curve of the impact plot.

    ``outcomes`` needs ``arm`` and ``days_to_churn`` (days from assignment to churn, null when none).
    """
    days = np.arange(horizon + 1)
    curves = {}
    for arm in (OUTREACH, HOLDOUT):
        part = outcomes.loc[outcomes["arm"] == arm, "days_to_churn"].dropna().to_numpy(dtype="float64")
        n = int((outcomes["arm"] == arm).sum())
        curves[arm] = np.searchsorted(np.sort(part), days, side="right") / n if n else np.full(days.size, np.nan)
    return pd.DataFrame({"day": days, **curves})
