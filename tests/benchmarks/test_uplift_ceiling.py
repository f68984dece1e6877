"""The world's ceiling of the uplift benchmark: the expected uplift given all but the bad-reaction coin."""
from dataclasses import replace

import numpy as np
import pandas as pd

from benchmarks.uplift import knowable_uplift
from pipeline.synthetic.params import WorldParams


def truth(p_no_call, driver_effect, backfire):
    return pd.DataFrame({"p_no_call": p_no_call, "driver_effect": driver_effect, "backfire": backfire})


def test_without_bad_reactions_the_ceiling_is_the_true_uplift():
    t = truth([0.1, 0.4, 0.8], [-0.8, -0.15, 0.0], [False] * 3)
    p = replace(WorldParams(), outreach_backfire_share=0.0)
    assert np.allclose(knowable_uplift(t, p), t["p_no_call"] * -t["driver_effect"])


def test_the_ceiling_is_the_mean_of_the_true_uplift_over_the_coin():
    p = replace(WorldParams(), outreach_backfire_share=0.1, outreach_backfire_loss=0.3)
    keep = 1 - p.return_prob * p.return_fast_share
    prob, effect = np.array([0.2, 0.6]), np.array([-0.8, -0.4])
    saved, lost = prob * -effect, -(1 - prob) * 0.3 * keep  # the two true uplifts the coin chooses between
    # the coin's outcome does not change it: both accounts get the same value, reacting badly or not
    for bad in ([False, True], [True, False]):
        assert np.allclose(knowable_uplift(truth(prob, effect, bad), p), 0.9 * saved + 0.1 * lost)
