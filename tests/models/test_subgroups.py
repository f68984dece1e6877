"""Subgroup effects of an experiment, tested against the rest and corrected (models/subgroups.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from models.subgroups import (MISSING, adjust, as_frame, interaction_p, subgroup_effects, subgroup_verdict,
                              count_tests)


def arm_rows(level: str, arm: str, n: int, churned: int, **other) -> pd.DataFrame:
    return pd.DataFrame({"segment": level, "arm": arm, "churned": [1] * churned + [0] * (n - churned), **other})


def experiment(cells: dict[str, tuple[int, int, int, int]], **other) -> pd.DataFrame:
    """Rows per segment from (n_outreach, churned_outreach, n_holdout, churned_holdout)."""
    return pd.concat([pd.concat([arm_rows(s, "outreach", n_o, c_o, **other), arm_rows(s, "holdout", n_h, c_h, **other)])
                      for s, (n_o, c_o, n_h, c_h) in cells.items()], ignore_index=True)


def test_one_relative_effect_at_different_base_rates_is_not_heterogeneity():
    # 30 % fewer churners in both segments: 12 points at 40 %, 3 points at 10 %
    rows = experiment({"SMB": (2000, 560, 500, 200), "Enterprise": (2000, 140, 500, 50)})
    found = subgroup_effects(rows, ["segment"])
    assert len(found) == 2 and count_tests(found) == 1  # two levels: one test, each against the other
    smb = next(s for s in found if s.level == "SMB")
    assert smb.difference == pytest.approx(-0.12) and smb.reduction == pytest.approx(0.3)
    assert smb.rest_reduction == pytest.approx(0.3) and smb.p_interaction > 0.5 and not smb.significant
    low, high = smb.difference_ci
    assert low < -0.12 < high
    assert subgroup_verdict(found).startswith("no subgroup differs from the rest of the experiment after Holm's "
                                              "correction over 1 test")


def test_a_subgroup_whose_effect_differs_is_named_with_the_corrected_p_value():
    rows = experiment({"SMB": (1000, 400, 250, 100), "Mid": (1000, 120, 250, 100), "Ent": (1000, 120, 250, 100)})
    found = subgroup_effects(rows, ["segment"])
    smb = next(s for s in found if s.level == "SMB")
    assert smb.reduction == pytest.approx(0.0) and smb.rest_reduction == pytest.approx(0.7)
    assert smb.significant and smb.p_adjusted >= smb.p_interaction
    verdict = subgroup_verdict(found)
    assert "differs from the rest" in verdict and "segment SMB" in verdict and "after Holm's correction" in verdict
    assert "works" not in verdict


def test_the_correction_can_take_away_an_uncorrected_finding():
    p = [0.01, 0.04, 0.03, 0.5, 0.6]
    holm, bh = adjust(p, "holm"), adjust(p, "bh")
    assert all(h >= raw for h, raw in zip(holm, p)) and holm[0] == pytest.approx(0.05)
    assert all(b >= raw for b, raw in zip(bh, p)) and all(b <= h for b, h in zip(bh, holm))


def test_a_small_subgroup_is_shown_but_not_tested():
    rows = experiment({"SMB": (500, 100, 100, 30), "Mid": (500, 100, 100, 30), "Tiny": (30, 3, 8, 1)})
    found = {s.level: s for s in subgroup_effects(rows, ["segment"], min_accounts=20)}
    assert not found["Tiny"].tested and "under 20 accounts" in found["Tiny"].note
    assert found["Tiny"].p_adjusted is None and found["Tiny"].difference is not None
    assert found["SMB"].tested and found["SMB"].p_interaction == found["Mid"].p_interaction  # Tiny left: SMB vs Mid


def test_missing_values_are_a_level_and_absent_dimensions_are_skipped():
    rows = experiment({"SMB": (300, 60, 100, 30), "Mid": (300, 60, 100, 30)})
    rows.loc[rows.index % 7 == 0, "segment"] = None
    found = subgroup_effects(rows, ["segment", "reason"])
    assert {s.level for s in found} == {"SMB", "Mid", MISSING} and {s.dimension for s in found} == {"segment"}
    frame = as_frame(found)
    assert {"difference_low", "reduction_high", "p_adjusted"} <= set(frame.columns)


def test_nothing_testable_says_so():
    rows = experiment({"SMB": (10, 1, 5, 1)})
    assert subgroup_verdict(subgroup_effects(rows, ["segment"])).startswith("no subgroup could be tested")


def test_the_interaction_test_is_symmetric_and_survives_empty_churn():
    a, b = (100, 500, 40, 100), (10, 500, 40, 100)
    assert interaction_p(a, b) == pytest.approx(interaction_p(b, a))
    assert 0 <= interaction_p((0, 50, 0, 20), (5, 500, 3, 100)) <= 1
