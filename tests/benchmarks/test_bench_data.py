"""The rows the scoring benchmarks score hold the day's feature columns, laid out as ``churn score``'s own."""

from __future__ import annotations

import warnings

import pandas as pd

from benchmarks.bench_data import SCORED_ACCOUNTS, bench_config, panel_file, panel_table, score_frame
from models.uplift_baseline import BASE_RISK


def test_scored_rows_hold_the_days_columns_and_are_not_fragmented(world_copy):
    cfg = bench_config(world_copy)
    panel = panel_table(cfg)
    panel.frame.to_parquet(panel_file(world_copy), index=False)

    table, end = score_frame(cfg, lambda: panel.vocabulary.to_dict())

    frame = table.frame
    assert len(frame) == SCORED_ACCOUNTS and frame["account_id"].is_unique
    assert set(frame["as_of"]) == {end}
    assert set(table.feature_names) <= set(frame.columns)
    # a frame typed column by column holds a block per column: adding one column to it makes pandas warn
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        frame.copy(deep=False)[BASE_RISK] = 0.5  # as `scored_rows` adds it
