"""Does outreach work differently in a subgroup? Effects by segment, tier and first reason, without I/O.

For each subgroup (a level of a dimension such as ``segment``) :func:`subgroup_effects` gives
the effect of outreach inside it (difference of churn rates and relative reduction, each with
its interval, :func:`models.experiments.rate_intervals`) and tests whether that effect
**differs from the rest of the experiment**: never whether it is non-zero, since under one
real effect for everybody every large enough subgroup shows one.

The test compares relative effects: the log of the subgroup's rate ratio (outreach / holdout)
minus the rest's, over the square root of the sum of their variances (Katz's variance of a
log rate ratio, 0.5 added to every cell so that an arm without churn still has one), read on
the normal distribution. The relative scale is the one on which "the same effect" is the same
number: a call that keeps 30 % of the would-be churners lowers a 40 % churn rate by 12 points
and a 10 % one by 3; a test of the differences of points would call that heterogeneity.

A dimension split into exactly two tested levels is one test (each level against the other),
counted once. The p-values of all tests are corrected for multiple comparisons, Holm's
step-down (the default: it bounds the chance of *any* false "differs" at ``alpha`` under any
dependence between the tests; levels of one dimension are dependent) or Benjamini–Hochberg
(``bh``: bounds the expected share of false findings among those reported; more findings when
several subgroups truly differ, and no stronger guarantee than Holm's when none does).
:func:`subgroup_verdict` says the result in words and never names a subgroup from an
uncorrected p-value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from models.experiments import HOLDOUT, OUTREACH, p_text, rate_intervals

#: ``subgroup_correction`` values and how the output names them.
CORRECTIONS = {"holm": "Holm's", "bh": "Benjamini–Hochberg"}
_METHODS = {"holm": "holm", "bh": "fdr_bh"}
#: How a row without a value of a dimension is labelled.
MISSING = "(none)"


@dataclass
class Subgroup:
    """The effect of outreach in one subgroup and whether it differs from the rest's.

    ``reduction`` and ``rest_reduction`` are 1 − rate ratio (outreach / holdout) in the subgroup and in
    the rest of the experiment; ``p_interaction`` the test that they differ, ``p_adjusted`` after the
    correction over every test. ``tested`` is false (and ``note`` says why) for a subgroup too small.
    """

    dimension: str
    level: str
    n_outreach: int
    n_holdout: int
    churned_outreach: int
    churned_holdout: int
    rate_outreach: float | None = None
    rate_holdout: float | None = None
    difference: float | None = None
    difference_ci: tuple | None = None
    reduction: float | None = None
    reduction_ci: tuple | None = None
    rest_reduction: float | None = None
    p_interaction: float | None = None
    p_adjusted: float | None = None
    significant: bool = False
    tested: bool = False
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _counts(rows: pd.DataFrame) -> tuple[int, int, int, int]:
    o, h = rows["arm"] == OUTREACH, rows["arm"] == HOLDOUT
    return int(rows.loc[o, "churned"].sum()), int(o.sum()), int(rows.loc[h, "churned"].sum()), int(h.sum())


def log_ratio(c_o: int, n_o: int, c_h: int, n_h: int) -> tuple[float, float]:
    """Log rate ratio (outreach / holdout) and Katz's variance, 0.5 added to every cell."""
    a, b = c_o + 0.5, c_h + 0.5
    return (math.log(a / (n_o + 1.0)) - math.log(b / (n_h + 1.0)),
            1 / a - 1 / (n_o + 1.0) + 1 / b - 1 / (n_h + 1.0))


def interaction_p(inside: tuple[int, int, int, int], rest: tuple[int, int, int, int]) -> float:
    """Two-sided p-value that the rate ratio inside differs from the rest's (``(c_o, n_o, c_h, n_h)`` each)."""
    from scipy.stats import norm

    (li, vi), (lr, vr) = log_ratio(*inside), log_ratio(*rest)
    return float(2 * norm.sf(abs(li - lr) / math.sqrt(vi + vr)))


def _one(dimension: str, level: str, inside: pd.DataFrame, rest: pd.DataFrame, alpha: float,
         min_accounts: int) -> Subgroup:
    c_o, n_o, c_h, n_h = counts = _counts(inside)
    out = Subgroup(dimension, level, n_o, n_h, c_o, c_h)
    if n_o == 0 or n_h == 0:
        out.note = "an arm has no account"
        return out
    out.rate_outreach, out.rate_holdout, out.difference = c_o / n_o, c_h / n_h, c_o / n_o - c_h / n_h
    out.difference_ci, out.reduction, out.reduction_ci, _ = rate_intervals(c_o, n_o, c_h, n_h, alpha)
    others = _counts(rest)
    if others[2]:
        out.rest_reduction = 1.0 - (others[0] / others[1]) / (others[2] / others[3]) if others[1] else None
    if min(n_o, n_h, others[1], others[3]) < min_accounts:
        out.note = f"not tested: under {min_accounts} accounts in an arm of the subgroup or of the rest"
        return out
    out.p_interaction, out.tested = interaction_p(counts, others), True
    return out


def adjust(p_values: list[float], correction: str = "holm") -> list[float]:
    """Adjusted p-values (``holm`` or ``bh``), in input order (:func:`statsmodels.stats.multitest.multipletests`)."""
    if not p_values:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(v) for v in multipletests(p_values, method=_METHODS[correction])[1]]


def subgroup_effects(outcomes: pd.DataFrame, dimensions: list[str], alpha: float = 0.05,
                     correction: str = "holm", min_accounts: int = 20) -> list[Subgroup]:
    """The effect in every level of every dimension, tested against the rest, corrected over all tests.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        One row per account with a closed outcome window: ``arm``, ``churned`` (0/1) and a column per dimension.
    dimensions : list of str
        Columns to split by (those absent are skipped); a null value is the level :data:`MISSING`.
    alpha : float
        Level of the intervals and of the corrected tests.
    correction : {"holm", "bh"}
    min_accounts : int
        Accounts the subgroup and the rest each need in each arm to be tested.
    """
    found: list[Subgroup] = []
    family: list[tuple[str, frozenset]] = []  # one test per distinct split
    keys: list[int | None] = []
    for dimension in [d for d in dimensions if d in outcomes]:
        values = outcomes[dimension].astype(object).where(outcomes[dimension].notna(), MISSING).astype(str)
        levels = sorted(values.unique())
        for level in levels:
            inside = (values == level).to_numpy()
            sub = _one(dimension, level, outcomes[inside], outcomes[~inside], alpha, min_accounts)
            found.append(sub)
            split = (dimension, frozenset([level]) if len(levels) != 2 else frozenset(levels))
            if sub.tested and split not in family:
                family.append(split)
            keys.append(family.index(split) if sub.tested else None)
    first = {k: next(s.p_interaction for s, kk in zip(found, keys) if kk == k) for k in range(len(family))}
    adjusted = adjust([float(first[k]) for k in range(len(family))], correction)  # type: ignore[arg-type]
    for sub, key in zip(found, keys):
        if key is not None:
            sub.p_adjusted = adjusted[key]
            sub.significant = sub.p_adjusted < alpha
    return found


def count_tests(subgroups: list[Subgroup]) -> int:
    """How many distinct tests the correction was over (a two-level split counts once)."""
    return len({(s.dimension, s.p_interaction) for s in subgroups if s.tested})


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.0f}%"


def subgroup_verdict(subgroups: list[Subgroup], correction: str = "holm", alpha: float = 0.05) -> str:
    """One sentence: which subgroups' effect differs from the rest after the correction, or that none does."""
    n = count_tests(subgroups)
    if n == 0:
        return "no subgroup could be tested: too few accounts in each arm of every subgroup"
    how = f"{CORRECTIONS[correction]} correction over {n} test{'s' if n > 1 else ''}"
    hits = [s for s in subgroups if s.significant]
    if not hits:
        return (f"no subgroup differs from the rest of the experiment after {how} (level {alpha:g}): read the "
                "overall effect, not a subgroup's")
    parts = [f"{s.dimension} {s.level} (relative reduction {_pct(s.reduction)} vs {_pct(s.rest_reduction)} in the "
             f"rest; p = {p_text(s.p_interaction, alpha)}, {p_text(s.p_adjusted, alpha)} after correction)"
             for s in hits]
    return f"the effect of outreach differs from the rest of the experiment, after {how}, in: " + "; ".join(parts)


def significant_dimensions(subgroups: list[Subgroup]) -> list[str]:
    """Dimensions with at least one subgroup that differs after the correction (benchmarks read this)."""
    return sorted({s.dimension for s in subgroups if s.significant})


def as_frame(subgroups: list[Subgroup]) -> pd.DataFrame:
    """One row per subgroup (intervals as ``_low``/``_high`` columns)."""
    rows = []
    for s in subgroups:
        d = s.to_dict()
        for name in ("difference_ci", "reduction_ci"):
            low, high = d.pop(name) or (None, None)
            d[name.replace("_ci", "_low")], d[name.replace("_ci", "_high")] = low, high
        rows.append(d)
    return pd.DataFrame(rows).replace({np.nan: None})
