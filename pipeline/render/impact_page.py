"""How ``churn impact`` shows its findings: the terminal table, the HTML page and its plot.

The page is the autoescaped template ``pipeline/render/templates/impact.html``; the plot
(cumulative churn by arm over the days since assignment) is embedded in the
page as a PNG, which :mod:`pipeline.steps.impact` also writes beside it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from models.experiments import HOLDOUT, OUTREACH, POWER, Comparison, p_text
from models.subgroups import CORRECTIONS, Subgroup
from pipeline.config import Experiment
from pipeline.render.jinja import environment

TEMPLATE = "impact.html"
COLOURS = {OUTREACH: "#1f77b4", HOLDOUT: "#d62728"}


@dataclass
class Impact:
    """What ``churn impact`` found for one experiment on one date.

    Attributes
    ----------
    experiment : pipeline.config.Experiment
    as_of : date
        Outcomes known on this date (windows that closed before it count).
    assigned : pandas.DataFrame
        Every assignment made before ``as_of``.
    outcomes : pandas.DataFrame
        The assignments whose window closed: ``churned``, ``days_to_churn`` added.
    results : dict of str to models.experiments.Comparison
        ``all``, then one per tier.
    curve : pandas.DataFrame
        Cumulative churn per arm by day since assignment.
    compliance : dict or None
        Contacts read from ``cs_activities`` (``None`` when the source has no such table).
    horizon, grace : int
    subgroups : list of models.subgroups.Subgroup
        The effect per segment, tier and first reason, each tested against the rest.
    subgroup_verdict : str or None
        What the subgroup tests found, in words (:func:`models.subgroups.subgroup_verdict`).
    files : list of Path
        What was written (HTML page, PNG plot).
    notes : list of str
        What the run replaced in ``churn_experiment_results`` (:func:`pipeline.io.experiment_tables.replaced_lines`).
    """

    experiment: Experiment
    as_of: date
    assigned: pd.DataFrame
    outcomes: pd.DataFrame
    results: dict[str, Comparison]
    curve: pd.DataFrame
    compliance: dict | None
    horizon: int
    grace: int
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    subgroups: list[Subgroup] = field(default_factory=list)
    subgroup_verdict: str | None = None


def _pct(v, digits: int = 1) -> str:
    return "n/a" if v is None else f"{100 * v:.{digits}f}%"


def _points(v) -> str:
    return "n/a" if v is None else f"{100 * v:+.1f}"


def _interval(ci, fmt) -> str:
    return "" if ci is None else f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def _money(v) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def scope_label(scope: str) -> str:
    return "all" if scope == "all" else f"tier {scope}"


def cells(scope: str, c: Comparison) -> dict:
    """The display texts of one scope's comparison (terminal and HTML)."""
    level = f"{100 * (1 - c.alpha):.0f}%"
    return {
        "scope": scope_label(scope),
        "outreach": f"{c.n_outreach:,} · {c.churned_outreach:,} churned · {_pct(c.rate_outreach)}",
        "holdout": f"{c.n_holdout:,} · {c.churned_holdout:,} churned · {_pct(c.rate_holdout)}",
        "difference": f"{_points(c.difference)} pts {_interval(c.difference_ci, _points)}".strip(),
        "reduction": f"{_pct(c.reduction, 0)} {_interval(c.reduction_ci, lambda v: _pct(v, 0))}".strip(),
        "p": p_text(c.p_value, c.alpha),
        "p_holm": "—" if scope == "all" else p_text(c.p_holm, c.alpha),
        "mde": "n/a" if c.mde_points is None else f"{100 * c.mde_points:.1f} pts ({_pct(c.mde_reduction, 0)})",
        "mrr": f"{_money(c.mrr_retained_per_100)} {_interval(c.mrr_retained_ci, _money)}".strip(),
        "verdict": c.verdict, "level": level, "significant": c.significant,
    }


HEADERS = {"scope": "scope", "outreach": "outreach: n · churned · rate", "holdout": "holdout: n · churned · rate",
           "difference": "difference, pts [CI]", "reduction": "relative reduction [CI]", "p": "p",
           "p_holm": "p (Holm)",
           "mde": f"detectable at {POWER:.0%} power", "mrr": "MRR kept per 100 contacted [CI]"}


SUBGROUP_HEADERS = {"subgroup": "subgroup", "outreach": "outreach: n · churned · rate",
                    "holdout": "holdout: n · churned · rate", "difference": "difference, pts [CI]",
                    "reduction": "relative reduction [CI]", "rest": "rest: reduction", "p": "p (differs from rest)",
                    "p_adjusted": "p (corrected)", "differs": "differs from rest"}


def subgroup_cells(s: Subgroup, alpha: float) -> dict:
    """The display texts of one subgroup (terminal and HTML)."""
    rate = {OUTREACH: s.rate_outreach, HOLDOUT: s.rate_holdout}
    return {
        "subgroup": f"{s.dimension} {s.level}",
        "outreach": f"{s.n_outreach:,} · {s.churned_outreach:,} churned · {_pct(rate[OUTREACH])}",
        "holdout": f"{s.n_holdout:,} · {s.churned_holdout:,} churned · {_pct(rate[HOLDOUT])}",
        "difference": f"{_points(s.difference)} pts {_interval(s.difference_ci, _points)}".strip(),
        "reduction": f"{_pct(s.reduction, 0)} {_interval(s.reduction_ci, lambda v: _pct(v, 0))}".strip(),
        "rest": _pct(s.rest_reduction, 0), "p": p_text(s.p_interaction, alpha),
        "p_adjusted": p_text(s.p_adjusted, alpha),
        "differs": ("yes" if s.significant else "no") if s.tested else s.note,
    }


def subgroup_note(result: Impact) -> str | None:
    """How to read the subgroup rows (``None`` without any)."""
    if not result.subgroups:
        return None
    spec = result.experiment
    return (f"Subgroups: each row's effect is tested against the rest of the experiment (does its relative reduction "
            f"differ?), not against zero; p (corrected): {CORRECTIONS[spec.subgroup_correction]} correction over "
            f"every subgroup test (experiments[].subgroup_correction). Only a corrected p below {spec.alpha:g} says a "
            "subgroup differs.")


def _population(spec: Experiment) -> str:
    parts = []
    if spec.tiers:
        parts.append("tiers " + ", ".join(spec.tiers))
    if spec.threshold is not None:
        parts.append(f"probability >= {spec.threshold:.0%}")
    if spec.segments:
        parts.append("segments " + ", ".join(spec.segments))
    return " and ".join(parts)


def header_lines(result: Impact) -> list[str]:
    """Title, design and counts: what was compared."""
    spec, a, o = result.experiment, result.assigned, result.outcomes
    held = int((a["arm"] == HOLDOUT).sum())
    period = f"from {spec.start}" + (f" to {spec.end}" if spec.end else "")
    return [
        f"Experiment {spec.name}: outcomes known on {result.as_of}",
        f"population: {_population(spec)}; holdout {spec.holdout_share:.0%}; {period}",
        f"assigned: {len(a):,} accounts ({len(a) - held:,} outreach, {held:,} holdout); outcome window "
        f"({result.horizon} days + {result.grace} days' grace) closed for {len(o):,}",
        f"outcome: churn within {result.horizon} days of assignment (the pipeline's label); "
        f"intervals {cells('all', result.results['all'])['level']}",
    ]


def compliance_line(result: Impact) -> str | None:
    c = result.compliance
    if c is None:
        return None
    share = f" ({c['contacted_outreach'] / c['n_outreach']:.0%})" if c["n_outreach"] else ""
    return (f"compliance (cs_activities): {c['contacted_outreach']:,} of {c['n_outreach']:,} outreach accounts"
            f"{share} contacted within {result.horizon} days of assignment; {c['contacted_holdout']:,} of "
            f"{c['n_holdout']:,} holdout accounts contacted against the rule")


def to_text(result: Impact) -> str:
    """The terminal output: design, one line per scope (all, each tier), compliance, the verdict."""
    rows = [cells(scope, c) for scope, c in result.results.items()]
    keys = list(HEADERS)
    table = [[HEADERS[k] for k in keys], *[[r[k] for k in keys] for r in rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(keys))]
    lines = [*header_lines(result), ""]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in table]
    lines.append("")
    for extra in (tier_note(result), compliance_line(result)):
        if extra:
            lines += [extra, ""]
    lines += subgroup_lines(result)
    lines += result.notes
    lines.append(f"verdict: {result.results['all'].verdict}")
    return "\n".join(lines) + "\n"


def subgroup_lines(result: Impact) -> list[str]:
    """The subgroup table, its note and verdict for the terminal (nothing without subgroups)."""
    if not result.subgroups:
        return []
    keys = list(SUBGROUP_HEADERS)
    table = [[SUBGROUP_HEADERS[k] for k in keys],
             *[[subgroup_cells(s, result.experiment.alpha)[k] for k in keys] for s in result.subgroups]]
    widths = [max(len(line[i]) for line in table) for i in range(len(keys))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in table]
    return [*lines, "", str(subgroup_note(result)), f"subgroups: {result.subgroup_verdict}", ""]


def tier_note(result: Impact) -> str | None:
    """How to read the tier rows' p-values (``None`` without tier rows)."""
    tiers = [c for scope, c in result.results.items() if scope != "all" and c.p_holm is not None]
    if not tiers:
        return None
    return (f"p (Holm): the {len(tiers)} tier rows are {len(tiers)} tests of one experiment, so their p-values are "
            "corrected for multiple comparisons (Holm); a tier's verdict follows the corrected value. The all row is "
            "the experiment's one pre-specified test and is not corrected.")


def plot(result: Impact) -> Figure:
    """Cumulative churn by arm over the days since assignment."""
    fig = Figure(figsize=(7, 4), dpi=110)
    ax = fig.add_subplot()
    counts = result.outcomes["arm"].value_counts()
    for arm in (OUTREACH, HOLDOUT):
        if counts.get(arm, 0):
            ax.step(result.curve["day"], 100 * result.curve[arm], where="post", color=COLOURS[arm], linewidth=2,
                    label=f"{arm} ({int(counts[arm]):,} accounts)")
    ax.set_xlabel("days since assignment")
    ax.set_ylabel("churned (%)")
    ax.set_xlim(0, result.horizon)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_title(f"{result.experiment.name}: cumulative churn by arm (outcomes known on {result.as_of})", fontsize=10)
    if len(counts):
        ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def page(result: Impact, png: bytes) -> str:
    """The HTML page, with the plot (:func:`plot`, as PNG bytes) embedded so the page also travels alone."""
    rows = [cells(scope, c) for scope, c in result.results.items()]
    return environment().get_template(TEMPLATE).render(
        title=f"Experiment {result.experiment.name}", header=header_lines(result), headers=HEADERS, rows=rows,
        compliance=compliance_line(result), verdict=result.results["all"].verdict, tier_note=tier_note(result),
        notes=result.notes, subgroup_headers=SUBGROUP_HEADERS,
        subgroups=[subgroup_cells(s, result.experiment.alpha) for s in result.subgroups],
        subgroup_note=subgroup_note(result), subgroup_verdict=result.subgroup_verdict,
        plot=base64.b64encode(png).decode("ascii"))
