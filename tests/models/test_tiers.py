"""Tests of ``models/tiers.py``: the three tier rules."""

from __future__ import annotations

import numpy as np
import pytest

from models.tiers import TierRule
from pipeline.config import load_config
from models.errors import ConfigError


def test_relative_rule_gives_a_high_tier_at_a_low_churn_rate():
    # 2 % churn: no account reaches a fixed 30 % threshold, but the riskiest are 4x the base rate
    rng = np.random.default_rng(0)
    p = np.clip(rng.gamma(2.0, 0.01, 1000), 0, 1)
    fixed, _ = TierRule("probability", 0.30, 0.10).assign(p, np.arange(1, 1001), 0.02)
    relative, text = TierRule("relative", 3.0, 1.5).assign(p, np.arange(1, 1001), 0.02)
    assert (fixed == "high").sum() == 0
    assert 0 < (relative == "high").sum() < (relative == "medium").sum()
    assert ((relative == "high") == (p >= 0.06)).all()
    assert "3× the training base rate 2.0%" in text


def test_relative_rule_without_a_recorded_base_rate_uses_todays_mean_and_says_so():
    p = np.array([0.1, 0.1, 0.1, 0.7])
    made, text = TierRule("relative", 2.0, 1.5).assign(p, np.array([2, 3, 4, 1]), None)
    assert made.tolist() == ["low", "low", "low", "high"]
    assert "the mean probability today 25.0%" in text


def test_top_rule_follows_the_rank_not_the_probability():
    p = np.array([0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02, 0.01])
    rank = np.arange(1, 11)
    made, text = TierRule("top", 0.1, 0.3).assign(p, rank, 0.2)
    assert made.tolist() == ["high", "medium", "medium"] + ["low"] * 7
    assert text == "tiers by capacity: high = the top 10% of accounts (1), medium = the next, down to 30% (2)"


def test_config_keeps_old_thresholds_and_checks_each_rule():
    assert load_config(None).scoring.tiers.rule == "relative"
    old = load_config(None, {"scoring.tiers": {"high": 0.4, "medium": 0.2}}).scoring.tiers
    assert (old.rule, old.high, old.medium) == ("probability", 0.4, 0.2)
    top = load_config(None, {"scoring.tiers": {"rule": "top"}}).scoring.tiers
    assert (top.high, top.medium) == (0.05, 0.20)
    with pytest.raises(ConfigError, match="shares below 1"):
        load_config(None, {"scoring.tiers": {"rule": "top", "high": 5, "medium": 10}})
    with pytest.raises(ConfigError, match="must be above the high share"):
        load_config(None, {"scoring.tiers": {"rule": "top", "high": 0.2, "medium": 0.1}})
