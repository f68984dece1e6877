from datetime import date, timedelta

import numpy as np
import pandas as pd

from models import association


def panel_with(attribute_effect: float, seed: int = 3, accounts: int = 1500) -> pd.DataFrame:
    """Five monthly snapshots of the same accounts; ``state`` raises churn by ``attribute_effect`` (log-odds)."""
    rng = np.random.default_rng(seed)
    state = rng.integers(0, 50, accounts)
    noise = np.where(rng.random(accounts) < 0.11, None, rng.integers(0, 50, accounts).astype(str))
    rows = []
    for k in range(5):
        logit = -3.5 + attribute_effect * (state < 10)
        rows.append(pd.DataFrame({"account_id": np.arange(accounts).astype(str),
                                  "as_of": date(2024, 1, 1) + timedelta(days=30 * k),
                                  "state": state.astype(str), "noise": noise,
                                  "churned": rng.random(accounts) < 1 / (1 + np.exp(-logit))}))
    return pd.concat(rows, ignore_index=True)


def test_one_row_per_account_with_its_last_level_and_rare_levels_pooled():
    panel = pd.DataFrame({"account_id": ["a", "a", "b"] + [f"c{i}" for i in range(5)],
                          "as_of": [date(2024, 2, 1), date(2024, 1, 1), date(2024, 1, 1)] + [date(2024, 1, 1)] * 5,
                          "tier": ["late", "early", None] + ["common"] * 5,
                          "churned": [False, True, False] + [False] * 5})
    found = association.account_levels(panel, "tier")
    assert len(found) == 7
    assert bool(found.loc["a", "churned"])  # churned at some snapshot
    assert found.loc["a", "level"] == "__rare__" and found.loc["b", "level"] == "__rare__"  # 1 account each
    assert (found.drop(index=["a", "b"])["level"] == "common").all()


def test_a_real_attribute_is_told_apart_from_noise():
    panel = panel_with(attribute_effect=1.0)
    assert association.permutation_pvalue(panel, "state", permutations=499) <= 0.004
    assert association.permutation_pvalue(panel, "noise", permutations=499) > 0.01


def test_under_no_association_the_pvalue_is_roughly_uniform():
    found = [association.permutation_pvalue(panel_with(0.0, seed=s, accounts=600), "state", permutations=99)
             for s in range(40)]
    assert 0.2 < np.mean(found) < 0.8
    assert np.mean(np.asarray(found) < 0.05) <= 0.15


def test_nothing_to_test_gives_one():
    panel = panel_with(0.0).assign(churned=False)
    assert association.permutation_pvalue(panel, "state") == 1.0
    assert association.permutation_pvalue(panel_with(0.0).assign(state="x"), "state") == 1.0
