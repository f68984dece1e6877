"""Same data + config -> byte-identical feature table."""

from __future__ import annotations

import hashlib

from pipeline.config import load_config
from pipeline.featurize import build_features
from pipeline.labels import snapshot_dates
from pipeline.sources import open_source


def feature_bytes(world, path):
    cfg = load_config(None, {})
    with open_source(world) as source:
        table = build_features(source, cfg, snapshot_dates(source, cfg))
    table.frame.to_parquet(path, index=False)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_feature_table_is_byte_identical_across_runs(small_world, tmp_path):
    assert feature_bytes(small_world, tmp_path / "a.parquet") == feature_bytes(small_world, tmp_path / "b.parquet")
