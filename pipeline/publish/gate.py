"""The promotion gate: a new model version becomes the champion only when it beats the baselines.

Pure decisions from ROC-AUCs measured elsewhere (:mod:`pipeline.publish.registry` measures
them and moves the aliases); aliases, never stages.
"""

from __future__ import annotations

from dataclasses import dataclass

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass
class Decision:
    """Outcome of the promotion gate."""

    promote: bool
    reason: str
    new_auc: float
    health_auc: float
    champion_auc: float | None = None
    champion_version: str | None = None

    @property
    def alias(self) -> str:
        return CHAMPION if self.promote else CHALLENGER


@dataclass
class ChampionScore:
    """The current champion's ROC-AUC next to the new model's, on the same rows."""

    version: str
    champion_auc: float | None
    new_auc: float | None
    how: str


@dataclass
class Check:
    """One comparison of the gate: the new model's ROC-AUC against another's, with a margin."""

    against: str
    new: float
    old: float
    margin: float
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.new - self.old > self.margin

    def describe(self) -> str:
        return (f"ROC-AUC {self.new:.4f} vs {self.against} {self.old:.4f}: {self.new - self.old:+.4f}, "
                f"needs > {self.margin:+.4f}" + (f" ({self.note})" if self.note else ""))


def decide(new_auc: float, health_auc: float, champion: ChampionScore | None,
           min_gain_vs_health: float, min_gain_vs_champion: float) -> Decision:
    """Promote only when the new model beats the health score and the champion by more than the margins.

    The reason lists the failed comparisons (all of them when it is promoted).
    """
    checks = [Check("the health score", new_auc, health_auc, min_gain_vs_health)]
    if champion is not None and champion.champion_auc is not None and champion.new_auc is not None:
        checks.append(Check(f"champion v{champion.version}", champion.new_auc, champion.champion_auc,
                            min_gain_vs_champion, champion.how))
    failed = [c for c in checks if not c.passed]
    reason = "; ".join(c.describe() for c in failed or checks)
    if champion is None:
        reason += "; no champion yet"
    elif champion.champion_auc is None:
        reason += f"; no comparable champion: {champion.how}"
    return Decision(
        promote=not failed, reason=("not promoted: " if failed else "promoted: ") + reason,
        new_auc=new_auc, health_auc=health_auc,
        champion_auc=champion.champion_auc if champion else None,
        champion_version=champion.version if champion else None,
    )



def unvalidated_decision(promote: bool) -> Decision:
    """No out-of-time test: nothing to gate on, so only the user's ``--promote`` promotes."""
    why = "unvalidated: no out-of-time test block fits the history"
    return Decision(promote, ("promoted with --promote: " if promote else "not promoted (use --promote): ") + why,
                    float("nan"), float("nan"))
