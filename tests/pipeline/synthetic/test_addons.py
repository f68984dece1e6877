"""Tests mirroring ``pipeline/synthetic/addons.py``: add-on lines drawn beside the base rows."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.synthetic.addons import add_lines
from pipeline.synthetic.params import WorldParams

DAYS = 100


def rows(starts):
    """One running base row per account, starting on the given days."""
    n = len(starts)
    return {"acc": np.arange(n, dtype=np.int64), "start": np.asarray(starts, dtype=np.int64),
            "end": np.full(n, -1, dtype=np.int64), "mrr": np.full(n, 100.0), "plan": np.zeros(n, dtype=np.int64),
            "term": np.zeros(n, dtype=np.int64), "natural_end": np.full(n, -1, dtype=np.int64),
            "running": np.ones(n, dtype=bool)}


@pytest.mark.parametrize("early", [0.0, 1.0])
def test_accounts_starting_at_the_end_of_the_data_get_no_line_after_it(early):
    """An account whose first line starts on the data's last day has no later day to draw an add-on's start from
    (the zoo's 4,000-account addons world failed with "low >= high"); an early start past the end writes nothing."""
    p = WorldParams(addon_products=("Meetings",), addon_price=(0.3,), addon_share=1.0, addon_early_share=early,
                    addon_drop_share=1.0)
    out = add_lines(rows([10, DAYS - 1, DAYS]), p, np.random.default_rng(0), DAYS, first_plan=5)
    addon = out["plan"] == 5
    assert (out["start"][addon] <= DAYS).all()
    assert set(out["acc"][addon]) <= {0, 1}
    assert 0 in set(out["acc"][addon])
