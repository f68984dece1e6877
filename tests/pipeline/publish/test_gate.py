"""The promotion gate: promoted only past both margins, and the reason says which comparison failed."""

from __future__ import annotations

from pipeline.publish import gate

def champ(auc, new=0.80, version="1", how="same rows"):
    return gate.ChampionScore(version, auc, new, how)


def test_gate_needs_both_margins():
    ok = gate.decide(0.80, 0.70, champ(0.78), min_gain_vs_health=0.05, min_gain_vs_champion=0.0)
    assert ok.promote and ok.alias == "champion" and "champion v1" in ok.reason
    weak = gate.decide(0.73, 0.70, None, min_gain_vs_health=0.05, min_gain_vs_champion=0.0)
    assert not weak.promote and weak.alias == "challenger" and "health score" in weak.reason
    tie = gate.decide(0.80, 0.70, champ(0.80), min_gain_vs_health=0.05, min_gain_vs_champion=0.0)
    assert not tie.promote and "champion v1" in tie.reason and "health" not in tie.reason
    unusable = gate.decide(0.80, 0.70, champ(None, how="cannot score"), 0.05, 0.0)
    assert unusable.promote and "no comparable champion: cannot score" in unusable.reason


def test_an_unvalidated_model_is_promoted_only_when_asked():
    assert not gate.unvalidated_decision(False).promote
    assert gate.unvalidated_decision(True).alias == "champion"
